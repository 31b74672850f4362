// The runs table: one page of runs at a time; filters and paging go to Python.
function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-runs-table" });
  el.append(root);
  const set = (name, value) => { model.set(name, value); if (name !== "page") model.set("page", 0); model.save_changes(); };

  function draw() {
    const rows = model.get("rows"), total = model.get("total"), page = model.get("page"), size = model.get("page_size");
    const status = h("select", { "aria-label": "Status", class: "wfnb-filter-status" }, h("option", { value: "" }, "All statuses"),
      model.get("statuses").map((s) => h("option", { value: s }, s)));
    status.value = model.get("status");
    on(status, "change", (e) => set("status", e.target.value));
    const wf = h("select", { "aria-label": "Workflow", class: "wfnb-filter-workflow" }, h("option", { value: "" }, "All workflows"),
      model.get("workflows").map((w) => h("option", { value: w }, w)));
    wf.value = model.get("workflow");
    wf.disabled = model.get("scoped");
    on(wf, "change", (e) => set("workflow", e.target.value));
    const trig = h("select", { "aria-label": "Trigger", class: "wfnb-filter-trigger" }, h("option", { value: "" }, "All triggers"),
      ["manual", "schedule", "rerun", "test", "api"].map((t) => h("option", { value: t }, t)));
    trig.value = model.get("trigger");
    on(trig, "change", (e) => set("trigger", e.target.value));
    const text = h("input", { type: "search", placeholder: "Filter text", "aria-label": "Filter text", class: "wfnb-filter-text" });
    text.value = model.get("text");
    on(text, "change", (e) => set("text", e.target.value));
    const last = Math.max(0, Math.ceil(total / size) - 1);
    fill(root, 
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, model.get("scoped") ? `Runs of ${model.get("workflow")}` : "Runs"),
        status, wf, trig, text,
        h("button", { class: "wfnb-btn wfnb-close", onclick: () => model.send({ action: "close" }) }, "Close")),
      model.get("error") ? h("div", { class: "wfnb-error" }, model.get("error")) : null,
      h("table", { class: "wfnb-table" },
        h("thead", {}, h("tr", {}, ["Run", "Workflow", "Status", "Started by", "Start", "Duration", "Trigger", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows.map((r) => h("tr", { class: "wfnb-row", "data-run": r.id },
          h("td", {}, h("code", {}, r.id)), h("td", {}, r.workflow),
          h("td", {}, statusBadge(r.status), r.active ? ` ${Math.round(r.progress * 100)}%` : ""),
          h("td", {}, r.created_by), h("td", {}, r.started ? new Date(r.started).toLocaleString() : ""),
          h("td", {}, fmtSeconds(r.duration)), h("td", {}, r.trigger),
          h("td", {}, h("button", { class: "wfnb-btn wfnb-view-details",
            onclick: () => model.send({ action: "details", run_id: r.id }) }, "View Details")))))),
      rows.length ? null : h("div", { class: "wfnb-muted" }, "No runs match."),
      h("div", { class: "wfnb-pager" },
        h("button", { class: "wfnb-btn", disabled: page <= 0, onclick: () => set("page", page - 1) }, "‹ Newer"),
        h("span", { class: "wfnb-count" }, ` ${total ? page * size + 1 : 0}–${Math.min(total, (page + 1) * size)} of ${total.toLocaleString("en")}${model.get("more") ? "+" : ""} `),
        h("button", { class: "wfnb-btn", disabled: page >= last, onclick: () => set("page", page + 1) }, "Older ›")));
  }
  for (const name of ["rows", "total", "more", "page", "error", "workflows", "status", "workflow", "text", "trigger"]) model.on(`change:${name}`, draw);
  draw();
}

export default { render };
