
// ---- approval_form.js: forms shared by the run dialog, Run Details and the approvals inbox --
// One input per parameter, and the decision form of a step waiting for approval. What the user
// types lives in drafts the view keeps, and inputs are controlled (`value:`), so a repaint
// neither loses it nor overwrites the field being typed in.

function shownValue(field, value) {
  if (value === null || value === undefined) return "";
  if (field.type === "list") return Array.isArray(value) ? value.join(", ") : String(value);
  if (field.type === "json") return typeof value === "string" ? value : JSON.stringify(value);
  return String(value);
}

// the control of one parameter; onChange gets the typed text (a checkbox: true / false)
function fieldInput(field, value, onChange, id, invalid) {
  const set = (e) => onChange(field.type === "bool" ? e.target.checked : e.target.value);
  const base = { id, name: field.name, "aria-invalid": invalid ? "true" : null };
  if (field.type === "bool")
    return h("input", { ...base, type: "checkbox", checked: value === true || value === "true", onchange: set });
  if (field.type === "choice")
    return h("select", { ...base, value: shownValue(field, value), onchange: set, oninput: set },
      h("option", { value: "" }, "—"), (field.choices || []).map((c) => h("option", { value: String(c) }, String(c))));
  if (field.type === "json") return h("textarea", { ...base, rows: 3, value: shownValue(field, value), oninput: set });
  const type = { int: "number", float: "number", date: "date", datetime: "datetime-local" }[field.type] || "text";
  return h("input", { ...base, type, value: shownValue(field, value), oninput: set,
    step: field.type === "int" ? "1" : field.type === "float" ? "any" : null,
    min: field.min ?? null, max: field.max ?? null });
}

// a labelled field; a problem marks it (wfnb-invalid: a red border) and is written under it
function fieldRow(field, value, onChange, error, idBase) {
  const id = `${idBase}-${field.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
  return h("div", { class: `wfnb-field${error ? " wfnb-invalid" : ""}`, "data-field": field.name, key: field.name },
    h("label", { for: id }, field.label || field.name,
      field.required ? h("span", { class: "wfnb-required", title: "required" }, " *") : null),
    fieldInput(field, value, onChange, id, !!error),
    field.description ? h("div", { class: "wfnb-help" }, field.description) : null,
    error ? h("div", { class: "wfnb-field-error" }, error) : null);
}

function untilText(iso) {
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  if (s <= 0) return "passed";
  const m = Math.round(s / 60);
  if (m < 60) return `in ${Math.max(1, m)} min`;
  if (m < 24 * 60) return `in ${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ""}`;
  const hours = Math.round(s / 3600);
  return `in ${Math.floor(hours / 24)} d${hours % 24 ? ` ${hours % 24} h` : ""}`;
}

function deadlineText(a) {
  if (!a.deadline) return null;
  const then = a.on_timeout === "approve" ? "approved" : "rejected";
  return h("div", { class: "wfnb-deadline" }, "Deadline: ",
    h("time", { datetime: a.deadline }, new Date(a.deadline).toLocaleString()),
    ` (${untilText(a.deadline)}); without a decision it is ${then}.`);
}

// The decision form of a waiting step `a` ({run_id, step, approvers, fields, description,
// deadline, on_timeout, since, can_decide}). `drafts` (a Map) keeps what is typed, `problem`
// ({fields, message}) is the last refused decision, `send(content)` posts the decision.
function approvalForm(a, drafts, problem, send, idBase) {
  const key = `${a.run_id}:${a.step}`;
  const head = h("div", { class: "wfnb-decision-head" }, h("b", {}, a.step), " waits for approval",
    a.since ? [" · waiting ", elapsed(null, a.since)] : null);
  const about = [a.description ? h("div", { class: "wfnb-help" }, a.description) : null, deadlineText(a)];
  if (!a.can_decide)
    return h("div", { class: "wfnb-decision wfnb-decision-other", key, "data-step": a.step }, head, about,
      h("div", { class: "wfnb-waiting-for wfnb-muted" },
        `Waiting for ${(a.approvers || []).join(", ") || "an approver"}`));
  if (!drafts.has(key)) {
    const inputs = {};
    for (const f of a.fields) if (f.default !== null && f.default !== undefined) inputs[f.name] = f.default;
    drafts.set(key, { inputs, comment: "" });
  }
  const draft = drafts.get(key), errors = (problem && problem.fields) || {};
  const names = new Set(a.fields.map((f) => f.name));
  const stray = Object.entries(errors).filter(([name]) => !names.has(name)).map(([n, m]) => `${n}: ${m}`);
  const fields = a.fields.map((f) => fieldRow(f, draft.inputs[f.name],
    (v) => { draft.inputs[f.name] = v; }, errors[f.name], `${idBase}-${key}`));
  const decide = (action) => send({ action, run_id: a.run_id, step: a.step, comment: draft.comment,
    inputs: action === "approve" ? { ...draft.inputs } : {} });
  return h("div", { class: "wfnb-decision", key, "data-step": a.step }, head, about,
    h("div", { class: "wfnb-decision-fields" }, fields,
      h("div", { class: "wfnb-field wfnb-comment-field" },
        h("label", { for: `${idBase}-${key}-comment`.replace(/[^A-Za-z0-9_-]/g, "_") }, "Comment"),
        h("input", { type: "text", class: "wfnb-comment", id: `${idBase}-${key}-comment`.replace(/[^A-Za-z0-9_-]/g, "_"),
          placeholder: "optional", value: draft.comment, oninput: (e) => { draft.comment = e.target.value; } })),
      h("div", { class: "wfnb-decision-actions" },
        h("button", { class: "wfnb-btn wfnb-primary wfnb-approve", onclick: () => decide("approve") }, "Approve"),
        h("button", { class: "wfnb-btn wfnb-danger wfnb-reject", onclick: () => decide("reject") }, "Reject"))),
    problem && (problem.message || stray.length)
      ? h("div", { class: "wfnb-error wfnb-decision-error", role: "alert" }, [problem.message, ...stray].filter(Boolean).join("; "))
      : null);
}
