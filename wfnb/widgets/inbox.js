// The approvals inbox: one card per step waiting for this user's decision, decided inline.
// (approvalForm comes from approval_form.js, appended to this module.)
function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-inbox" });
  el.append(root);
  const uid = `wfnb-ib-${Math.random().toString(36).slice(2, 8)}`;
  const drafts = new Map();

  function item(a) {
    const problems = model.get("decision_errors") || {};
    return h("div", { class: "wfnb-inbox-item", key: `${a.run_id}:${a.step}`, "data-run": a.run_id, "data-step": a.step },
      h("div", { class: "wfnb-inbox-head" },
        h("span", { class: "wfnb-inbox-what" },
          h("span", { class: "wfnb-inbox-workflow" }, a.workflow), " · ", h("code", { class: "wfnb-inbox-run" }, a.run_id),
          h("span", { class: "wfnb-muted" }, ` · started by ${a.started_by} · waiting `, elapsed(null, a.since))),
        h("button", { class: "wfnb-btn wfnb-view-details", onclick: () => model.send({ action: "details", run_id: a.run_id }) }, "View Details")),
      approvalForm(a, drafts, problems[`${a.run_id}:${a.step}`], (c) => model.send(c), uid));
  }

  function draw() {
    const items = model.get("items"), back = model.get("back");
    patch(root,
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, "Approvals waiting for you",
          h("span", { class: "wfnb-inbox-count" }, ` (${items.length})`)),
        h("button", { class: `wfnb-btn wfnb-close${back ? " wfnb-back" : ""}`, title: back ? `Back to ${back}` : "Close",
          onclick: () => model.send({ action: "close" }) }, back ? "‹ Back" : "Close")),
      model.get("error") ? h("div", { class: "wfnb-error" }, model.get("error")) : null,
      items.length ? h("div", { class: "wfnb-inbox-items" }, items.map(item))
        : h("div", { class: "wfnb-muted wfnb-inbox-empty" }, `Nothing is waiting for a decision by ${model.get("user")}.`));
  }
  for (const name of ["items", "decision_errors", "error", "back", "user"]) model.on(`change:${name}`, draw);
  draw();
  return startTicker(root);
}

export default { render };
