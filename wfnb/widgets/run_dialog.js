// The run dialog: the form (before Start Execution), then live progress and approvals.
// (fieldRow and approvalForm come from approval_form.js, appended to this module.)
function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-run-dialog" });
  el.append(root);
  const uid = `wfnb-rd-${Math.random().toString(36).slice(2, 8)}`;
  let draft = { ...model.get("values") };
  let force = model.get("force");
  const drafts = new Map();  // what is typed in the approval forms, by "run:step"

  function form() {
    const fields = model.get("fields"), errors = model.get("errors");
    const rows = fields.map((f) => fieldRow(f, draft[f.name], (v) => { draft[f.name] = v; }, errors[f.name], uid));
    return h("div", { class: "wfnb-form" },
      rows.length ? rows : h("div", { class: "wfnb-muted" }, "This workflow takes no parameters."),
      model.get("rerun_mode") ? h("label", { class: "wfnb-force" },
        h("input", { type: "checkbox", class: "wfnb-force-box", checked: force,
          onchange: (e) => { force = e.target.checked; } }),
        " Run again the reused steps that read a parameter you change (force)") : null,
      h("div", { class: "wfnb-actions" },
        h("button", { class: "wfnb-btn wfnb-primary wfnb-start",
          onclick: () => model.send({ action: "start", values: draft, force }) },
          model.get("rerun_of") ? "Start Rerun" : "Start Execution")));
  }

  function progress() {
    const run = model.get("run"), problems = model.get("decision_errors") || {};
    const pct = Math.round((run.progress || 0) * 100);
    const rows = model.get("steps").map((s) => h("tr", { "data-step": s.name, key: s.name },
      h("td", {}, s.name), h("td", { class: "wfnb-muted" }, s.kind),
      h("td", {}, statusBadge(s.status), s.attempt > 1 ? h("small", {}, ` (attempt ${s.attempt})`) : null),
      h("td", {}, elapsed(s.duration, s.since)),
      h("td", {}, s.decision
        ? approvalForm(s.decision, drafts, problems[`${run.id}:${s.name}`], (c) => model.send(c), uid)
        : (s.error ? h("span", { class: "wfnb-error" }, s.error) : s.summary))));
    return h("div", { class: "wfnb-progress" },
      h("div", { class: "wfnb-run-status" }, "Run ", h("code", {}, run.id), ": ", statusBadge(run.status),
        ` ${pct}%`, run.duration !== null || run.since ? [" · ", elapsed(run.duration, run.since)] : "",
        run.parent_id ? h("span", { class: "wfnb-muted" }, " · rerun of ", parentLink(model, run.parent_id)) : null),
      h("div", { class: "wfnb-bar", role: "progressbar", "aria-valuenow": pct }, h("div", { style: `width: ${pct}%` })),
      run.error ? h("div", { class: "wfnb-error" }, run.error) : null,
      h("table", { class: "wfnb-table" },
        h("thead", {}, h("tr", {}, ["Step", "Kind", "Status", "Duration", "Outcome"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)));
  }

  function draw() {
    const wf = model.get("workflow"), run = model.get("run"), back = model.get("back");
    const rerun = model.get("rerun_of"), mode = model.get("rerun_mode");
    const title = mode === "from_failure" ? `Resume from failure: ${wf.title}`
      : mode === "from_step" ? `Rerun from ${model.get("rerun_step")}: ${wf.title}`
        : rerun ? `Rerun: ${wf.title}` : `Run: ${wf.title}`;
    patch(root,
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, title),
        run.id ? h("button", { class: "wfnb-btn wfnb-details", onclick: () => model.send({ action: "details", run_id: run.id }) }, "View Details") : null,
        h("button", { class: `wfnb-btn wfnb-close${back ? " wfnb-back" : ""}`, title: back ? `Back to ${back}` : "Close",
          onclick: () => model.send({ action: "close" }) }, back ? "‹ Back" : "Close")),
      wf.description ? h("div", { class: "wfnb-help" }, wf.description) : null,
      rerun && !run.id ? h("div", { class: "wfnb-help wfnb-rerun-of" },
        "Arguments of run ", h("code", {}, rerun), "; what you change overrides them.",
        mode === "from_failure" ? " The steps that completed in it are reused, not run again." : "",
        mode === "from_step" ? ` The completed steps before ${model.get("rerun_step")} are reused; it and the rest run again.` : "") : null,
      model.get("message") ? h("div", { class: "wfnb-error wfnb-message" }, model.get("message")) : null,
      run.id ? progress() : form());
  }
  for (const name of ["run", "steps", "errors", "message", "fields", "workflow", "decision_errors", "back", "rerun_of", "rerun_mode", "rerun_step"])
    model.on(`change:${name}`, draw);
  model.on("change:force", () => { force = model.get("force"); draw(); });
  draw();
  return startTicker(root);
}

export default { render };
