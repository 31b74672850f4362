// Helpers shared by every wfnb view (prepended to each view's module by Python).
//
// A view describes what it shows with h() (HTML) or svg() (SVG) and hands the new tree to
// patch(parent, children). patch() keeps the nodes already on the page and changes only what
// differs (text, attributes, handlers), so a repaint never steals focus, never drops what a user
// is typing, and keeps scroll positions. Children with a `key` attribute are matched by it
// (rows, cards); others by position and tag. An input keeps its text unless the view set `value`
// through h() (a controlled input), and even then not while the user is typing in it.
function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.setAttribute("class", v);
    else if (k === "key") { if (v !== undefined && v !== null) el.setAttribute("data-key", String(v)); }
    else if (k === "value") { el.__value = v === null || v === undefined ? "" : String(v); el.value = el.__value; }
    else if (k.startsWith("on") && typeof v === "function") on(el, k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  if (el.__value !== undefined && "value" in el) el.value = el.__value;  // a <select>'s options are in now
  return el;
}

// one listener per event type, calling whatever handler the latest repaint gave
function on(el, type, fn) {
  el.__on = el.__on || {};
  if (!el.__bound) el.__bound = new Set();
  el.__on[type] = fn;
  if (!el.__bound.has(type)) {
    el.__bound.add(type);
    el.addEventListener(type, (e) => { const f = el.__on[type]; if (f) f(e); });
  }
}

function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function asNodes(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

const keyOf = (n) => (n.nodeType === 1 ? n.getAttribute("data-key") : null);
const sameKind = (a, b) => a.nodeType === b.nodeType && a.nodeName === b.nodeName &&
  (a.nodeType !== 1 || a.namespaceURI === b.namespaceURI);

// make parent's children look like `children`, reusing the nodes that are there
function patch(parent, ...children) {
  const next = asNodes(children);
  const keyed = new Map();
  for (const c of parent.childNodes) { const k = keyOf(c); if (k !== null) keyed.set(k, c); }
  let i = 0;
  for (const n of next) {
    const cur = parent.childNodes[i] || null;
    const k = keyOf(n);
    let match = null;
    if (k !== null) { const old = keyed.get(k); if (old && sameKind(old, n)) match = old; }
    else if (cur && keyOf(cur) === null && sameKind(cur, n)) match = cur;
    if (match === n) { if (match !== cur) parent.insertBefore(match, cur); }
    else if (match) { morph(match, n); if (match !== cur) parent.insertBefore(match, cur); }
    else parent.insertBefore(n, cur);
    i++;
  }
  while (parent.childNodes.length > i) parent.lastChild.remove();
}

function morph(old, n) {
  if (old.nodeType !== 1) { if (old.nodeValue !== n.nodeValue) old.nodeValue = n.nodeValue; return; }
  for (const a of [...old.attributes]) if (!n.hasAttribute(a.name)) old.removeAttribute(a.name);
  for (const a of n.attributes) if (old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
  for (const [type, fn] of Object.entries(n.__on || {})) on(old, type, fn);
  for (const type of Object.keys(old.__on || {})) if (!(n.__on && type in n.__on)) old.__on[type] = null;
  patch(old, [...n.childNodes]);
  const typing = old === document.activeElement || (old.getRootNode && old.getRootNode().activeElement === old);
  if (n.__value !== undefined) {
    if (!typing && old.value !== n.__value) old.value = n.__value;
    old.__value = n.__value;
  }
  if (old.type === "checkbox" || old.type === "radio") old.checked = n.hasAttribute("checked") || n.checked;
}

// fill(el, ...children): the old name; patches in place
function fill(el, ...children) { patch(el, ...children); }

function ago(iso) {
  if (!iso) return "";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// a running task or run counts up between events: it is drawn from its start (`since`, an ISO
// time) and a one-second ticker (startTicker) redraws every such figure in the view
function elapsed(seconds, since) {
  return since ? h("span", { class: "wfnb-elapsed", "data-since": since }, fmtSeconds(sinceNow(since)))
    : h("span", { class: "wfnb-duration" }, fmtSeconds(seconds));
}

const sinceNow = (iso) => Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);

function startTicker(root) {
  const timer = setInterval(() => {
    if (!root.isConnected) return;
    for (const el of root.querySelectorAll(".wfnb-elapsed[data-since]")) {
      const v = fmtSeconds(sinceNow(el.getAttribute("data-since")));
      if (el.textContent !== v) el.textContent = v;
    }
  }, 1000);
  return () => clearInterval(timer);
}

function statusBadge(status) {
  return h("span", { class: `wfnb-status wfnb-s-${String(status).replace(/ /g, "-")}` }, status);
}

// a confirmation inside the view (window.confirm is blocked in some front ends)
function confirmBox(question, yes, onYes, onNo) {
  return h("div", { class: "wfnb-confirm", role: "alertdialog", "aria-label": question },
    h("span", {}, question),
    h("button", { class: "wfnb-btn wfnb-danger wfnb-confirm-yes", onclick: onYes }, yes),
    h("button", { class: "wfnb-btn wfnb-confirm-no", onclick: onNo }, "Keep it"));
}

// a rerun's parent run, opened in Run Details (a tab in JupyterLab, the panel in a notebook)
function parentLink(model, runId) {
  return h("a", { class: "wfnb-parent", href: "#", title: `Run details of ${runId}`,
    onclick: (e) => { e.preventDefault(); model.send({ action: "details", run_id: runId }); } }, runId);
}
