"""The views' shared renderer (common.js) in Chromium: a repaint patches the page in place, so
what the user is typing, focus and rows survive live updates."""
from __future__ import annotations

import pytest

from tests.browser.lab import CHROMIUM, FLAGS, playwright_api
from wfnb.widgets.assets import HERE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = chromium.new_page()
        page.set_content("<div id=root></div>")
        page.add_script_tag(content=(HERE / "common.js").read_text())
        yield page
        chromium.close()


def test_nested_lists_of_rows_render_as_rows_not_as_object_text(page):
    text = page.evaluate("""() => {
        const rows = [["a", "b"], ["c"]].map((cells) => [h("tr", {}, cells.map((c) => h("td", {}, c))), null]);
        const table = h("table", {}, h("tbody", {}, rows));
        patch(document.getElementById("root"), table);
        return document.getElementById("root").innerText;
    }""")
    assert "object" not in text and "a\tb" in text and "c" in text


def test_a_repaint_keeps_focus_and_the_text_being_typed(page):
    page.evaluate("""() => {
        window.paint = (rows, value) => patch(document.getElementById("root"),
          h("input", { class: "filter", value }),
          h("ul", {}, rows.map((r) => h("li", { key: r }, r))));
        paint(["r1", "r2"], "");
    }""")
    page.click("input.filter")
    page.keyboard.type("sal")
    # a live update arrives while the user types: the model still holds the older text
    page.evaluate("""() => { window.li = document.querySelector("li[data-key=r2]"); paint(["r0", "r1", "r2"], "s"); }""")
    page.keyboard.type("es")
    state = page.evaluate("""() => ({ value: document.querySelector("input.filter").value,
        focused: document.activeElement.className,
        rows: [...document.querySelectorAll("li")].map((li) => li.textContent),
        same: document.querySelector("li[data-key=r2]") === window.li })""")
    assert state == {"value": "sales", "focused": "filter", "rows": ["r0", "r1", "r2"],
                     "same": True}


def test_a_controlled_input_follows_the_model_when_not_being_typed_in(page):
    value = page.evaluate("""() => {
        const root = document.getElementById("root");
        patch(root, h("input", { class: "x", value: "one" }));
        document.activeElement.blur();
        patch(root, h("input", { class: "x", value: "two" }));
        return root.querySelector("input.x").value;
    }""")
    assert value == "two"


def test_handlers_are_those_of_the_latest_paint(page):
    clicked = page.evaluate("""() => {
        const root = document.getElementById("root"), got = [];
        patch(root, h("button", { onclick: () => got.push("old") }, "Go"));
        patch(root, h("button", { onclick: () => got.push("new") }, "Go"));
        root.querySelector("button").click();
        return got;
    }""")
    assert clicked == ["new"]


def test_rows_leave_and_reorder_by_key(page):
    rows = page.evaluate("""() => {
        const root = document.getElementById("root");
        const draw = (ids) => patch(root, h("ul", {}, ids.map((i) => h("li", { key: i }, `run ${i}`))));
        draw(["a", "b", "c"]);
        const b = root.querySelector("li[data-key=b]");
        draw(["c", "b"]);
        return { text: [...root.querySelectorAll("li")].map((li) => li.textContent),
                 kept: root.querySelector("li[data-key=b]") === b };
    }""")
    assert rows == {"text": ["run c", "run b"], "kept": True}
