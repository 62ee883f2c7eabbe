"""The English–Korean glossary: ``data/glossary.tsv`` (the source), ``chapters/GLOSSARY.md`` (the page).

The course's sources are Korean lecture notes. Each row of the TSV pairs an English term with
the Korean the notes use (``korean_from = notes``; where the notes have no term, the usual
Korean rendering, ``korean_from = course``), the variants met in Korean texts, the chapter that
defines the term, the English forms the term takes in the chapters' prose, and a one-line
definition. Read it with the standard library::

    import csv
    rows = list(csv.DictReader(open("../data/glossary.tsv", encoding="utf-8"), delimiter="\\t"))

``python -m tools.glossary page`` writes ``chapters/GLOSSARY.md`` from the TSV (beside the chapters,
so it opens in JupyterLab and on GitHub; the site shows it too).

``python -m tools.glossary link [FILE ...]`` links each chapter's first use of every term in its
markdown cells to the glossary entry, ``[hidden state](GLOSSARY.md#hidden-state)``, in both files
of each pair (``chapters/NN_*.py`` and ``.ipynb``, outputs kept). Headings, code, math, HTML and
existing links are left alone; a term the chapter already links is skipped, so re-running
changes nothing (idempotent).
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TSV = ROOT / "data" / "glossary.tsv"
PAGE = ROOT / "chapters" / "GLOSSARY.md"
COLUMNS = ["term", "korean", "korean_variants", "korean_from", "chapter", "forms", "definition"]
CHAPTER_TITLES = {
    "00": "00 Getting started", "01": "01 RNN basics", "02": "02 seq2seq and the bottleneck",
    "03": "03 Alignment and the context vector", "04": "04 Bahdanau vs Luong", "05": "05 Masking",
    "06": "06 Bidirectional encoders", "07": "07 Deep seq2seq and skip connections",
}


@dataclass(frozen=True)
class Term:
    term: str
    korean: str
    korean_variants: tuple[str, ...]
    korean_from: str
    chapter: str
    forms: tuple[str, ...]
    definition: str

    @property
    def anchor(self) -> str:
        """The entry's id on the glossary page: lower case, runs of other characters as '-'."""
        return re.sub(r"[^a-z0-9]+", "-", self.term.lower()).strip("-")

    def pattern(self) -> re.Pattern:
        """Any of the term's forms as a whole word (an optional plural s/es); ALL-CAPS forms match case."""
        parts = []
        for form in sorted(self.forms, key=len, reverse=True):
            body = r"[-\s]+".join(re.escape(w) for w in re.split(r"[-\s]+", form))
            parts.append(body if form.isupper() else f"(?i:{body})")
        return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?:e?s)?(?![\w-])")


def load(path: Path = TSV) -> list[Term]:
    """The glossary rows, checked: every column filled where it must be, unique terms and anchors."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path}: columns must be {COLUMNS}, found {reader.fieldnames}")
        terms = []
        for line, row in enumerate(reader, start=2):
            missing = [c for c in COLUMNS if c != "korean_variants" and not (row[c] or "").strip()]
            if missing:
                raise ValueError(f"{path}:{line}: empty {missing} for {row['term']!r}")
            if row["chapter"] not in CHAPTER_TITLES:
                raise ValueError(f"{path}:{line}: chapter {row['chapter']!r} is not one of {sorted(CHAPTER_TITLES)}")
            if row["korean_from"] not in ("notes", "course"):
                raise ValueError(f"{path}:{line}: korean_from must be 'notes' or 'course', not {row['korean_from']!r}")
            split = lambda s: tuple(p.strip() for p in s.split(";") if p.strip())  # noqa: E731
            terms.append(Term(row["term"].strip(), row["korean"].strip(), split(row["korean_variants"] or ""),
                              row["korean_from"], row["chapter"], split(row["forms"]), row["definition"].strip()))
    for attr in ("term", "anchor"):
        seen = [getattr(t, attr) for t in terms]
        dupes = sorted({s for s in seen if seen.count(s) > 1})
        if dupes:
            raise ValueError(f"{path}: duplicate {attr}s {dupes}")
    return terms


def chapter_file(chapter: str, chapters: Path = ROOT / "chapters") -> Path | None:
    """The notebook of chapter 'NN' (chapters/NN_*.ipynb), or None while it has no notebook yet."""
    found = sorted(chapters.glob(f"{chapter}_*.ipynb"))
    return found[0] if found else None


def render_page(terms: list[Term], chapters: Path = ROOT / "chapters") -> str:
    """chapters/GLOSSARY.md: one table, in the order of the chapters, each term with its anchor.

    A chapter links to its notebook when ``chapters`` has it, else it is marked planned.
    """
    lines = [
        "# Glossary · 용어집",
        "",
        "Every term of the course with the Korean used in the lecture notes the course is based on,",
        "the variants you will meet in Korean texts, and the chapter that defines it. A chapter links",
        "its first use of each term here. The same table is `data/glossary.tsv`, for notebooks and scripts.",
        "",
        "*Korean from* says whether the Korean is the lecture notes' own word (**notes**; they keep",
        "Teacher Forcing, peephole and Luong in English) or the usual Korean rendering where the notes",
        "have none (**course**).",
        "",
        "| English | 한국어 | also written | Korean from | defined in | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for t in sorted(terms, key=lambda t: t.chapter):  # stable: keeps the TSV's order within a chapter
        nb = chapter_file(t.chapter, chapters)
        where = f"[{CHAPTER_TITLES[t.chapter]}]({nb.name})" if nb else f"{CHAPTER_TITLES[t.chapter]} *(planned)*"
        cells = [f'<span id="{t.anchor}"></span>**{t.term}**', t.korean, ", ".join(t.korean_variants),
                 t.korean_from, where, t.definition.replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ linking the chapters
# Spans of a markdown cell where a link must not go: fenced code, display and inline math,
# inline code, links and images, HTML tags, headings.
_PROTECTED = re.compile(
    r"```.*?```|~~~.*?~~~"  # fenced code
    r"|\$\$.*?\$\$|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\\\s])\$"  # math
    r"|`+[^`]*?`+"  # inline code
    r"|!?\[[^\]]*\]\([^)]*\)|!?\[[^\]]*\]\[[^\]]*\]"  # links and images
    r"|<[^>\n]+>"  # HTML
    r"|^[ \t]*#{1,6}[ \t][^\n]*$"  # headings
    r"|^[ \t]*\|?[ \t]*:?-{3,}[^\n]*$",  # table rules
    re.S | re.M)


def free_uses(pattern: re.Pattern, text: str):
    """Matches of pattern in a markdown text outside code, math, links, HTML and headings."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]
    for m in pattern.finditer(text):
        if not any(a <= m.start() < b or a < m.end() <= b for a, b in protected):
            yield m


def link_cells(sources: list[str], terms: list[Term], glossary: str = "GLOSSARY.md") -> list[str]:
    """Markdown cell sources with each term's first free use linked; terms already linked are skipped."""
    sources = list(sources)
    everything = "\n".join(sources)
    # longest forms first, so 'self-attention' is linked before 'attention' can claim its text
    for term in sorted(terms, key=lambda t: -max(len(f) for f in t.forms)):
        if f"]({glossary}#{term.anchor})" in everything:
            continue
        pattern = term.pattern()
        for i, text in enumerate(sources):
            m = next(free_uses(pattern, text), None)
            if m:
                sources[i] = f"{text[:m.start()]}[{m.group(0)}]({glossary}#{term.anchor}){text[m.end():]}"
                everything = "\n".join(sources)
                break
    return sources


def link_notebook(nb, terms: list[Term]) -> bool:
    """Link the glossary terms in a notebook's markdown cells in place; True if anything changed."""
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    linked = link_cells([c.source for c in markdown], terms)
    changed = False
    for cell, text in zip(markdown, linked):
        if cell.source != text:
            cell.source = text
            changed = True
    return changed


def link_file(path: Path, terms: list[Term]) -> bool:
    """Link one chapter file (.py through jupytext, .ipynb through nbformat with its outputs)."""
    path = Path(path)
    if path.suffix == ".py":
        import jupytext

        nb = jupytext.read(path)
        if link_notebook(nb, terms):
            jupytext.write(nb, path, fmt="py:percent")
            return True
        return False
    if path.suffix == ".ipynb":
        import nbformat

        nb = nbformat.read(path, as_version=4)
        if link_notebook(nb, terms):
            nbformat.write(nb, path)
            return True
        return False
    raise ValueError(f"link takes chapters/NN_*.py or .ipynb files, not {path}")


def prose(nb) -> str:
    """A notebook's markdown, everything a reader reads as text."""
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("page", help="write chapters/GLOSSARY.md from data/glossary.tsv")
    link = sub.add_parser("link", help="link each chapter's first use of every term (idempotent)")
    link.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    terms = load()
    if args.cmd == "page":
        PAGE.write_text(render_page(terms), encoding="utf-8")
        print(f"wrote {PAGE} ({len(terms)} terms)")
        return 0
    chapters = ROOT / "chapters"
    files = args.files or sorted(chapters.glob("[0-9][0-9]_*.py")) + sorted(chapters.glob("[0-9][0-9]_*.ipynb"))
    for path in files:
        print(f"{'linked   ' if link_file(path, terms) else 'unchanged'}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
