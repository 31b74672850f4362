// The schedules view: the list (Pause / Resume / Delete, Delete asks first) and the add form,
// whose cron and time zone go to Python as they are typed and come back as a preview of the
// next runs, read in that time zone, or as the problem at the field.
function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-schedules" });
  el.append(root);
  let confirming = null;  // the id of the schedule whose Delete waits for a yes
  const send = (content) => model.send(content);

  function setDraft(changes) {
    model.set("draft", { ...model.get("draft"), ...changes });
    model.save_changes();
  }
  function setParam(name, value) {
    const draft = model.get("draft");
    setDraft({ params: { ...(draft.params || {}), [name]: value } });
  }

  function fieldBox(name, label, control, help) {
    const problem = model.get("errors")[name];
    return h("div", { class: `wfnb-field${problem ? " wfnb-invalid" : ""}`, "data-field": name, key: name },
      h("label", {}, label), control,
      help ? h("div", { class: "wfnb-help wfnb-muted" }, help) : null,
      problem ? h("div", { class: "wfnb-field-error" }, problem) : null);
  }

  function paramControl(p, value) {
    const name = `param-${p.name}`, label = p.label || p.name;
    if (p.type === "bool")
      return h("input", { type: "checkbox", name, "aria-label": label, checked: value === true,
        onchange: (e) => setParam(p.name, e.target.checked) });
    if (p.type === "choice")
      return h("select", { name, "aria-label": label, value: value ?? "", onchange: (e) => setParam(p.name, e.target.value) },
        h("option", { value: "" }, p.default !== null && p.default !== undefined ? `default (${p.default})` : "—"),
        (p.choices || []).map((c) => h("option", { value: String(c) }, String(c))));
    return h("input", { type: "text", name, "aria-label": label, value: value ?? "",
      placeholder: p.default !== null && p.default !== undefined ? `default: ${p.default}` : p.required ? "required" : "",
      oninput: (e) => setParam(p.name, e.target.value) });
  }

  function form() {
    const draft = model.get("draft"), workflows = model.get("workflows");
    const wf = workflows.find((w) => w.name === draft.workflow) || { params: [] };
    const times = model.get("preview");
    return h("div", { class: "wfnb-schedule-form", key: "form" },
      h("div", { class: "wfnb-subtitle" }, "Add a schedule"),
      h("div", { class: "wfnb-form-row" },
        fieldBox("workflow", "Workflow", h("select", { name: "workflow", "aria-label": "Workflow", value: draft.workflow || "",
          onchange: (e) => setDraft({ workflow: e.target.value, params: {} }) },
          workflows.map((w) => h("option", { value: w.name }, w.title && w.title !== w.name ? `${w.title} (${w.name})` : w.name)))),
        fieldBox("cron", "Cron", h("input", { type: "text", name: "cron", "aria-label": "Cron", class: "wfnb-cron",
          value: draft.cron || "", spellcheck: "false", oninput: (e) => setDraft({ cron: e.target.value }) }),
          "minute hour day-of-month month day-of-week, e.g. 0 6 * * 1-5"),
        fieldBox("timezone", "Time zone", h("input", { type: "text", name: "timezone", "aria-label": "Time zone",
          list: "wfnb-timezones", value: draft.timezone || "", spellcheck: "false",
          oninput: (e) => setDraft({ timezone: e.target.value }) })),
        fieldBox("catchup", "Missed runs", h("select", { name: "catchup", "aria-label": "Missed runs", value: draft.catchup || "none",
          onchange: (e) => setDraft({ catchup: e.target.value }) },
          model.get("catchups").map((c) => h("option", { value: c },
            { none: "skip them", latest: "run the latest", all: "run each" }[c] || c))))),
      wf.params.length ? h("div", { class: "wfnb-form-row wfnb-schedule-params" },
        wf.params.map((p) => fieldBox(`params.${p.name}`, `${p.label || p.name}${p.required ? " *" : ""}`,
          paramControl(p, (draft.params || {})[p.name]), p.description))) : null,
      h("div", { class: "wfnb-preview", "aria-live": "polite" },
        times.length ? [h("span", { class: "wfnb-muted" }, `Next runs (${draft.timezone}): `),
          h("ol", { class: "wfnb-preview-times" }, times.map((t) => h("li", { key: t }, t)))]
          : h("span", { class: "wfnb-muted" }, "Next runs appear here once the cron and the time zone are right.")),
      h("button", { class: "wfnb-btn wfnb-primary wfnb-add", onclick: () => send({ action: "add", draft: model.get("draft") }) }, "Add Schedule"),
      h("datalist", { id: "wfnb-timezones" }, model.get("timezones").map((z) => h("option", { value: z }))));
  }

  // a schedule: what and with which arguments, when (cron in its zone), its next runs, its
  // state and Pause / Resume / Delete; Delete asks first, in a row of its own below
  function row(s) {
    const asking = confirming === s.id;
    const actions = !s.can_change
      ? h("span", { class: "wfnb-muted", title: "Changing it needs RUN_WORKFLOW for this workflow" }, "view only")
      : [s.paused ? h("button", { class: "wfnb-btn wfnb-resume", onclick: () => send({ action: "resume", id: s.id }) }, "Resume")
        : h("button", { class: "wfnb-btn wfnb-pause", onclick: () => send({ action: "pause", id: s.id }) }, "Pause"),
      h("button", { class: "wfnb-btn wfnb-delete", disabled: asking, onclick: () => { confirming = s.id; draw(); } }, "Delete")];
    return [
      h("tr", { class: `wfnb-schedule${s.paused ? " wfnb-paused" : ""}`, key: s.id, "data-schedule": s.id },
        h("td", { class: "wfnb-workflow" }, h("div", {}, s.workflow),
          s.arguments ? h("div", { class: "wfnb-arguments wfnb-muted" }, s.arguments) : null),
        h("td", { class: "wfnb-when" }, h("code", { class: "wfnb-cron-text" }, s.cron),
          h("div", { class: "wfnb-zone wfnb-muted" }, s.timezone)),
        h("td", { class: "wfnb-next" }, s.paused ? h("span", { class: "wfnb-muted" }, "—")
          : h("ol", { class: "wfnb-next-runs" }, s.next_runs.map((t) => h("li", { key: t }, t)))),
        h("td", { class: "wfnb-state" }, s.paused ? h("span", { class: "wfnb-status wfnb-s-Cancelled" }, "Paused")
          : h("span", { class: "wfnb-status wfnb-s-Completed" }, "Active")),
        h("td", { class: "wfnb-actions" }, h("div", { class: "wfnb-stack" }, actions))),
      asking ? h("tr", { class: "wfnb-confirm-row", key: `${s.id}-confirm`, "data-schedule": s.id },
        h("td", { colspan: 5 }, confirmBox(`Delete the schedule of ${s.workflow} (${s.cron}, ${s.timezone})?`, "Delete",
          () => { confirming = null; send({ action: "delete", id: s.id }); draw(); },
          () => { confirming = null; draw(); }))) : null,
    ];
  }

  function draw() {
    const list = model.get("schedules"), problems = model.get("errors");
    patch(root,
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, "Schedules"),
        h("button", { class: "wfnb-btn wfnb-close", onclick: () => send({ action: "close" }) }, "Close")),
      model.get("error") ? h("div", { class: "wfnb-error" }, model.get("error")) : null,
      model.get("message") ? h("div", { class: `wfnb-message${Object.keys(problems).length ? " wfnb-error" : ""}` }, model.get("message")) : null,
      list.length ? h("div", { class: "wfnb-table-scroll" }, h("table", { class: "wfnb-table wfnb-schedules-table" },
        h("thead", {}, h("tr", {}, ["Workflow", "When", "Next runs", "State", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, list.map(row))))
        : model.get("error") ? null : h("div", { class: "wfnb-muted wfnb-empty" }, "No schedules yet."),
      model.get("can_add") && model.get("draft").workflow !== undefined ? form() : null);
  }
  for (const name of ["schedules", "workflows", "can_add", "draft", "preview", "errors", "message", "error", "timezones"])
    model.on(`change:${name}`, draw);
  draw();
}

export default { render };
