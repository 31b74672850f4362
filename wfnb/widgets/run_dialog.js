// The run dialog: the form (before Start Execution), then live progress and approvals.
function inputFor(field, value, onChange) {
  const id = `wfnb-f-${field.name}-${Math.random().toString(36).slice(2, 7)}`;
  let input;
  if (field.type === "bool") {
    input = h("input", { type: "checkbox", id });
    input.checked = value === true || value === "true";
    on(input, "change", (e) => onChange(e.target.checked));
  } else if (field.type === "choice") {
    input = h("select", { id }, h("option", { value: "" }, "—"),
      (field.choices || []).map((c) => h("option", { value: String(c) }, String(c))));
    input.value = value === null || value === undefined ? "" : String(value);
    on(input, "change", (e) => onChange(e.target.value));
  } else {
    const type = { int: "number", float: "number", date: "date", datetime: "datetime-local" }[field.type] || "text";
    input = field.type === "json" ? h("textarea", { id, rows: 3 }) : h("input", { type, id });
    if (field.type === "int") input.step = "1";
    if (field.type === "float") input.step = "any";
    if (field.min !== null && field.min !== undefined) input.min = field.min;
    if (field.max !== null && field.max !== undefined) input.max = field.max;
    const shown = value === null || value === undefined ? ""
      : field.type === "list" ? (Array.isArray(value) ? value.join(", ") : String(value))
      : field.type === "json" ? (typeof value === "string" ? value : JSON.stringify(value))
      : String(value);
    input.value = shown;
    on(input, "input", (e) => onChange(e.target.value));
  }
  input.name = field.name;
  return { id, input };
}

function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-run-dialog" });
  el.append(root);
  let draft = { ...model.get("values") };

  function form() {
    const fields = model.get("fields"), errors = model.get("errors");
    const rows = fields.map((f) => {
      const { id, input } = inputFor(f, draft[f.name], (v) => { draft[f.name] = v; });
      return h("div", { class: "wfnb-field", "data-field": f.name },
        h("label", { for: id }, f.label || f.name, f.required ? h("span", { class: "wfnb-required", title: "required" }, " *") : null),
        input,
        f.description ? h("div", { class: "wfnb-help" }, f.description) : null,
        errors[f.name] ? h("div", { class: "wfnb-field-error" }, errors[f.name]) : null);
    });
    return h("div", { class: "wfnb-form" },
      rows.length ? rows : h("div", { class: "wfnb-muted" }, "This workflow takes no parameters."),
      h("div", { class: "wfnb-actions" },
        h("button", { class: "wfnb-btn wfnb-primary wfnb-start",
          onclick: () => model.send({ action: "start", values: draft }) }, "Start Execution")));
  }

  // a decision's inputs survive repaints: the block is built once per waiting step and reused
  const decisions = new Map();
  function decision(step) {
    const key = `${model.get("run").id}:${step.name}`;
    if (!decisions.has(key)) decisions.set(key, buildDecision(step));
    return decisions.get(key);
  }

  function buildDecision(step) {
    const d = step.decision;
    if (!d.can_decide) return h("div", { class: "wfnb-muted" }, `Waiting for ${d.approvers.join(", ") || "an approver"}`);
    const inputs = {};
    const comment = h("input", { type: "text", class: "wfnb-comment", placeholder: "Comment (optional)", "aria-label": "Comment" });
    const fields = d.fields.map((f) => {
      const { id, input } = inputFor(f, f.default, (v) => { inputs[f.name] = v; });
      if (f.default !== null && f.default !== undefined) inputs[f.name] = f.default;
      return h("span", { class: "wfnb-field" }, h("label", { for: id }, f.label || f.name, f.required ? " *" : ""), input);
    });
    return h("div", { class: "wfnb-decision" },
      d.description ? h("div", { class: "wfnb-help" }, d.description) : null, fields, comment,
      h("button", { class: "wfnb-btn wfnb-primary wfnb-approve",
        onclick: () => model.send({ action: "approve", step: step.name, comment: comment.value, inputs }) }, "Approve"),
      h("button", { class: "wfnb-btn wfnb-danger wfnb-reject",
        onclick: () => model.send({ action: "reject", step: step.name, comment: comment.value }) }, "Reject"));
  }

  function progress() {
    const run = model.get("run");
    const pct = Math.round((run.progress || 0) * 100);
    const rows = model.get("steps").map((s) => h("tr", { "data-step": s.name },
      h("td", {}, s.name), h("td", { class: "wfnb-muted" }, s.kind),
      h("td", {}, statusBadge(s.status), s.attempt > 1 ? h("small", {}, ` (attempt ${s.attempt})`) : null),
      h("td", {}, fmtSeconds(s.duration)),
      h("td", {}, s.decision ? decision(s) : (s.error ? h("span", { class: "wfnb-error" }, s.error) : s.summary))));
    return h("div", { class: "wfnb-progress" },
      h("div", { class: "wfnb-run-status" }, "Run ", h("code", {}, run.id), ": ", statusBadge(run.status),
        ` ${pct}%`, run.duration !== null && run.duration !== undefined ? ` · ${fmtSeconds(run.duration)}` : ""),
      h("div", { class: "wfnb-bar", role: "progressbar", "aria-valuenow": pct }, h("div", { style: `width: ${pct}%` })),
      run.error ? h("div", { class: "wfnb-error" }, run.error) : null,
      h("table", { class: "wfnb-table" },
        h("thead", {}, h("tr", {}, ["Step", "Kind", "Status", "Duration", "Outcome"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows)));
  }

  function draw() {
    const wf = model.get("workflow"), run = model.get("run");
    fill(root, 
      h("div", { class: "wfnb-panel-head" }, h("span", { class: "wfnb-title" }, `Run: ${wf.title}`),
        run.id ? h("button", { class: "wfnb-btn wfnb-details", onclick: () => model.send({ action: "details", run_id: run.id }) }, "View Details") : null,
        h("button", { class: "wfnb-btn wfnb-close", onclick: () => model.send({ action: "close" }) }, "Close")),
      wf.description ? h("div", { class: "wfnb-help" }, wf.description) : null,
      model.get("message") ? h("div", { class: "wfnb-error wfnb-message" }, model.get("message")) : null,
      run.id ? progress() : form());
  }
  for (const name of ["run", "steps", "errors", "message", "fields", "workflow"]) model.on(`change:${name}`, draw);
  draw();
}

export default { render };
