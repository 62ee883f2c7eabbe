"""Build the course website from the executed notebooks (what ``make site`` runs).

``python -m tools.site build [--out DIR]`` assembles a Sphinx source folder next to the output
(a home page made from the README's introduction and chapter table, the chapter notebooks with
their stored outputs, their figures, the glossary), then runs Sphinx with MyST-NB and
``site/conf.py``. Nothing is executed: the pages show the outputs ``make notebooks`` stored.

Offline by construction: MathJax comes from the ``jupyter-server-mathjax`` package and is copied
into the build; the theme ships its own fonts, scripts and styles. Open ``<out>/index.html`` from
disk. Warnings fail the build (a broken link between chapters is a warning).

Needs the ``site`` extra: ``pip install -e '.[site]'``.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tools.glossary import TSV, render_page
from tools.glossary import load as load_glossary

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
DEFAULT_OUT = ROOT / "_build" / "site"


# MathJax 2.7 as shipped by jupyter-server-mathjax (MathJax.js, the TeX-AMS-MML_HTMLorMML-full
# config, HTML-CSS output with the STIX-Web fonts only), set up so that pages opened from disk
# load nothing it does not ship. Used by the site (site/conf.py) and the slides (tools/slides.py).
MATHJAX_CONFIG_FILE = "TeX-AMS-MML_HTMLorMML-full"
MATHJAX2_CONFIG = {
    # MyST marks each page tex2jax_ignore and its math elements "math": typeset only those
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True,
                "processClass": "math|output_area", "ignoreClass": "tex2jax_ignore|mathjax_ignore"},
    # the package ships the STIX-Web fonts only (no TeX fonts, no image fonts); MathJax_Blank
    # points at about:blank, which a page opened from disk may not load
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None,
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
    # the fast preview renders with the TeX fonts, which the package does not ship
    "fast-preview": {"disabled": True},
    # HTML-CSS with the shipped fonts, never native MathML (which wants the missing TeX fonts)
    "MMLorHTML": {"prefer": "HTML"},
    # the hidden MathML for screen readers (AssistiveMML) would pull the TeX web fonts through
    # these NativeMML variant styles
    "NativeMML": {"styles": {
        sel: {"font-family": "STIXGeneral, serif"}
        for sel in ['[class="MJX-tex-oldstyle"]', '[class="MJX-tex-oldstyle-bold"]', '[class="MJX-tex-caligraphic"]',
                    '[class="MJX-tex-caligraphic-bold"]', '[mathvariant="double-struck"]', '[mathvariant="script"]',
                    '[mathvariant="fraktur"]', '[mathvariant="bold-script"]', '[mathvariant="bold-fraktur"]']}},
    "showMathMenu": False,
    "messageStyle": "none",
}


def chapter_notebooks(chapters: Path = CHAPTERS) -> list[Path]:
    """The chapter notebooks ``NN_*.ipynb`` in order."""
    return sorted(chapters.glob("[0-9][0-9]_*.ipynb"))


def mathjax_dir() -> Path:
    """The MathJax 2.7 folder shipped by the ``jupyter-server-mathjax`` package."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise SystemExit("the site needs the 'site' extra: pip install -e '.[site]'") from err
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").exists():
        raise SystemExit(f"no MathJax.js in {static}: reinstall jupyter-server-mathjax")
    return static


def home_page(readme: str, notebooks: list[Path], has_glossary: bool) -> str:
    """The site's index.md: the README's title and introduction, its chapter table, a toctree.

    Only the parts of the README that make sense on the site are kept (its set-up notes talk
    about files of the repository). Links in the chapter table already point at chapters/.
    """
    title, _, rest = readme.partition("\n")
    intro, _, after = rest.partition("\n## Chapters")
    if not after:
        raise ValueError("README.md has no '## Chapters' section to build the home page from")
    table = after.split("\n## ", 1)[0]
    parts = [title, intro.rstrip(), "", "## Chapters" + table.rstrip(), ""]
    if has_glossary:
        parts += [("The [glossary](chapters/GLOSSARY.md) pairs each term with the Korean of the "
                  "lecture notes the course is based on, and names the chapter that defines it."), ""]
    toc = [f"chapters/{nb.stem}" for nb in notebooks] + (["chapters/GLOSSARY"] if has_glossary else [])
    parts += ["```{toctree}", ":hidden:", ":maxdepth: 2", "", *toc, "```", ""]
    return "\n".join(parts)


def assemble(src: Path, chapters: Path = CHAPTERS, readme: Path = ROOT / "README.md") -> list[Path]:
    """Write the Sphinx source folder ``src`` (emptied first); return the notebooks it holds."""
    if src.exists():
        shutil.rmtree(src)
    (src / "chapters").mkdir(parents=True)
    notebooks = chapter_notebooks(chapters)
    if not notebooks:
        raise SystemExit(f"no chapter notebooks in {chapters}")
    for nb in notebooks:
        shutil.copy2(nb, src / "chapters" / nb.name)
    if (chapters / "figures").is_dir():
        shutil.copytree(chapters / "figures", src / "chapters" / "figures")
    # the glossary page, made from data/glossary.tsv for exactly the notebooks being built
    has_glossary = TSV.exists()
    if has_glossary:
        page = render_page(load_glossary(TSV), chapters)
        (src / "chapters" / "GLOSSARY.md").write_text(page, encoding="utf-8")
    text = home_page(readme.read_text(encoding="utf-8"), notebooks, has_glossary)
    # The README lists 'planned' chapters without a link; any other repository link would be broken.
    (src / "index.md").write_text(text, encoding="utf-8")
    shutil.copy2(ROOT / "site" / "conf.py", src / "conf.py")
    (src / "mathjax2_config.json").write_text(json.dumps(MATHJAX2_CONFIG, indent=1), encoding="utf-8")
    shutil.copytree(mathjax_dir(), src / "_static" / "mathjax")
    shutil.copy2(ROOT / "site" / "course.css", src / "_static" / "course.css")
    return notebooks


def build(out: Path = DEFAULT_OUT, chapters: Path = CHAPTERS, quiet: bool = True) -> float:
    """Assemble the sources in ``<out>_src`` and build the HTML site into ``out``; return seconds."""
    out = Path(out).resolve()
    src = out.with_name(out.name + "_src")
    start = time.perf_counter()
    assemble(src, chapters)
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E",
           "-d", str(src / ".doctrees"), str(src), str(out)]
    if quiet:
        cmd.insert(3, "-q")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"sphinx-build failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    leaks = cdn_links(out)
    if leaks:
        raise RuntimeError("pages link outside the site (a CDN?):\n" + "\n".join(leaks[:20]))
    return time.perf_counter() - start


REMOTE_ASSET = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["'](?:https?:)?//[^"']+""",
                          re.IGNORECASE)


def cdn_links(out: Path) -> list[str]:
    """Scripts, styles, images or frames in the built pages that would load from the network."""
    found = []
    for page in sorted(out.rglob("*.html")):
        for m in REMOTE_ASSET.finditer(page.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{page.relative_to(out)}: {m.group(0)[:160]}")
    return found


# RISE's default reveal.js theme ('simple') loads its fonts from Google; 'white' ships its own.
RISE_SETTINGS = {"jupyterlab-rise:plugin": {"theme": "white"}}


def write_rise_settings(prefix: Path | None = None) -> Path:
    """Merge RISE_SETTINGS into the environment's JupyterLab overrides.json; return its path.

    ``make setup-site`` calls this, so that presenting live from JupyterLab loads nothing from
    the network. Other settings in the file are kept.
    """
    path = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for plugin, values in RISE_SETTINGS.items():
        settings.setdefault(plugin, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the HTML site from the stored notebook outputs")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    sub.add_parser("rise-settings", help="set RISE's theme to one whose fonts ship with it (JupyterLab overrides)")
    args = parser.parse_args(argv)
    if args.cmd == "rise-settings":
        print(f"RISE settings in {write_rise_settings()}")
        return 0
    seconds = build(args.out, quiet=False)
    pages = len([p for p in Path(args.out).rglob("*.html") if "_static" not in p.parts])
    print(f"site: {pages} pages in {args.out / 'index.html'} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
