// The workflow editor: the graph drawn in SVG, the selected node's settings (edited as a draft
// that Python checks and saves), Run Test / Test Run, the test session, and the test run's
// approvals decided in place. Repaints patch the page (common.js), so focus and typing survive.
const COMMON = ["description", "after", "retries", "retry_delay", "timeout"];
const BY_KIND = { python: ["call"], notebook: ["notebook", "parameters", "kernel"],
  code: ["code", "kernel"], approval: ["approvers", "on_timeout"] };
const PARAM_KEYS = ["required", "default", "description"];

function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-editor" });
  el.append(root);
  let draft = { workflow: {}, params: {}, steps: {} };
  let version = null, base = null, stale = false;  // base: the version the draft was made on

  const pending = () => Object.keys(draft.workflow).length +
    [...Object.values(draft.params), ...Object.values(draft.steps)].reduce((n, o) => n + Object.keys(o).length, 0);
  function value(section, name, key) {
    const bucket = draft[section][name] || {};
    if (key in bucket) return bucket[key];
    if (section === "steps") return (model.get("settings").steps[name] || {})[key];
    return ((model.get("settings").params.find((p) => p.name === name)) || {})[key];
  }
  function edit(section, name, key, v) {
    (draft[section][name] ||= {})[key] = v;
    draw();
  }
  function problemFor(field) {
    return model.get("problems").filter((p) => p.field === field || p.field.startsWith(field + "."));
  }
  function select(name) {
    model.set("selected", name);
    model.save_changes();
    draw();
  }

  function graph() {
    const g = model.get("graph"), test = model.get("test") || {}, sel = model.get("selected");
    const W = g.node_w, H = g.node_h, at = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
    let edges = g.edges.map(([a, b]) => ({ a, b, pending: false }));
    for (const [name, changes] of Object.entries(draft.steps)) {   // unsaved edges, dashed
      if (!("after" in changes)) continue;
      const after = changes.after.length ? changes.after : ["Start"];
      edges = edges.filter((e) => e.b !== name).concat(after.map((a) => ({ a, b: name, pending: true })));
    }
    const paths = edges.filter((e) => at[e.a] && at[e.b]).map(({ a, b, pending }) => {
      const x1 = at[a].x + W, y1 = at[a].y + H / 2, x2 = at[b].x, y2 = at[b].y + H / 2;
      const bend = Math.max(30, Math.abs(x2 - x1) / 2);
      // an edge that skips a column dips under the nodes between instead of crossing them
      const skips = at[b].x - at[a].x > g.x_gap, dip = Math.max(y1, y2) + H / 2 + 34;
      const d = skips ? `M ${x1} ${y1} C ${x1 + 50} ${dip}, ${x2 - 50} ${dip}, ${x2} ${y2}`
        : `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`;
      return svg("path", { class: `wfnb-edge${pending ? " wfnb-edge-pending" : ""}`, "data-from": a, "data-to": b,
        d, "marker-end": "url(#wfnb-arrow)" });
    });
    const nodes = g.nodes.map((n) => {
      const t = (test.tasks || {})[n.name];
      const status = t ? t.status : "";
      const bad = n.name !== "Start" && problemFor(`steps.${n.name}`).length;
      return svg("g", { class: `wfnb-node wfnb-kind-${n.kind}${sel === n.name ? " wfnb-selected" : ""}${status ? " wfnb-node-" + status.replace(/ /g, "-") : ""}${bad ? " wfnb-node-invalid" : ""}`,
        key: n.name, "data-step": n.name, tabindex: 0, role: "button", "aria-pressed": sel === n.name ? "true" : "false",
        "aria-label": `${n.name} (${n.kind})${bad ? ", has problems" : ""}`,
        onclick: () => select(n.name),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(n.name); } } },
        svg("title", {}, `${n.name}: ${n.description || n.kind}`),
        svg("rect", { x: n.x, y: n.y, width: W, height: H, rx: 7 }),
        svg("text", { x: n.x + 10, y: n.y + 19, class: "wfnb-node-name" }, n.name),
        svg("text", { x: n.x + 10, y: n.y + 36, class: "wfnb-node-kind" },
          status ? `${n.kind} · ${status === "Waiting for Approval" ? "waiting" : status}` : n.kind));
    });
    return svg("svg", { class: "wfnb-graph", width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}`,
      role: "img", "aria-label": "Workflow graph" },
      svg("defs", {}, svg("marker", { id: "wfnb-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }))),
      paths, nodes);
  }

  function input(section, name, key, editable, kind = "text") {
    const v = value(section, name, key);
    const problems = problemFor(`${section}.${name}.${key}`);
    let control;
    if (!editable) {  // read-only: the value as text a user reads (and can copy), not a greyed box
      const text = kind === "bool" ? (v ? "yes" : "no") : Array.isArray(v) ? v.join(", ") : v === null || v === undefined ? "" : String(v);
      control = key === "code" && text ? h("pre", { class: "wfnb-pre wfnb-code wfnb-setting-value" }, text)
        : h("span", { class: `wfnb-setting-value${text ? "" : " wfnb-muted"}` }, text || "—");
    } else if (key === "after") {
      const others = Object.keys(model.get("settings").steps).filter((s) => s !== name);
      const chosen = new Set(Array.isArray(v) ? v : v ? [v] : []);
      control = h("span", { class: "wfnb-after" }, others.map((o) => h("label", {},
        h("input", { type: "checkbox", name: `after-${o}`, checked: chosen.has(o), disabled: !editable,
          onchange: (e) => { e.target.checked ? chosen.add(o) : chosen.delete(o); edit(section, name, key, others.filter((x) => chosen.has(x))); } }),
        ` ${o}`)));
    } else if (kind === "bool") {
      control = h("input", { type: "checkbox", name: key, checked: !!v, disabled: !editable,
        onchange: (e) => edit(section, name, key, e.target.checked) });
    } else if (key === "code") {
      control = h("textarea", { name: key, rows: 7, cols: 60, disabled: !editable, class: "wfnb-code", value: v ?? "",
        oninput: (e) => edit(section, name, key, e.target.value) });
    } else if (key === "on_timeout") {
      control = h("select", { name: key, disabled: !editable, value: v || "reject", onchange: (e) => edit(section, name, key, e.target.value) },
        ["reject", "approve", "fail"].map((o) => h("option", { value: o }, o)));
    } else {
      control = h("input", { name: key, type: "text", disabled: !editable, value: Array.isArray(v) ? v.join(", ") : (v ?? ""),
        "aria-invalid": problems.length ? "true" : null,
        oninput: (e) => {
          let x = e.target.value;
          if (key === "approvers") x = x.split(",").map((a) => a.trim()).filter(Boolean);
          else if (key === "retries" && /^\s*\d+\s*$/.test(x)) x = Number(x);
          edit(section, name, key, x);
        } });
    }
    return h("label", { class: `wfnb-setting${problems.length ? " wfnb-invalid" : ""}`, "data-field": `${section}.${name}.${key}` },
      h("span", { class: "wfnb-setting-key" }, key), control,
      problems.map((p) => h("span", { class: "wfnb-field-error" }, p.message)));
  }

  function params(editable) {
    const rows = model.get("settings").params.map((p) => {
      const problems = problemFor(`params.${p.name}`);
      return [h("tr", { key: p.name, "data-param": p.name, class: problems.length ? "wfnb-invalid" : "" },
        h("td", {}, h("code", {}, p.name)), h("td", {}, p.type),
        PARAM_KEYS.map((k) => h("td", {}, input("params", p.name, k, editable, k === "required" ? "bool" : "text")))),
        problems.length ? h("tr", { key: `${p.name}-problems` }, h("td", { colspan: 5, class: "wfnb-field-error" }, problems.map((x) => x.message).join("; "))) : null];
    });
    return h("div", { class: "wfnb-settings", key: "params" }, h("b", {}, "Parameters"),
      rows.length ? h("div", { class: "wfnb-params-scroll" }, h("table", { class: "wfnb-table wfnb-params" },
        h("thead", {}, h("tr", {}, ["Name", "Type", "Required", "Default", "Description"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows))) : h("div", { class: "wfnb-muted" }, "No parameters."));
  }

  function nodePanel(name, editable) {
    const st = model.get("settings").steps[name] || {};
    const kind = (model.get("graph").nodes.find((n) => n.name === name) || {}).kind;
    const keys = [...COMMON, ...(BY_KIND[kind] || [])];
    const test = (model.get("test").tasks || {})[name];
    const stored = (model.get("session").values || {})[name];
    return h("div", { class: "wfnb-settings", key: `node-${name}`, "data-node": name },
      h("b", {}, `${name} `), h("span", { class: "wfnb-kind" }, kind),
      editable ? null : Object.entries(st).filter(([k]) => !keys.includes(k)).map(([k, v]) =>
        h("div", {}, h("span", { class: "wfnb-setting-key" }, k), " ", h("code", {}, String(v)))),
      keys.map((k) => input("steps", name, k, editable)),
      test ? h("div", { class: "wfnb-node-test" }, "Last test: ", statusBadge(test.status), " ", test.summary,
        test.error ? h("div", { class: "wfnb-error" }, test.error) : null) : null,
      stored !== undefined ? h("div", { class: "wfnb-muted" }, "Session value: ", h("code", {}, stored)) : null);
  }

  // test arguments go to the model as they are typed (a change event on blur would repaint
  // under the pointer of the Run Test click that caused the blur)
  function setTestValue(k, v) {
    model.set("test_values", { ...model.get("test_values"), [k]: v });
    model.save_changes();
  }

  function testBar(info) {
    if (!info.can_test) return h("div", { class: "wfnb-muted" }, "You may not run this workflow, so you cannot test it.");
    const values = model.get("test_values");
    const sel = model.get("selected"), session = model.get("session") || {}, test = model.get("test") || {};
    const args = Object.keys(values).map((k) => h("label", { class: "wfnb-test-arg", key: k }, `${k} `,
      h("input", { name: `test-${k}`, type: "text", size: 12, value: values[k] ?? "",
        oninput: (e) => setTestValue(k, e.target.value) })));
    return h("div", { class: "wfnb-testbar" },
      h("div", { class: "wfnb-toolbar" },
        h("button", { class: "wfnb-btn wfnb-primary wfnb-run-test", onclick: () => model.send({ action: "test", values: model.get("test_values") }) }, "Run Test"),
        h("button", { class: "wfnb-btn wfnb-test-step", disabled: !sel || sel === "Start",
          onclick: () => model.send({ action: "test_step", step: sel }) }, sel && sel !== "Start" ? `Test Run: ${sel}` : "Test Run (select a step)"),
        h("span", { class: "wfnb-sep" }, "Session:"),
        h("label", {}, h("input", { type: "checkbox", class: "wfnb-session-active", checked: !!session.active,
          onchange: (e) => model.send({ action: "active", value: e.target.checked }) }), " Active"),
        h("button", { class: "wfnb-btn wfnb-show-session", onclick: () => { model.set("show_session", !model.get("show_session")); model.save_changes(); draw(); } },
          model.get("show_session") ? "Hide Session" : "Show Session"),
        h("button", { class: "wfnb-btn wfnb-clear-session", onclick: () => model.send({ action: "clear_session" }) }, "Clear Session")),
      args.length ? h("div", { class: "wfnb-test-args" }, h("span", { class: "wfnb-muted" }, "Test arguments: "), args) : null,
      test.run_id ? h("div", { class: "wfnb-test-status" }, test.step ? `Test of ${test.step}: ` : "Test run: ", statusBadge(test.status), " ",
        h("code", {}, test.run_id), " ", h("button", { class: "wfnb-btn wfnb-test-details", onclick: () => model.send({ action: "details" }) }, "View Details"),
        test.error ? h("div", { class: "wfnb-error" }, test.error) : null) : null,
      test.run_id ? (test.decisions || []).map(decisionBox) : null,
      model.get("show_session") ? h("table", { class: "wfnb-table wfnb-session" },
        h("thead", {}, h("tr", {}, h("th", {}, "Step"), h("th", {}, "Stored value"))),
        h("tbody", {}, Object.entries(session.values || {}).map(([k, v]) => h("tr", { key: k, "data-step": k }, h("td", {}, k), h("td", {}, h("code", {}, v)))),
          Object.keys(session.values || {}).length ? null : h("tr", {}, h("td", { colspan: 2, class: "wfnb-muted" }, "The session is empty.")))) : null);
  }

  // an approval step of the test run, waiting: the approval form every view shares
  // (approval_form.js), Approve / Reject with its inputs and a comment for those who may
  // decide; what is typed lives in `decisionDrafts`, so repaints never lose it
  const decisionDrafts = new Map();
  const decisionBox = (d) => approvalForm(d, decisionDrafts, model.get("decision_problem"),
    (content) => model.send(content), "wfnb-editor-decision");

  function draw() { paint(); }

  function paint() {
    const info = model.get("workflow");
    if (version !== info.version) {
      // saved here: the draft is in the file now; saved elsewhere: keep the draft (Save will
      // report the conflict instead of overwriting the other save) and say so
      if (pending() && !String(model.get("message")).startsWith("Saved version"))
        stale = true;
      else { draft = { workflow: {}, params: {}, steps: {} }; stale = false; base = info.version; }
      version = info.version;
    }
    const editable = !!info.editable, sel = model.get("selected"), n = pending();
    const problems = model.get("problems");
    patch(root,
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, info.title, " ", h("small", { class: "wfnb-muted" }, `version ${info.version}`)),
        editable ? [
          h("span", { class: "wfnb-pending" }, n ? `${n} unsaved change${n > 1 ? "s" : ""}` : ""),
          h("button", { class: "wfnb-btn wfnb-validate", disabled: !n, onclick: () => model.send({ action: "check", changes: draft }) }, "Validate"),
          h("button", { class: "wfnb-btn wfnb-primary wfnb-save", disabled: !n, onclick: () => model.send({ action: "save", changes: draft, base_version: base }) }, "Save"),
          h("button", { class: "wfnb-btn wfnb-discard", disabled: !n, onclick: () => { draft = { workflow: {}, params: {}, steps: {} }; stale = false; base = version; model.set("problems", []); model.save_changes(); draw(); } }, "Discard"),
        ] : h("span", { class: "wfnb-readonly wfnb-muted" }, info.declared ? "read-only: editing needs UPDATE_WORKFLOW" : "read-only: defined in Python"),
        h("button", { class: "wfnb-btn wfnb-close", onclick: () => model.send({ action: "close" }) }, "Close")),
      h("div", { class: "wfnb-muted wfnb-source" }, info.source),
      stale ? h("div", { class: "wfnb-error wfnb-stale" }, "The workflow was saved elsewhere since you started these changes: Discard them, or Save to see the conflict.") : null,
      model.get("message") ? h("div", { class: problems.length ? "wfnb-error wfnb-message" : "wfnb-message" }, model.get("message")) : null,
      problems.length ? h("ul", { class: "wfnb-problems" }, problems.map((p) => {
        // the field is shown with the step it belongs to (or with the parameters): Show goes there
        const step = p.field.startsWith("steps.") ? p.field.split(".")[1] : p.field.startsWith("params") ? "" : null;
        const there = step === null || (step === "" ? !sel || sel === "Start" : sel === step);
        return h("li", { class: "wfnb-error" }, h("code", {}, p.field), p.line ? ` (line ${p.line})` : "", `: ${p.message}`,
          there ? null : [" ", h("button", { class: "wfnb-btn wfnb-goto", onclick: () => select(step) }, "Show")]);
      })) : null,
      testBar(info),
      h("div", { class: "wfnb-editor-body" },
        h("div", { class: "wfnb-graph-box" }, graph()),
        sel && sel !== "Start" ? nodePanel(sel, editable) : params(editable)));
  }
  for (const name of ["workflow", "graph", "settings", "problems", "message", "test", "session", "test_values", "show_session", "decision_problem"])
    model.on(`change:${name}`, draw);
  draw();
  return startTicker(root);  // "waiting 3 s" of an approval counts up
}

export default { render };
