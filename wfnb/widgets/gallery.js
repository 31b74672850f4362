// The gallery: cards drawn from the `cards` trait; buttons send intents to Python.
function render({ model, el }) {
  const root = h("div", { class: "wfnb-gallery" });
  el.append(root);
  const search = h("input", { class: "wfnb-search", type: "search",
    placeholder: "Search workflows", "aria-label": "Search workflows" });
  search.value = model.get("query");
  search.addEventListener("input", () => { model.set("query", search.value); model.save_changes(); draw(); });
  const header = h("div", { class: "wfnb-gallery-header" },
    h("span", { class: "wfnb-title" }, "Workflows"), search,
    h("button", { class: "wfnb-btn wfnb-view-all", onclick: () => model.send({ action: "runs" }) }, "View Runs"));
  const grid = h("div", { class: "wfnb-cards" });
  const error = h("div", { class: "wfnb-error" });
  const problems = h("div", { class: "wfnb-problems", role: "status" });
  root.append(header, error, problems, grid);

  // broken workflow files: their workflows have no card and cannot be run until fixed
  function drawProblems() {
    const list = model.get("problems") || [];
    problems.hidden = !list.length;
    if (!list.length) return problems.replaceChildren();
    const files = new Set(list.map((p) => p.file)).size;
    fill(problems,
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

  function draw() {
    error.textContent = model.get("error");
    drawProblems();
    const q = (model.get("query") || "").toLowerCase();
    grid.replaceChildren();
    for (const c of model.get("cards")) {
      const text = `${c.title} ${c.description} ${c.tags.join(" ")} ${c.name}`.toLowerCase();
      if (q && !text.includes(q)) continue;
      const last = c.last_status
        ? h("span", { class: `wfnb-status wfnb-s-${c.last_status.replace(/ /g, "-")}` },
            c.last_status, " ", h("small", {}, ago(c.last_time)))
        : h("span", { class: "wfnb-muted" }, "never run");
      grid.append(h("div", { class: "wfnb-card", "data-workflow": c.name },
        h("div", { class: "wfnb-card-title" }, c.title),
        h("div", { class: "wfnb-card-desc" }, c.description),
        h("div", { class: "wfnb-tags" }, c.tags.map((t) => h("span", { class: "wfnb-tag" }, t)),
          c.kinds.map((k) => h("span", { class: "wfnb-kind" }, `${k} steps`))),
        h("div", { class: "wfnb-card-last" }, "Last run: ", last,
          c.next_run ? h("span", { class: "wfnb-next" }, ` · next ${new Date(c.next_run).toLocaleString()}`) : null),
        h("div", { class: "wfnb-card-actions" },
          c.can_run ? h("button", { class: "wfnb-btn wfnb-primary wfnb-run",
            onclick: () => model.send({ action: "run", workflow: c.name }) }, "Run") : null,
          h("button", { class: "wfnb-btn wfnb-runs",
            onclick: () => model.send({ action: "runs", workflow: c.name }) }, "View Runs"),
          h("button", { class: "wfnb-btn wfnb-open-editor", title: c.declared ? "Graph, tests and edits" : "Graph and tests (defined in Python: read-only)",
            onclick: () => model.send({ action: "editor", workflow: c.name }) }, "Editor"))));
    }
    if (!grid.children.length) grid.append(h("div", { class: "wfnb-muted" }, "No workflow matches."));
  }
  model.on("change:cards", draw);
  model.on("change:error", draw);
  model.on("change:problems", drawProblems);
  draw();
}

export default { render };
