"""The course website (`make site`): built offline from the stored outputs, then read in Chromium.

The site is built once for this module into a temporary folder (a few seconds). The static
checks read its HTML; the browser checks open every page from disk in headless Chromium.
"""
from __future__ import annotations

import html.parser
import os
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser_tools import PageLog, launched_chromium, require_module

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = Path(os.environ.get("COURSE_SCREENSHOTS", ROOT / "_build" / "screenshots"))
BUILD_SECONDS_MAX = 120


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_module("sphinx", "building the site")
    require_module("myst_nb", "building the site")
    require_module("jupyter_server_mathjax", "building the site")
    from tools.site import build

    out = tmp_path_factory.mktemp("site") / "html"
    seconds = build(out)
    print(f"\nsite built in {seconds:.1f} s")
    assert seconds < BUILD_SECONDS_MAX, f"the site took {seconds:.0f} s to build"
    return out


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.srcs, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            self.srcs.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.srcs.append(attrs["href"])


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


# ------------------------------------------------------------------ static checks of the built HTML
def test_every_chapter_has_a_page_and_the_home_page_lists_it(site):
    home = _parse(site / "index.html")
    for nb in CHAPTER_NOTEBOOKS:
        assert (site / "chapters" / f"{nb.stem}.html").exists(), f"no page for {nb.name}"
        assert f"chapters/{nb.stem}.html" in home.hrefs, f"the home page does not link {nb.name}"
    # the home page is the README's chapter table, planned chapters included
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "What it teaches" in text or "what it teaches" in text


def test_pages_show_the_stored_outputs_not_fresh_ones(site):
    """The site renders the notebooks as stored (no re-execution): a stored output is on the page."""
    import nbformat

    nb = nbformat.read(CHAPTER_NOTEBOOKS[0], as_version=4)
    stream = next(o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "stream" and o.text.strip())
    line = next(text.strip() for text in stream.text.splitlines() if len(text.strip()) > 8)
    page = (site / "chapters" / f"{CHAPTER_NOTEBOOKS[0].stem}.html").read_text(encoding="utf-8")
    import html as html_lib

    assert html_lib.escape(line, quote=False) in page or line in page


def test_no_page_loads_anything_from_the_network(site):
    from tools.site import cdn_links

    assert cdn_links(site) == []
    for page in _pages(site):
        for src in _parse(page).srcs:
            assert not urlsplit(src).scheme and not src.startswith("//"), f"{page.name} loads {src}"


def test_internal_links_and_anchors_resolve(site):
    checked = 0
    ids = {}
    for page in _pages(site):
        for href in _parse(page).hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith(("//", "mailto:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.exists(), f"{page.relative_to(site)} links to missing {href}"
            if parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _parse(target).ids
                assert parts.fragment in ids[target], f"{page.relative_to(site)}: no #{parts.fragment} in {target.name}"
            checked += 1
    assert checked > 20, f"only {checked} internal links: is the navigation there?"


# ------------------------------------------------------------------ in a real browser
WAIT_FOR_MATH = """() => (window.MathJax && window.MathJax.Hub)
    ? new Promise(resolve => window.MathJax.Hub.Queue(() => resolve(true))) : false"""

PAGE_FACTS = r"""() => {
  const maths = Array.from(document.querySelectorAll('.math.notranslate'));
  const typeset = maths.filter(m => m.querySelector('.MathJax, .MathJax_Display, .MathJax_CHTML, .MathJax_SVG'));
  const texErrors = document.querySelectorAll('.merror, .noError').length;
  const images = Array.from(document.images).map(img => ({src: img.getAttribute('src'),
      ok: img.complete && img.naturalWidth > 0}));
  // text outside code that still looks like TeX: $$, \( \), \[ \], or $...\macro...$
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('pre, code, script, style, .highlight, .MathJax_Preview, .cell_output')) continue;
    const t = n.textContent;
    const tex = t.includes('$$') || /\\\(|\\\)|\\\[|\\\]/.test(t) || /\$[^$\n]*\\[A-Za-z]+[^$\n]*\$/.test(t);
    if (tex) raw.push(t.slice(0, 80));
  }
  const next = document.querySelector('a.right-next');
  return {maths: maths.length, typeset: typeset.length, texErrors, images, raw,
          next: next ? next.href : null,
          nav: Array.from(document.querySelectorAll('.bd-sidebar a.reference.internal')).map(a => a.href)};
}"""


def _figures_in(notebook: Path) -> int:
    """Figures a chapter shows: image outputs plus markdown images."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    outputs = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if {"image/png", "image/svg+xml", "image/jpeg"} & set(o.get("data", {})))
    markdown = sum(c.source.count("![") + c.source.count("<img") for c in nb.cells if c.cell_type == "markdown")
    return outputs + markdown


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as b:
        yield b


def _visit(browser, url: str, screenshot: Path | None = None):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog().attach(page)
    try:
        page.goto(url, wait_until="load", timeout=30_000)
        has_mathjax = page.evaluate(WAIT_FOR_MATH)
        facts = page.evaluate(PAGE_FACTS)
        if screenshot:
            if "chapters/" in url:  # show typeset math and a figure, not only the title
                page.evaluate("() => { const m = document.querySelector('div.math'); if (m) m.scrollIntoView(); }")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
    finally:
        page.close()
    facts["has_mathjax"] = has_mathjax
    return facts, log


def test_every_page_in_chromium(site, browser):
    """Every page, opened from disk: no console error, no failed or outside request, images
    loaded, math typeset; the 'next' links walk the home page through every chapter in order."""
    root = site.resolve().as_uri() + "/"
    start = time.perf_counter()
    totals = {"pages": 0, "requests": 0, "images": 0, "math": 0}
    chapter_03 = next((nb.stem for nb in CHAPTER_NOTEBOOKS if nb.stem.startswith("03_")), CHAPTER_NOTEBOOKS[-1].stem)
    walk, nav, next_of = [], set(), {}
    for page_path in _pages(site):
        rel = page_path.relative_to(site).as_posix()
        shot = {"index.html": SCREENSHOTS / "site_home.png",
                f"chapters/{chapter_03}.html": SCREENSHOTS / f"site_{chapter_03}.png"}.get(rel)
        facts, log = _visit(browser, page_path.as_uri(), shot)
        assert not log.problems(), f"{rel}: " + "; ".join(log.problems()[:10])
        outside = [u for u in log.requests if not (u.startswith((root, "data:")))]
        assert not outside, f"{rel} requests outside the build folder: {outside[:5]}"
        broken = [i["src"] for i in facts["images"] if not i["ok"]]
        assert not broken, f"{rel}: images that did not load: {broken}"
        assert facts["has_mathjax"] or not facts["maths"], f"{rel}: MathJax did not load"
        untypeset = facts["maths"] - facts["typeset"]
        assert untypeset == 0, f"{rel}: {untypeset} math elements not typeset"
        assert facts["texErrors"] == 0, f"{rel}: {facts['texErrors']} TeX errors"
        assert not facts["raw"], f"{rel}: raw TeX left in the text: {facts['raw'][:3]}"
        stem = rel[len("chapters/"):-len(".html")]
        if (ROOT / "chapters" / f"{stem}.ipynb").exists():
            expected = _figures_in(ROOT / "chapters" / f"{stem}.ipynb")
            shown = len(facts["images"])
            assert shown >= expected, f"{rel}: {shown} images shown, the notebook has {expected}"
        next_of[rel] = facts["next"]
        if rel == "index.html":
            nav = {u[len(root):] for u in facts["nav"]}
        totals["pages"] += 1
        totals["requests"] += len(log.requests)
        totals["images"] += len(facts["images"])
        totals["math"] += facts["typeset"]
    # follow the 'next' links the browser saw, from the home page on, as a reader would
    page = "index.html"
    for _ in range(len(next_of)):
        target = next_of.get(page)
        if not target:
            break
        page = target.split("#")[0][len(root):]
        walk.append(page)
    chapters = [f"chapters/{nb.stem}.html" for nb in CHAPTER_NOTEBOOKS]
    assert [w for w in walk if w in chapters] == chapters, f"'next' walks {walk}, not every chapter in order"
    assert set(chapters) <= nav, f"the sidebar does not list every chapter: {sorted(set(chapters) - nav)}"
    assert totals["math"] > 50, f"only {totals['math']} typeset formulas across the site"
    assert (SCREENSHOTS / "site_home.png").stat().st_size > 10_000
    print(f"\nsite in Chromium: {totals['pages']} pages, {totals['requests']} requests (all inside the build folder), "
          f"{totals['images']} images loaded, {totals['math']} formulas typeset, 'next' walk {len(walk)} pages, "
          f"{time.perf_counter() - start:.1f} s; screenshots in {SCREENSHOTS}")
