"""Lecture slides from the chapter notebooks (what ``make slides`` runs).

``python -m tools.slides annotate [FILE ...]`` gives every cell of the chapters (both files of
each pair, ``chapters/NN_*.py`` and ``.ipynb``) slide metadata derived from the chapter's
structure, so the same cells present as slides in JupyterLab (RISE) and in ``make slides``:

- the title cell (``# ...``) and every ``## section`` start a new slide;
- a ``### subsection`` starts a sub-slide (reveal.js: one step down);
- the first code cell (imports and ``utils.setup``) is skipped;
- when a cell would overfill the current slide (more than ``SLIDE_LINES`` source lines, outputs
  allowed for), it starts a sub-slide, so long code gets a slide of its own;
- everything else continues the current slide.

The metadata depend only on the cells' sources, so the ``.py`` and the ``.ipynb`` of a pair get
the same metadata; re-running changes nothing (idempotent). Each notebook's jupytext
``cell_metadata_filter`` is widened to keep ``slideshow`` in the ``.py``.

``python -m tools.slides build [--out DIR]`` writes one reveal.js deck per chapter
(``<out>/NN_slug.slides.html``) and an index page, from the stored outputs. reveal.js (from the
``sphinx-revealjs`` package) and MathJax (from ``jupyter-server-mathjax``) are copied beside the
decks: the decks work offline, opened from disk. A chapter not yet annotated is annotated in
memory for the build.
"""
from __future__ import annotations

import argparse
import copy
import html
import json
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
DEFAULT_OUT = ROOT / "_build" / "slides"
TEMPLATE_DIR = ROOT / "site"  # holds the nbconvert template folder reveal_offline/
SLIDE_LINES = 18  # source lines that fit on one slide at the deck's font size
OUTPUT_LINES = 4  # allowance for what a code cell prints
CELL_METADATA_FILTER = "slideshow,tags,-all"


def slide_types(cells) -> list[str]:
    """One reveal.js slide type per cell ('slide', 'subslide', '-', 'skip'), from the sources alone.

    cells: notebook cells (dicts or NotebookNodes with 'cell_type' and 'source').
    """
    types = []
    used = 0  # lines on the current (sub)slide
    setup_seen = False
    for i, cell in enumerate(cells):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        first = next((line.strip() for line in source.splitlines() if line.strip()), "")
        height = source.count("\n") + 1
        if cell["cell_type"] == "code":
            height += OUTPUT_LINES
            if not setup_seen:
                setup_seen = True
                types.append("skip")
                continue
            kind = "subslide" if used and used + height > SLIDE_LINES else "-"
        elif i == 0 or first.startswith(("# ", "## ")):
            kind = "slide"
        elif first.startswith("### "):
            kind = "subslide"
        else:
            kind = "subslide" if used and used + height > SLIDE_LINES else "-"
        if kind in ("slide", "subslide"):
            used = 0
        used += height
        types.append(kind)
    return types


def annotate_notebook(nb) -> bool:
    """Set every cell's ``slideshow`` metadata and the jupytext filter in place; True if anything changed."""
    changed = False
    for cell, kind in zip(nb.cells, slide_types(nb.cells)):
        # keys sorted as nbformat writes them, so the .py and the .ipynb list them in one order
        # (jupytext's own bookkeeping key lines_to_next_cell is never written as metadata)
        want = dict(sorted({**cell.metadata, "slideshow": {"slide_type": kind}}.items()))
        keys = [k for k in cell.metadata if k != "lines_to_next_cell"]
        if cell.metadata.get("slideshow") != want["slideshow"] or keys != sorted(keys):
            cell.metadata.clear()
            cell.metadata.update(want)
            changed = True
    jt = nb.metadata.setdefault("jupytext", {})
    if jt.get("cell_metadata_filter") != CELL_METADATA_FILTER:
        jt["cell_metadata_filter"] = CELL_METADATA_FILTER
        changed = True
    return changed


def annotate_file(path: Path) -> bool:
    """Annotate one chapter file (``.py`` via jupytext, ``.ipynb`` via nbformat, outputs kept)."""
    path = Path(path)
    if path.suffix == ".py":
        import jupytext

        nb = jupytext.read(path)
        if annotate_notebook(nb):
            jupytext.write(nb, path, fmt="py:percent")
            return True
        return False
    if path.suffix == ".ipynb":
        import nbformat

        nb = nbformat.read(path, as_version=4)
        if annotate_notebook(nb):
            nbformat.write(nb, path)
            return True
        return False
    raise ValueError(f"annotate takes chapters/NN_*.py or .ipynb files, not {path}")


def is_annotated(nb) -> bool:
    """True when every cell has the slide type annotate would give it."""
    return [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells] == slide_types(nb.cells)


def _package_dir(module: str, sub: str, marker: str) -> Path:
    try:
        mod = __import__(module)
    except ImportError as err:
        raise SystemExit(f"the slides need the 'site' extra: pip install -e '.[site]' (no {module})") from err
    folder = Path(mod.__file__).parent / sub
    if not (folder / marker).exists():
        raise SystemExit(f"no {marker} in {folder}: reinstall {module}")
    return folder


def reveal_dir() -> Path:
    """reveal.js (dist/ and plugin/) as shipped inside the sphinx-revealjs package."""
    return _package_dir("sphinx_revealjs", "_static/revealjs", "dist/reveal.js")


def mathjax_config_for_slides() -> dict:
    """The site's offline MathJax set-up, with $...$ and $$...$$ delimiters (nbconvert keeps them)."""
    from tools.site import MATHJAX2_CONFIG

    config = copy.deepcopy(MATHJAX2_CONFIG)
    config["tex2jax"] = {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
                         "processEscapes": True, "processEnvironments": True}
    return config


def export_deck(nb, name: str, out: Path) -> Path:
    """Write ``<out>/<name>.slides.html`` for one notebook (assets must already be in ``out``)."""
    from nbconvert import SlidesExporter

    from tools.site import MATHJAX_CONFIG_FILE, REMOTE_ASSET

    exporter = SlidesExporter(template_name="reveal_offline", extra_template_basedirs=[str(TEMPLATE_DIR)],
                              reveal_url_prefix="reveal.js", reveal_theme="white", reveal_transition="none")
    resources = {"metadata": {"name": name},
                 "course_mathjax_url": f"mathjax/MathJax.js?config={MATHJAX_CONFIG_FILE}",
                 "course_mathjax_config": json.dumps(mathjax_config_for_slides())}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    remote = REMOTE_ASSET.findall(body)
    if remote:
        raise RuntimeError(f"the deck {name} would load from the network: {remote[:3]}; check site/reveal_offline")
    target = out / f"{name}.slides.html"
    target.write_text(deck_links(body), encoding="utf-8")
    return target


def deck_links(html_text: str) -> str:
    """Point links between chapters at their decks, and glossary links at the glossary page."""
    html_text = re.sub(r'href="(\d\d_[^"#/]+)\.ipynb', r'href="\1.slides.html', html_text)
    return html_text.replace('href="GLOSSARY.md', 'href="GLOSSARY.html')


def glossary_page(markdown_text: str) -> str:
    """chapters/GLOSSARY.md as a plain HTML page beside the decks."""
    from nbconvert.filters.markdown import markdown2html

    body = deck_links(markdown2html(markdown_text))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Glossary</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{border-bottom:1px solid #ddd;"
            "padding:.3em .6em;vertical-align:top;word-break:keep-all}table{border-collapse:collapse}</style>"
            f"</head>\n<body>\n{body}\n</body></html>\n")


def build(out: Path = DEFAULT_OUT, chapters: Path = CHAPTERS) -> tuple[list[Path], float]:
    """Build every chapter's deck and an index page into ``out``; return (decks, seconds)."""
    import nbformat

    start = time.perf_counter()
    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(reveal_dir() / "dist", out / "reveal.js" / "dist")
    shutil.copytree(reveal_dir() / "plugin" / "notes", out / "reveal.js" / "plugin" / "notes")
    from tools.site import mathjax_dir

    shutil.copytree(mathjax_dir(), out / "mathjax")
    if (chapters / "figures").is_dir():
        shutil.copytree(chapters / "figures", out / "figures")
    decks = []
    for path in sorted(chapters.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not any("slideshow" in c.metadata for c in nb.cells):
            annotate_notebook(nb)
        decks.append(export_deck(nb, path.stem, out))
    from tools.glossary import TSV, load, render_page

    if TSV.exists():
        (out / "GLOSSARY.html").write_text(glossary_page(render_page(load(TSV), chapters)), encoding="utf-8")
    items = "\n".join(f'<li><a href="{d.name}">{html.escape(d.name.split(".")[0].replace("_", " "))}</a></li>'
                      for d in decks)
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Slides: seq2seq and attention"
        f"</title></head>\n<body><h1>Slides, one deck per chapter</h1>\n<ul>\n{items}\n</ul>\n"
        "<p>Arrow keys move between slides (down: sub-slides); <kbd>S</kbd> opens the speaker view.</p>"
        "</body></html>\n", encoding="utf-8")
    return decks, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("annotate", help="give chapters/NN_*.py and .ipynb slide metadata (idempotent)")
    a.add_argument("files", nargs="*", type=Path)
    b = sub.add_parser("build", help="build reveal.js decks from the stored outputs")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.cmd == "annotate":
        files = args.files or sorted(CHAPTERS.glob("[0-9][0-9]_*.py")) + sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
        for path in files:
            print(f"{'annotated' if annotate_file(path) else 'unchanged'}  {path}")
        return 0
    decks, seconds = build(args.out)
    print(f"slides: {len(decks)} decks in {args.out / 'index.html'} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
