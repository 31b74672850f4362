// Run details: arguments, approvals waiting, tasks as scheduled (Start first), a timeline with a
// time axis, debug output. (approvalForm comes from approval_form.js, appended to this module.)

// a tick every 1, 2 or 5 × 10^k seconds: about six ticks over the run
function tickStep(end) {
  const raw = end / 6, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
}

function tickLabel(v, step) {
  if (step >= 60 && v % 60 === 0) return `${v / 60} min`;
  const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return `${v.toFixed(digits)} s`;
}

function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-run-details" });
  el.append(root);
  const uid = `wfnb-rdt-${Math.random().toString(36).slice(2, 8)}`;
  const open = new Set();
  const drafts = new Map();   // what is typed in the approval forms
  let confirming = false;     // Cancel asks first

  function timeline(tasks, run) {
    const now = run.since ? sinceNow(run.since) : 0;
    const end = Math.max(0.001, run.duration || 0, now,
      ...tasks.map((t) => t.to ?? (t.from !== null ? Math.max(now, t.from) : 0)));
    const step = tickStep(end), ticks = [];
    for (let v = 0; v <= end + 1e-9; v += step) ticks.push(Math.round(v * 1000) / 1000);
    return h("div", { class: "wfnb-gantt", "aria-label": "Timeline" },
      tasks.map((t) => {
        const from = t.from ?? 0, to = t.to ?? (t.from !== null ? Math.max(now, from) : from);
        return h("div", { class: "wfnb-gantt-row", key: t.id }, h("span", { class: "wfnb-gantt-label" }, t.step),
          h("span", { class: "wfnb-gantt-track" }, h("span", {
            class: `wfnb-gantt-bar wfnb-bg-${t.status.replace(/ /g, "-")}`,
            title: `${t.step}: ${t.status} ${fmtSeconds(t.duration ?? (t.since ? sinceNow(t.since) : null))}`,
            style: `left: ${(100 * from) / end}%; width: ${Math.max(0.5, (100 * (to - from)) / end)}%` })));
      }),
      h("div", { class: "wfnb-gantt-row wfnb-gantt-axis", "aria-label": "Seconds since the run started" },
        h("span", { class: "wfnb-gantt-label" }),
        h("span", { class: "wfnb-gantt-ticks" }, ticks.map((v) => h("span", {
          class: "wfnb-tick", key: String(v), style: `left: ${(100 * v) / end}%` }, tickLabel(v, step))))));
  }

  function head(run) {
    const back = model.get("back");
    const cancel = model.get("can_cancel")
      ? (confirming
        ? confirmBox(`Cancel run ${run.id}?`, "Cancel run",
          () => { confirming = false; model.send({ action: "cancel" }); draw(); },
          () => { confirming = false; draw(); })
        : h("button", { class: "wfnb-btn wfnb-danger wfnb-cancel", onclick: () => { confirming = true; draw(); } }, "Cancel"))
      : null;
    return h("div", { class: "wfnb-panel-head" },
      h("span", { class: "wfnb-title" }, `${run.workflow} · `, h("code", {}, run.id)),
      cancel,
      run.parent_id ? h("button", { class: "wfnb-btn wfnb-compare-parent", title: "This run and its parent side by side",
        onclick: () => model.send({ action: "compare", other: run.parent_id }) }, "Compare with parent") : null,
      model.get("can_rerun") ? h("button", { class: "wfnb-btn wfnb-rerun", onclick: () => model.send({ action: "rerun" }) }, "Rerun") : null,
      model.get("can_rerun") && run.done && run.status !== "Completed"
        ? h("button", { class: "wfnb-btn wfnb-resume", title: "Reuse the steps that completed; run the rest again",
          onclick: () => model.send({ action: "rerun", from_failure: true }) }, "Rerun from failure") : null,
      h("button", { class: `wfnb-btn wfnb-close${back ? " wfnb-back" : ""}`, title: back ? `Back to ${back}` : "Close",
        onclick: () => model.send({ action: "close" }) }, back ? "‹ Back" : "Close"));
  }

  function draw() {
    const run = model.get("run"), tasks = model.get("tasks");
    if (!model.get("can_cancel")) confirming = false;
    const pct = Math.round((run.progress || 0) * 100);
    const problems = model.get("decision_errors") || {};
    const rows = [];
    for (const t of tasks) {
      const key = t.id;
      rows.push(h("tr", { class: "wfnb-task", key, "data-step": t.step, onclick: () => { open.has(key) ? open.delete(key) : open.add(key); draw(); } },
        h("td", {}, open.has(key) ? "▾ " : "▸ ", t.step), h("td", {}, t.attempt),
        h("td", {}, statusBadge(t.status), t.reused_from
          ? h("span", { class: "wfnb-reused", title: `The result of ${t.reused_from}` }, " reused from ",
            h("span", { onclick: (e) => e.stopPropagation() }, parentLink(model, t.reused_run))) : null),
        h("td", {}, t.started ? new Date(t.started).toLocaleTimeString() : ""), h("td", {}, elapsed(t.duration, t.since)),
        h("td", { class: "wfnb-error" }, t.error),
        h("td", {}, model.get("can_rerun") && run.done && t.step !== "Start"
          ? h("button", { class: "wfnb-btn wfnb-small wfnb-rerun-here", title: `Rerun from ${t.step}: the completed steps before it are reused`,
            onclick: (e) => { e.stopPropagation(); model.send({ action: "rerun", from_step: t.step }); } }, "Rerun from here") : null)));
      if (open.has(key)) rows.push(h("tr", { key: `${key}-open`, class: "wfnb-task-open" }, h("td", { colspan: 7 },
        t.result ? h("div", {}, h("b", {}, "Result"), h("pre", { class: "wfnb-pre" }, t.result)) : null,
        t.log ? h("div", {}, h("b", {}, "Output"), h("pre", { class: "wfnb-pre wfnb-log" }, t.log)) : null,
        t.traceback ? h("div", {}, h("b", {}, "Traceback"), h("pre", { class: "wfnb-pre" }, t.traceback)) : null,
        t.notebook ? h("div", {}, h("b", {}, "Executed notebook: "),
          // in JupyterLab's Workflows tabs (model "_host" is "lab") it opens as a document
          model.get("_host") === "lab"
            ? h("a", { class: "wfnb-open-notebook", href: "#", title: "Open the executed notebook",
                onclick: (e) => { e.preventDefault(); model.send({ action: "open_notebook", path: t.notebook }); } },
                t.notebook)
            : h("code", {}, t.notebook)) : null)));
    }
    const approvals = model.get("approvals") || [];
    patch(root,
      head(run),
      h("div", { class: "wfnb-run-summary" }, statusBadge(run.status), ` ${pct}% · by ${run.created_by} · ${run.trigger}`,
        run.parent_id ? [run.rerun_mode === "from_failure" ? " resumed from the failure of "
          : run.rerun_mode === "from_step" ? ` from step ${run.rerun_from} of ` : " of ", parentLink(model, run.parent_id)] : "",
        run.duration !== null || run.since ? [" · ", elapsed(run.duration, run.since)] : ""),
      h("div", { class: "wfnb-bar" }, h("div", { style: `width: ${pct}%` })),
      run.error ? h("div", { class: "wfnb-error" }, run.error) : null,
      model.get("message") ? h("div", { class: "wfnb-error wfnb-message" }, model.get("message")) : null,
      approvals.length ? h("div", { class: "wfnb-approvals", "aria-label": "Waiting for approval" },
        approvals.map((a) => approvalForm(a, drafts, problems[`${a.run_id}:${a.step}`], (c) => model.send(c), uid))) : null,
      h("div", { class: "wfnb-args" }, h("b", {}, "Arguments "), h("code", {}, JSON.stringify(run.params))),
      timeline(tasks, run),
      (model.get("artifacts") || []).length ? h("div", { class: "wfnb-artifacts", "aria-label": "Artifacts" },
        h("b", {}, "Artifacts "),
        model.get("artifacts").map((a) => h("span", { class: "wfnb-artifact", key: `${a.kind}:${a.path}` },
          `${a.step} · ${a.kind} · ${a.size_text}${a.reused ? " (reused)" : ""} `, h("code", {}, a.path), " "))) : null,
      h("table", { class: "wfnb-table" },
        h("thead", {}, h("tr", {}, ["Task", "Attempt", "Status", "Start", "Duration", "Error", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)));
  }
  for (const name of ["run", "tasks", "approvals", "decision_errors", "can_cancel", "can_rerun", "message", "back", "artifacts"])
    model.on(`change:${name}`, draw);
  draw();
  return startTicker(root);
}

export default { render };
