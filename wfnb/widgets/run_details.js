// Run details: arguments, tasks as scheduled (Start first), a timeline, debug output.
function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-run-details" });
  el.append(root);
  const open = new Set();

  function timeline(tasks, run) {
    const end = Math.max(0.001, ...tasks.map((t) => t.to ?? run.duration ?? t.from ?? 0), run.duration || 0);
    return h("div", { class: "wfnb-gantt", "aria-label": "Timeline" }, tasks.map((t) => {
      const from = t.from ?? 0, to = t.to ?? end;
      return h("div", { class: "wfnb-gantt-row" }, h("span", { class: "wfnb-gantt-label" }, t.step),
        h("span", { class: "wfnb-gantt-track" }, h("span", {
          class: `wfnb-gantt-bar wfnb-bg-${t.status.replace(/ /g, "-")}`,
          title: `${t.step}: ${t.status} ${fmtSeconds(t.duration)}`,
          style: `left: ${(100 * from) / end}%; width: ${Math.max(0.5, (100 * (to - from)) / end)}%` })));
    }));
  }

  function draw() {
    const run = model.get("run"), tasks = model.get("tasks");
    const pct = Math.round((run.progress || 0) * 100);
    const rows = [];
    for (const t of tasks) {
      const key = t.id;
      rows.push(h("tr", { class: "wfnb-task", "data-step": t.step, onclick: () => { open.has(key) ? open.delete(key) : open.add(key); draw(); } },
        h("td", {}, open.has(key) ? "▾ " : "▸ ", t.step), h("td", {}, t.attempt), h("td", {}, statusBadge(t.status)),
        h("td", {}, t.started ? new Date(t.started).toLocaleTimeString() : ""), h("td", {}, fmtSeconds(t.duration)),
        h("td", { class: "wfnb-error" }, t.error)));
      if (open.has(key)) rows.push(h("tr", {}, h("td", { colspan: 6 },
        t.result ? h("div", {}, h("b", {}, "Result"), h("pre", { class: "wfnb-pre" }, t.result)) : null,
        t.log ? h("div", {}, h("b", {}, "Output"), h("pre", { class: "wfnb-pre wfnb-log" }, t.log)) : null,
        t.traceback ? h("div", {}, h("b", {}, "Traceback"), h("pre", { class: "wfnb-pre" }, t.traceback)) : null,
        t.notebook ? h("div", {}, h("b", {}, "Executed notebook: "), h("code", {}, t.notebook)) : null)));
    }
    fill(root, 
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, `${run.workflow} · `, h("code", {}, run.id)),
        model.get("can_cancel") ? h("button", { class: "wfnb-btn wfnb-danger wfnb-cancel", onclick: () => model.send({ action: "cancel" }) }, "Cancel") : null,
        model.get("can_rerun") ? h("button", { class: "wfnb-btn wfnb-rerun", onclick: () => model.send({ action: "rerun" }) }, "Rerun") : null,
        h("button", { class: "wfnb-btn wfnb-close", onclick: () => model.send({ action: "close" }) }, "Close")),
      h("div", {}, statusBadge(run.status), ` ${pct}% · by ${run.created_by} · ${run.trigger}`,
        run.parent_id ? ` of ${run.parent_id}` : "", run.duration !== null ? ` · ${fmtSeconds(run.duration)}` : ""),
      h("div", { class: "wfnb-bar" }, h("div", { style: `width: ${pct}%` })),
      run.error ? h("div", { class: "wfnb-error" }, run.error) : null,
      model.get("message") ? h("div", { class: "wfnb-error" }, model.get("message")) : null,
      h("div", { class: "wfnb-args" }, h("b", {}, "Arguments "), h("code", {}, JSON.stringify(run.params))),
      timeline(tasks, run),
      h("table", { class: "wfnb-table" },
        h("thead", {}, h("tr", {}, ["Task", "Attempt", "Status", "Start", "Duration", "Error"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)));
  }
  for (const name of ["run", "tasks", "can_cancel", "can_rerun", "message"]) model.on(`change:${name}`, draw);
  draw();
}

export default { render };
