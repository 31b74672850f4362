"""Real JupyterLab (or Notebook 7) and Debian's Chromium, driven by Playwright, for the view tests."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, ROOT, poll

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "screenshots"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

playwright_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):  # ./dev test installs it; say so rather than pass silently
    pytest.fail(f"{CHROMIUM} is missing: run ./dev test (it installs Debian's chromium)",
                pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, app: str, path: str, users: dict[str, str] | None = None):
    """A Jupyter server (``jupyterlab`` or ``notebook``) on ``root``; yields the page URL.

    ``users`` (token -> user name): each token logs in as its user (``tests.identity``), and
    the URL yielded has no token: add ``?token=<one of them>``. The server then has no token
    of its own, as under JupyterHub: JupyterLab puts the server's token in its page and sends
    it with every request, which would make every page act as the server's anonymous user."""
    port, token = free_port(), secrets.token_hex(8)
    # JupyterLab's settings and workspaces under root: a test that switches the theme does not
    # change the user's JupyterLab, nor another test's, and none inherits the user's settings
    env = {**os.environ, "WFNB_WORKSPACE": str(root / "examples"), "WFNB_USER": "tester",
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / ".lab-workspaces")}
    identity = []
    if users:
        token = ""
        identity = ["--ServerApp.identity_provider_class=tests.identity.TokenUsers",
                    f"--TokenUsers.users={json.dumps(users)}"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    quiet = root / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    quiet.mkdir(parents=True, exist_ok=True)  # no news question, no update check (closed network)
    (quiet / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    log = open(root / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", f"--port={port}",
         f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1", "--allow-root",
         f"--ServerApp.root_dir={root}", *identity], env=env, stdout=log,
        stderr=subprocess.STDOUT)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api?token={token}", timeout=2)
            return True
        except OSError:
            return False
    try:
        poll(up, timeout=90, interval=0.3, what="JupyterLab to answer")
        yield (f"http://127.0.0.1:{port}/{path}" if users else
               f"http://127.0.0.1:{port}/{path}?token={token}")
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def workspace_copy(root: Path) -> Path:
    shutil.copytree(EXAMPLES, root / "examples",
                    ignore=shutil.ignore_patterns(".wfnb", "__pycache__"))
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "Gallery.ipynb", root / "notebooks" / "Gallery.ipynb")
    return root


def accept_dialog(page) -> None:
    """Notebook 7 sometimes asks which kernel to use while it starts: take its default."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        page.screenshot(path=str(SHOTS / "dialog.png"))
        dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.first.wait_for(state="detached")


@contextlib.contextmanager
def gallery_open(browser, url: str, wait_idle: bool = True):
    """A page on the gallery notebook, all cells run, the cards drawn. (Notebook 7 shows no
    "Idle" text; cells run there once the kernel is up, as they are queued.)"""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        page.goto(url)
        page.wait_for_selector(".jp-Notebook")
        if wait_idle:
            page.wait_for_function("() => document.body.innerText.includes('Idle')",
                                   timeout=90_000)
        else:  # Notebook 7 may first ask for the kernel
            try:
                page.wait_for_selector(".jp-Dialog", timeout=5_000)
            except playwright_api.TimeoutError:
                pass
        # Run All Cells, again if the kernel was not ready to take them (Notebook 7 shows no
        # status text to wait for): each try waits for the cards with a deadline
        for attempt in range(4):
            accept_dialog(page)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            try:
                page.wait_for_selector(".wfnb-card", timeout=30_000)
                break
            except playwright_api.TimeoutError:
                if attempt == 3:
                    raise
        news = page.locator(".jp-toast-button:text-is('No')")  # JupyterLab's news question
        if news.count():
            news.first.click()
        yield page
    finally:
        page.close()


def card(page, workflow):
    return page.locator(f".wfnb-card[data-workflow='{workflow}']")


def field(page, name):
    return page.locator(f".wfnb-run-dialog .wfnb-field[data-field='{name}']")


# --- themes and contrast -------------------------------------------------------------------

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def set_theme(page, theme: str) -> None:
    """Switch JupyterLab's theme ("light" or "dark") through Settings → Theme, and wait until
    it is applied (the body says so and the theme's own background colour is in force)."""
    page.keyboard.press("Escape")  # no menu left open
    page.click(".lm-MenuBar-itemLabel:text-is('Settings')")
    page.click(".lm-Menu-itemLabel:text-is('Theme')")
    page.click(f".lm-Menu-itemLabel:text-is('{THEMES[theme]}')")
    light = "true" if theme == "light" else "false"
    page.wait_for_function(
        f"""() => document.body.dataset.jpThemeLight === "{light}"
                 && document.body.dataset.jpThemeName === "{THEMES[theme]}" """)
    poll(lambda: (luminance(theme_colour(page, "--jp-layout-color1")) > 0.5) == (theme == "light"),
         timeout=20, interval=0.1, what=f"the {theme} theme's colours")


# The colours a user sees, computed in the page. A text's colour is its element's `color`
# (`fill` in SVG); its background is every background-color from the page down to the element
# composited in order (alpha colours over what is below, `opacity` over what is behind), plus,
# in SVG, the filled shapes drawn before the text in its group (a graph node's rect). Computed
# colours come as rgb()/rgba() or, from color-mix(), color(srgb r g b / a); anything else is
# painted on a canvas and read back.
CONTRAST_JS = r"""
(() => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  function parse(s) {
    s = (s || "").trim();
    if (s === "transparent" || s === "none" || s === "") return s === "transparent" ? [0, 0, 0, 0] : null;
    let m = s.match(/^rgba?\(([^)]*)\)$/);
    if (m) {
      const p = m[1].split(/[\s,\/]+/).filter(Boolean);
      const v = p.map((x, i) => x.endsWith("%") ? parseFloat(x) / (i < 3 ? 100 / 255 : 100) : parseFloat(x));
      return [v[0] / 255, v[1] / 255, v[2] / 255, v.length > 3 ? v[3] : 1];
    }
    m = s.match(/^color\(srgb\s+([^)]*)\)$/);
    if (m) {
      const p = m[1].split(/[\s\/]+/).filter(Boolean)
        .map((x) => x === "none" ? 0 : x.endsWith("%") ? parseFloat(x) / 100 : parseFloat(x));
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "#010203";
    ctx.fillStyle = s;
    if (ctx.fillStyle === "#010203" && s !== "#010203") return null;  // not a colour
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return d[3] ? [d[0] / 255, d[1] / 255, d[2] / 255, d[3] / 255] : [0, 0, 0, 0];
  }
  const over = (src, dst) => [0, 1, 2].map((i) => src[3] * src[i] + (1 - src[3]) * dst[i]).concat([1]);
  const mix = (a, b, t) => [0, 1, 2].map((i) => t * a[i] + (1 - t) * b[i]).concat([1]);
  const lin = (c) => c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const css = (c) => `rgb(${c.slice(0, 3).map((v) => Math.round(v * 255)).join(", ")})`;

  // shapes painted before `el` inside its SVG whose box holds the text's centre, bottom first
  function svgUnder(el) {
    const box = el.getBBox(), cx = box.x + box.width / 2, cy = box.y + box.height / 2, found = [];
    for (let n = el; n && !(n instanceof SVGSVGElement); n = n.parentNode) {
      for (let s = n.previousElementSibling; s; s = s.previousElementSibling) {
        if (!(s instanceof SVGGeometryElement) || s.closest("defs")) continue;
        const st = getComputedStyle(s), fill = parse(st.fill);
        if (!fill || st.display === "none" || st.visibility === "hidden") continue;
        const b = s.getBBox();
        if (cx < b.x || cx > b.x + b.width || cy < b.y || cy > b.y + b.height) continue;
        fill[3] *= parseFloat(st.fillOpacity) * parseFloat(st.opacity);
        found.unshift(fill);
      }
    }
    return found;
  }

  // {fg, bg, ratio} for the text of `el`; fgOverride: a colour string for the text (placeholder)
  function colours(el, fgOverride) {
    const isSvg = el instanceof SVGElement && !(el instanceof SVGSVGElement);
    const st = getComputedStyle(el);
    const fgRaw = fgOverride || (isSvg ? st.fill : st.color);
    const fg = parse(fgRaw);
    if (!fg) return { error: `cannot read the text colour ${JSON.stringify(fgRaw)}` };
    if (isSvg) fg[3] *= parseFloat(st.fillOpacity);
    const top = isSvg ? el.ownerSVGElement : el, layers = [];
    for (let n = top; n && n.nodeType === 1; n = n.parentElement) {
      const s = getComputedStyle(n), bg = parse(s.backgroundColor);
      if (!bg) return { error: `cannot read the background ${JSON.stringify(s.backgroundColor)}` };
      layers.unshift({ bg, opacity: parseFloat(s.opacity) });
    }
    const extra = isSvg ? svgUnder(el) : [];
    function paint(i, base) {
      let c = over(layers[i].bg, base), res;
      if (i === layers.length - 1) {
        for (const s of extra) c = over(s, c);
        res = { bg: c, fg: over(fg, c) };
      } else res = paint(i + 1, c);
      const o = layers[i].opacity;
      return o < 1 ? { bg: mix(res.bg, base, o), fg: mix(res.fg, base, o) } : res;
    }
    const res = paint(0, [1, 1, 1, 1]);  // the canvas under the page is white
    return { fg: css(res.fg), bg: css(res.bg), ratio: Math.round(ratio(res.fg, res.bg) * 100) / 100,
             fgLum: lum(res.fg), bgLum: lum(res.bg), raw: fgRaw };
  }

  function describe(el) {
    const parts = [];
    for (let n = el; n && parts.length < 4; n = n.parentElement) {
      let p = n.tagName.toLowerCase();
      const cls = [...n.classList].filter((c) => c.startsWith("wfnb-"));
      if (cls.length) p += "." + cls.join(".");
      for (const a of ["data-step", "data-field", "data-workflow"]) if (n.hasAttribute(a)) p += `[${a}='${n.getAttribute(a)}']`;
      parts.unshift(p);
      if (n.matches(".wfnb-gallery, .wfnb-panel")) break;
    }
    return parts.join(" > ");
  }

  const shown = (el) => el.checkVisibility({ opacityProperty: true, visibilityProperty: true,
    checkOpacity: true, checkVisibilityCSS: true }) && el.getClientRects().length > 0;
  // WCAG 1.4.3 exempts the text of inactive controls
  const inactive = (el) => !!el.closest(":disabled, [aria-disabled='true']");
  const TEXT_INPUTS = new Set(["text", "search", "number", "date", "datetime-local", "time", "email",
    "url", "tel", "password", "month", "week", "button", "submit", "reset"]);

  // every visible text inside the wfnb views (and the text in their inputs, selects and
  // placeholders); returns the failures under `min` and how many texts were checked
  function audit(min, scope) {
    const roots = [...document.querySelectorAll(scope || ".wfnb-gallery, .wfnb-panel")]
      .filter((r) => !r.parentElement.closest(".wfnb-gallery, .wfnb-panel"));
    const failures = [], seen = new Set();
    let checked = 0;
    function check(el, text, fgOverride, what) {
      const key = `${what}|${text}`;
      const c = colours(el, fgOverride);
      checked++;
      if (c.error || c.ratio < min) {
        const f = { selector: describe(el) + (what ? ` ${what}` : ""), text: text.slice(0, 60),
                    fg: c.fg, bg: c.bg, ratio: c.ratio, error: c.error };
        const id = JSON.stringify([f.selector, f.fg, f.bg]);
        if (!seen.has(id)) { seen.add(id); failures.push(f); }
      }
    }
    for (const root of roots) {
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const text = t.nodeValue.trim(), el = t.parentElement;
        if (!text || !el || el.closest("option, select, textarea, script, style, title, defs")) continue;
        if (!shown(el) || inactive(el)) continue;
        const range = document.createRange();
        range.selectNodeContents(t);
        if (![...range.getClientRects()].some((r) => r.width > 0 && r.height > 0)) continue;
        check(el, text);
      }
      for (const el of root.querySelectorAll("input, select, textarea")) {
        if (!shown(el) || inactive(el)) continue;
        if (el.tagName === "INPUT" && !TEXT_INPUTS.has(el.type)) continue;
        const text = el.tagName === "SELECT" ? (el.selectedOptions[0] || {}).text || "" : el.value;
        if (text.trim()) check(el, text.trim(), null, "(value)");
        else if (el.placeholder) check(el, el.placeholder, getComputedStyle(el, "::placeholder").color, "::placeholder");
      }
    }
    return { failures, checked };
  }

  // a theme variable's colour, resolved by the browser
  function themeColour(name) {
    const probe = document.createElement("div");
    probe.style.backgroundColor = `var(${name})`;
    document.body.append(probe);
    const c = parse(getComputedStyle(probe).backgroundColor);
    probe.remove();
    return c;
  }
  // colours() of each visible element matching `selector`, with where it is and its text
  function each(selector) {
    return [...document.querySelectorAll(selector)].filter(shown).map((el) => (
      { selector: describe(el), text: (el.textContent || "").trim().slice(0, 60), ...colours(el) }));
  }
  return { parse, colours, audit, themeColour, each, ratio, lum };
})()
"""


def _js(body: str) -> str:
    return f"(arg) => {{ const C = {CONTRAST_JS}; {body} }}"


def contrast_audit(page, minimum: float = 4.5, scope: str | None = None) -> dict:
    """Every visible text in the wfnb views whose contrast is under ``minimum``:
    ``{"failures": [{selector, text, fg, bg, ratio}], "checked": n}``."""
    return page.evaluate(_js("return C.audit(arg.min, arg.scope);"),
                         {"min": minimum, "scope": scope})


def colours(locator) -> dict:
    """What a user sees of one element's text: ``{fg, bg, ratio, fgLum, bgLum}`` (colours as
    ``rgb()``; bg is the composited background behind it)."""
    return locator.evaluate(f"(el) => ({CONTRAST_JS}).colours(el)")


def colours_of(page, selector: str) -> list[dict]:
    """:func:`colours` of every visible element matching ``selector``, each with its
    ``selector`` path and ``text``."""
    return page.evaluate(_js("return C.each(arg);"), selector)


def theme_colour(page, variable: str) -> list[float]:
    """A JupyterLab theme variable (``--jp-layout-color1``) as [r, g, b, a] in 0..1."""
    return page.evaluate(_js("return C.themeColour(arg);"), variable)


def luminance(rgb) -> float:
    """WCAG relative luminance of [r, g, b] in 0..1, or of an ``rgb(R, G, B)`` string."""
    if isinstance(rgb, str):
        rgb = [int(v) / 255 for v in rgb[rgb.index("(") + 1:-1].split(",")[:3]]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b) -> float:
    """WCAG contrast ratio of two colours (as for :func:`luminance`)."""
    x, y = sorted((luminance(a), luminance(b)))
    return (y + 0.05) / (x + 0.05)
