// The gallery: cards drawn from the `cards` trait; buttons send intents to Python. Repaints
// patch the page (cards keyed by workflow), so the search box keeps focus and its text.
function render({ model, el }) {
  const root = h("div", { class: "wfnb-gallery" });
  el.append(root);

  function header() {
    const waiting = model.get("approvals");
    return h("div", { class: "wfnb-gallery-header" },
      h("span", { class: "wfnb-title" }, "Workflows"),
      h("input", { class: "wfnb-search", type: "search", placeholder: "Search workflows", "aria-label": "Search workflows",
        value: model.get("query"),
        oninput: (e) => { model.set("query", e.target.value); model.save_changes(); draw(); } }),
      waiting >= 0 ? h("button", { class: `wfnb-btn wfnb-approvals${waiting ? " wfnb-has-waiting" : ""}`,
        title: "Approvals waiting for your decision", onclick: () => model.send({ action: "inbox" }) },
        "Approvals", h("span", { class: "wfnb-count" }, String(waiting))) : null,
      h("button", { class: "wfnb-btn wfnb-schedules", onclick: () => model.send({ action: "schedules" }) }, "Schedules"),
      h("button", { class: "wfnb-btn wfnb-view-all", onclick: () => model.send({ action: "runs" }) }, "View Runs"));
  }

  // broken workflow files: their workflows have no card and cannot be run until fixed
  function problems() {
    const list = model.get("problems") || [];
    if (!list.length) return null;
    const files = new Set(list.map((p) => p.file)).size;
    return h("div", { class: "wfnb-problems", role: "status" },
      h("div", { class: "wfnb-problems-head" },
        h("strong", {}, `${files} workflow file${files === 1 ? "" : "s"} could not be loaded`),
        h("span", { class: "wfnb-muted" }, files === 1
          ? " – what it defines is left out until it is fixed"
          : " – what they define is left out until they are fixed"),
        h("button", { class: "wfnb-btn wfnb-problems-reload", title: "Load the workflow files again",
          onclick: () => model.send({ action: "reload" }) }, "Check again")),
      h("ul", {}, list.map((p) => h("li", { class: "wfnb-problem" },
        h("code", { class: "wfnb-problem-where" }, p.line ? `${p.file}:${p.line}` : p.file),
        " ", h("span", { class: "wfnb-problem-message" }, p.message)))));
  }

  function card(c) {
    const last = c.last_status
      ? h("span", { class: `wfnb-status wfnb-s-${c.last_status.replace(/ /g, "-")}` },
          c.last_status, " ", h("small", {}, ago(c.last_time)))
      : h("span", { class: "wfnb-muted" }, "never run");
    return h("div", { class: "wfnb-card", key: c.name, "data-workflow": c.name },
      h("div", { class: "wfnb-card-title" }, c.title),
      h("div", { class: "wfnb-card-desc" }, c.description),
      h("div", { class: "wfnb-tags" }, c.tags.map((t) => h("span", { class: "wfnb-tag" }, t)),
        c.kinds.map((k) => h("span", { class: "wfnb-kind" }, `${k} steps`))),
      h("div", { class: "wfnb-card-last" }, "Last run: ", last,
        c.next_run ? h("span", { class: "wfnb-next" }, ` · next ${new Date(c.next_run).toLocaleString()}`) : null),
      h("div", { class: "wfnb-card-actions" },
        c.can_run ? h("button", { class: "wfnb-btn wfnb-primary wfnb-run",
          onclick: () => model.send({ action: "run", workflow: c.name }) }, "Run") : null,
        h("button", { class: "wfnb-btn wfnb-view-runs",
          onclick: () => model.send({ action: "runs", workflow: c.name }) }, "View Runs"),
        h("button", { class: "wfnb-btn wfnb-open-editor", title: c.declared ? "Graph, tests and edits" : "Graph and tests (defined in Python: read-only)",
          onclick: () => model.send({ action: "editor", workflow: c.name }) }, "Editor")));
  }

  function draw() {
    const q = (model.get("query") || "").toLowerCase();
    const cards = model.get("cards").filter((c) =>
      !q || `${c.title} ${c.description} ${c.tags.join(" ")} ${c.name}`.toLowerCase().includes(q));
    patch(root, header(),
      model.get("error") ? h("div", { class: "wfnb-error" }, model.get("error")) : null,
      problems(),
      h("div", { class: "wfnb-cards" }, cards.length ? cards.map(card)
        : h("div", { class: "wfnb-muted", key: "none" }, "No workflow matches.")));
  }
  for (const name of ["cards", "error", "problems", "approvals"]) model.on(`change:${name}`, draw);
  draw();
}

export default { render };
