// The runs table: one page of runs at a time; filters and paging go to Python. Repaints patch
// the page in place (rows keyed by run id), so the text filter keeps focus and what is typed.
const TYPING_PAUSE = 250;  // ms: the text filter applies once typing pauses (Enter: at once)

// a run id is `20261125-113012-345-7f3a9c`; its time is in the Start column, so the table
// shows the random tail (a button to the run's details) and the whole id as its tooltip
const shortId = (id) => String(id).split("-").pop();

function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-runs-table" });
  el.append(root);
  const set = (name, value) => {
    model.set(name, value);
    if (name !== "page") model.set("page", 0);
    model.save_changes();
  };
  let typing = null;  // the pending debounce of the text filter
  const applyText = (value) => {
    clearTimeout(typing);
    typing = null;
    if (value !== model.get("text")) set("text", value);
  };

  function filters() {
    const mine = model.get("mine");
    return [
      h("select", { "aria-label": "Status", class: "wfnb-filter-status", value: model.get("status"),
        onchange: (e) => set("status", e.target.value) },
        h("option", { value: "" }, "All statuses"), model.get("statuses").map((s) => h("option", { value: s }, s))),
      h("select", { "aria-label": "Workflow", class: "wfnb-filter-workflow", value: model.get("workflow"),
        disabled: model.get("scoped"), onchange: (e) => set("workflow", e.target.value) },
        h("option", { value: "" }, "All workflows"), model.get("workflows").map((w) => h("option", { value: w }, w))),
      h("select", { "aria-label": "Trigger", class: "wfnb-filter-trigger", value: model.get("trigger"),
        onchange: (e) => set("trigger", e.target.value) },
        h("option", { value: "" }, "All triggers"),
        ["manual", "schedule", "rerun", "test", "api"].map((t) => h("option", { value: t }, t))),
      h("input", { type: "search", placeholder: "Filter text", "aria-label": "Filter text", class: "wfnb-filter-text",
        value: model.get("text"),
        oninput: (e) => {
          const value = e.target.value;
          clearTimeout(typing);
          typing = setTimeout(() => applyText(value), TYPING_PAUSE);
        },
        onkeydown: (e) => { if (e.key === "Enter") applyText(e.target.value); },
        onchange: (e) => applyText(e.target.value) }),
      model.get("can_approve") ? h("label", { class: "wfnb-filter-mine", title: "Runs waiting for your decision" },
        h("input", { type: "checkbox", class: "wfnb-mine", checked: mine, onchange: (e) => set("mine", e.target.checked) }),
        " Waiting for me") : null,
    ];
  }

  function row(r) {
    const pct = Math.round(r.progress * 100);
    return h("tr", { class: "wfnb-row", key: r.id, "data-run": r.id },
      h("td", { class: "wfnb-run-id", title: r.id },
        h("button", { class: "wfnb-link wfnb-view-details", "aria-label": `View details of run ${r.id}`,
          onclick: () => model.send({ action: "details", run_id: r.id }) }, h("code", {}, shortId(r.id)))),
      h("td", { class: "wfnb-workflow", title: r.workflow }, r.workflow),
      h("td", { class: "wfnb-state" }, statusBadge(r.status), r.active ? ` ${pct}%` : ""),
      h("td", {}, r.created_by),
      h("td", { class: "wfnb-started", title: r.started ? new Date(r.started).toLocaleString() : null }, ago(r.started)),
      h("td", { class: "wfnb-duration-cell" }, elapsed(r.duration, r.since)),
      h("td", { class: "wfnb-trigger" }, r.trigger));
  }

  function draw() {
    const rows = model.get("rows"), total = model.get("total"), page = model.get("page"), size = model.get("page_size");
    const last = Math.max(0, Math.ceil(total / size) - 1);
    patch(root,
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, model.get("scoped") ? `Runs of ${model.get("workflow")}` : "Runs"),
        filters(),
        h("button", { class: "wfnb-btn wfnb-close", onclick: () => model.send({ action: "close" }) }, "Close")),
      model.get("error") ? h("div", { class: "wfnb-error" }, model.get("error")) : null,
      h("div", { class: "wfnb-table-scroll" },
        h("table", { class: "wfnb-table wfnb-runs" },
          h("thead", {}, h("tr", {}, ["Run", "Workflow", "Status", "Started by", "Start", "Duration", "Trigger"]
            .map((c) => h("th", {}, c)))),
          h("tbody", {}, rows.map(row)))),
      rows.length ? null : h("div", { class: "wfnb-muted wfnb-empty" },
        model.get("mine") ? "No runs are waiting for your decision." : "No runs match."),
      h("div", { class: "wfnb-pager" },
        h("button", { class: "wfnb-btn wfnb-newer", disabled: page <= 0, onclick: () => set("page", page - 1) }, "‹ Newer"),
        h("span", { class: "wfnb-count" },
          ` ${total ? page * size + 1 : 0}–${Math.min(total, (page + 1) * size)} of ${total.toLocaleString("en")}${model.get("more") ? "+" : ""} `),
        h("button", { class: "wfnb-btn wfnb-older", disabled: page >= last, onclick: () => set("page", page + 1) }, "Older ›")));
  }
  for (const name of ["rows", "total", "more", "page", "error", "workflows", "status", "workflow", "text", "trigger", "mine", "can_approve"])
    model.on(`change:${name}`, draw);
  draw();
  const stop = startTicker(root);
  const aging = setInterval(() => { if (root.isConnected) draw(); }, 30_000);  // "5 min ago"
  return () => { stop(); clearInterval(aging); clearTimeout(typing); };
}

export default { render };
