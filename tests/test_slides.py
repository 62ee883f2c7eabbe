"""Slides: metadata derived from each chapter's structure, and reveal.js decks stepped through in Chromium."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from browser_tools import PageLog, launched_chromium, require_module

from tools.slides import annotate_file, is_annotated, slide_types

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = Path(os.environ.get("COURSE_SCREENSHOTS", ROOT / "_build" / "screenshots"))


def _md(text):
    return {"cell_type": "markdown", "source": text}


def _code(text):
    return {"cell_type": "code", "source": text}


def test_slide_types_follow_the_chapter_structure():
    long_code = "\n".join(f"x{i} = {i}" for i in range(30))
    cells = [_md("# 09 · Title\n\nGoals"), _code("import utils\ndevice = utils.setup(seed=0)"),
             _md("## 1. A section"), _code("a = 1"), _md("Short text."), _code(long_code),
             _md("### A subsection"), _code("b = 2"), _md("## 2. Next"), _md("more")]
    assert slide_types(cells) == ["slide", "skip", "slide", "-", "-", "subslide",
                                  "subslide", "-", "slide", "-"]


def test_a_full_slide_continues_on_a_subslide():
    ten = "\n".join(["line"] * 10)
    cells = [_md("## A section"), _code(ten), _code(ten), _code(ten)]
    # the first code cell of a chapter is its set-up cell and is skipped
    assert slide_types([_code("setup")] + cells) == ["skip", "slide", "-", "subslide", "subslide"]


def test_annotate_on_copies_is_idempotent_and_keeps_each_pair_in_sync(tmp_path):
    assert NOTEBOOKS
    for nb_path in NOTEBOOKS:
        for suffix in (".py", ".ipynb"):
            shutil.copy2(nb_path.with_suffix(suffix), tmp_path / nb_path.with_suffix(suffix).name)
    pairs_checked = 0
    for nb_path in NOTEBOOKS:
        py, ipynb = tmp_path / f"{nb_path.stem}.py", tmp_path / nb_path.name
        before = nbformat.read(ipynb, as_version=4)
        # a chapter being edited may be out of sync (tests/test_project.py reports that)
        in_sync = py.read_text() == jupytext.writes(jupytext.read(ipynb), fmt="py:percent")
        annotate_file(py)
        annotate_file(ipynb)
        assert not annotate_file(py) and not annotate_file(ipynb), f"{nb_path.stem}: annotate is not idempotent"
        after = nbformat.read(ipynb, as_version=4)
        assert [c.source for c in after.cells] == [c.source for c in before.cells]
        assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells], "outputs kept"
        assert is_annotated(after)
        kinds = [c.metadata["slideshow"]["slide_type"] for c in after.cells]
        assert kinds[0] == "slide" and "skip" in kinds and kinds.count("slide") >= 3, kinds
        # what tests/test_project.py checks: the .py is exactly jupytext's rendering of the .ipynb
        if in_sync:
            assert py.read_text() == jupytext.writes(jupytext.read(ipynb), fmt="py:percent"), f"{py.name} out of sync"
            pairs_checked += 1
        assert is_annotated(jupytext.read(py)) and "slideshow" in py.read_text(), "the .py keeps the slide metadata"
    assert pairs_checked, "no chapter pair was in sync to check"


@pytest.mark.xfail(condition=not any(is_annotated(nbformat.read(p, as_version=4)) for p in NOTEBOOKS),
                   reason="no chapter is annotated yet: run `python -m tools.slides annotate`", strict=True)
def test_every_chapter_carries_slide_metadata():
    """Once the chapters are annotated, every chapter must stay so (re-run annotate after editing)."""
    stale = [p.name for p in NOTEBOOKS if not is_annotated(nbformat.read(p, as_version=4))]
    stale += [p.name for p in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py")) if not is_annotated(jupytext.read(p))]
    assert not stale, f"run `.venv/bin/python -m tools.slides annotate` for: {stale}"


def test_annotate_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match="annotate takes"):
        annotate_file(tmp_path / "notes.md")


# ------------------------------------------------------------------ decks in a real browser
@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    require_module("sphinx_revealjs", "building the slides (reveal.js)")
    require_module("jupyter_server_mathjax", "building the slides (MathJax)")
    from tools.slides import build

    out = tmp_path_factory.mktemp("slides")
    built, seconds = build(out)
    print(f"\nslides built in {seconds:.1f} s")
    return out, built


def test_links_in_the_decks_resolve(decks):
    """Links between chapters lead to their decks; glossary links to an entry of GLOSSARY.html."""
    out, built = decks
    ids = {}
    checked = 0
    for page in sorted(out.glob("*.html")):
        for href in re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8")):
            if "://" in href or href.startswith(("#", "mailto:", "data:")):
                continue
            path, _, fragment = href.partition("#")
            assert (out / path).exists(), f"{page.name} links to missing {href}"
            if fragment and path.endswith(".html"):
                if path not in ids:
                    ids[path] = set(re.findall(r'id="([^"]+)"', (out / path).read_text(encoding="utf-8")))
                assert fragment in ids[path], f"{page.name}: no #{fragment} in {path}"
            checked += 1
    assert checked >= len(built), "the index links every deck"


STEP_THROUGH = r"""async () => {
  const wait = () => new Promise(r => window.MathJax && MathJax.Hub ? MathJax.Hub.Queue(() => r(true)) : r(false));
  await wait();
  const total = Reveal.getTotalSlides();
  let shown = 1;
  while (!Reveal.isLastSlide() && shown <= total) { Reveal.next(); shown++; }
  await wait();
  const raw = [];
  for (const s of document.querySelectorAll('.reveal .slides section')) {
    const walker = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.parentElement.closest('pre, code, script, style, .highlight, .MathJax_Preview, .jp-OutputArea')) continue;
      const t = n.textContent;
      if (t.includes('$$') || /\$[^$\n]*\\[A-Za-z]+[^$\n]*\$/.test(t)) raw.push(t.slice(0, 80));
    }
  }
  return {total, shown, last: Reveal.isLastSlide(), math: document.querySelectorAll('.MathJax').length,
          texErrors: document.querySelectorAll('.merror, .noError').length, raw,
          images: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))
                       .map(i => i.src.slice(0, 80)),
          nImages: document.images.length};
}"""


def test_every_deck_steps_through_in_chromium(decks):
    out, built = decks
    assert [d.name for d in built] == [f"{p.stem}.slides.html" for p in NOTEBOOKS]
    root = out.resolve().as_uri() + "/"
    start = time.perf_counter()
    slides = maths = images = 0
    with launched_chromium() as browser:
        for deck in built:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            log = PageLog().attach(page)
            try:
                page.goto(deck.as_uri(), wait_until="load", timeout=30_000)
                page.wait_for_function("() => window.Reveal && Reveal.isReady && Reveal.isReady()", timeout=30_000)
                facts = page.evaluate(STEP_THROUGH)
                if deck.name.startswith("01_"):
                    page.evaluate("() => Reveal.slide(2, 0)")
                    page.wait_for_timeout(300)
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOTS / "slides_01_rnn_basics.png"))
            finally:
                page.close()
            assert not log.problems(), f"{deck.name}: " + "; ".join(log.problems()[:10])
            outside = [u for u in log.requests if not u.startswith((root, "data:"))]
            assert not outside, f"{deck.name} requests outside its folder: {outside[:5]}"
            assert facts["last"] and facts["shown"] == facts["total"] > 3, f"{deck.name}: {facts}"
            assert facts["texErrors"] == 0 and not facts["raw"], f"{deck.name}: TeX not rendered: {facts['raw'][:3]}"
            assert not facts["images"], f"{deck.name}: images that did not load: {facts['images']}"
            slides += facts["total"]
            maths += facts["math"]
            images += facts["nImages"]
    assert maths > 50, f"only {maths} formulas typeset in all the decks"
    print(f"\nslides in Chromium: {len(built)} decks, {slides} slides stepped through, {maths} formulas typeset, "
          f"{images} images loaded, {time.perf_counter() - start:.1f} s")


def test_deck_links_point_at_decks_and_the_glossary_page():
    from tools.slides import deck_links

    html = '<a href="02_seq2seq_bottleneck.ipynb#x">ch 02</a> <a href="GLOSSARY.md#rnn">RNN</a> <a href="https://a.b/c.ipynb">'
    assert deck_links(html) == ('<a href="02_seq2seq_bottleneck.slides.html#x">ch 02</a> '
                                '<a href="GLOSSARY.html#rnn">RNN</a> <a href="https://a.b/c.ipynb">')
