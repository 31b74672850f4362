// Two runs side by side: the parameters that differ, each step's status, duration, attempts
// and reuse, and the results that differ, path by path (a is the earlier run, b the later).
function render({ model, el }) {
  const root = h("div", { class: "wfnb-panel wfnb-compare" });
  el.append(root);
  const show = (v) => (typeof v === "string" && v.startsWith("<") ? v : JSON.stringify(v));
  const side = (s) => s.status === null ? h("td", { class: "wfnb-muted" }, "—")
    : h("td", {}, statusBadge(s.status), ` ${fmtSeconds(s.duration)}`,
      s.attempts > 1 ? ` ×${s.attempts}` : "", s.reused ? h("span", { class: "wfnb-reused" }, " reused") : "");
  function draw() {
    const c = model.get("comparison"), back = model.get("back");
    if (!c.a) return;
    const runLink = (r) => h("a", { href: "#", class: "wfnb-run-link", onclick: (e) => { e.preventDefault(); model.send({ action: "details", run_id: r.id }); } }, r.id);
    patch(root,
      h("div", { class: "wfnb-panel-head" },
        h("span", { class: "wfnb-title" }, `Compare: ${c.b.workflow}`),
        h("button", { class: `wfnb-btn wfnb-close${back ? " wfnb-back" : ""}`, title: back ? `Back to ${back}` : "Close",
          onclick: () => model.send({ action: "close" }) }, back ? "‹ Back" : "Close")),
      h("div", { class: "wfnb-compare-runs" },
        h("div", {}, h("b", {}, "a "), runLink(c.a), " ", statusBadge(c.a.status)),
        h("div", {}, h("b", {}, "b "), runLink(c.b), " ", statusBadge(c.b.status),
          c.b.rerun_mode ? h("span", { class: "wfnb-muted" }, ` · ${c.b.rerun_mode.replace("_", " ")}`) : "")),
      h("h4", {}, "Parameters"),
      c.params.length
        ? h("table", { class: "wfnb-table wfnb-compare-params" },
          h("thead", {}, h("tr", {}, ["Parameter", "a", "b"].map((x) => h("th", {}, x)))),
          h("tbody", {}, c.params.map((p) => h("tr", { key: p.name }, h("td", {}, p.name),
            h("td", {}, h("code", {}, show(p.a))), h("td", {}, h("code", {}, show(p.b)))))))
        : h("div", { class: "wfnb-muted wfnb-same-params" }, "The same in both runs."),
      h("h4", {}, "Steps"),
      h("table", { class: "wfnb-table wfnb-compare-steps" },
        h("thead", {}, h("tr", {}, ["Step", "a", "b", "Result"].map((x) => h("th", {}, x)))),
        h("tbody", {}, c.steps.map((s) => h("tr", { key: s.step, "data-step": s.step },
          h("td", {}, s.step), side(s.a), side(s.b), h("td", {}, s.result))))),
      Object.keys(c.results).length ? h("h4", {}, "Results that differ") : null,
      Object.entries(c.results).map(([step, d]) => h("div", { class: "wfnb-compare-result", key: step, "data-step": step },
        h("b", {}, step),
        h("table", { class: "wfnb-table" }, h("tbody", {}, d.changes.map((x, i) => h("tr", { key: String(i) },
          h("td", { class: "wfnb-muted" }, x.change), h("td", {}, h("code", {}, x.path)),
          h("td", {}, h("code", {}, show(x.a))), h("td", {}, "→"), h("td", {}, h("code", {}, show(x.b))))))),
        d.more ? h("div", { class: "wfnb-muted" }, `… and ${d.more} more changes`) : null)));
  }
  model.on("change:comparison", draw);
  model.on("change:back", draw);
  draw();
}

export default { render };
