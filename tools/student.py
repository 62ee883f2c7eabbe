"""Write student copies of the notebooks: solutions removed, outputs cleared.

``python -m tools.student chapters student`` (what ``make student`` runs) reads every
``chapters/NN_*.ipynb`` and writes ``student/NN_*.ipynb`` where each reference solution,
the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers),
becomes ``raise NotImplementedError`` at the same indentation. Outputs and execution
counts are cleared so the reader starts fresh.

It is careful with the reader's work and with the course:

* a copy the reader has edited is never overwritten: it is skipped with a message (exit
  status 1), or, with ``--force``, kept as ``NN_slug.ipynb.bak`` (``.bak1``, ... if taken)
  before the fresh copy is written. A copy counts as edited when its code differs from what
  this tool wrote (a fingerprint in the notebook's metadata);
* it refuses to write into the chapters folder (that would strip the reference notebooks),
  into a folder inside it, or through a symbolic link;
* a marker it cannot read exactly (``## BEGIN SOLUTION``, ``###BEGIN SOLUTION``, lowercase,
  ``# END SOLUTION``) or unbalanced markers stop it with the notebook, cell and line: a
  solution must never slip through because of a typo.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

__all__ = ["strip_solutions", "make_student_copy", "solution_lines"]

BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
# Anything that looks like a marker: any number of '#', any spacing, any case.
LOOKS_LIKE_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END)[\s_]*SOLUTION", re.IGNORECASE)
FINGERPRINT_KEY = "student_copy_sha256"


def strip_solutions(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each BEGIN/END SOLUTION block of ``source`` by ``raise NotImplementedError``.

    Returns the new source and the number of solutions removed. A malformed, unclosed,
    nested or unopened marker is a ValueError naming ``where`` (e.g. the notebook and cell)
    and the line.
    """
    out: list[str] = []
    inside = False
    count = 0
    for number, line in enumerate(source.split("\n"), start=1):
        begin = BEGIN.match(line)
        end = END.match(line)
        if not begin and not end and LOOKS_LIKE_MARKER.match(line):
            raise ValueError(f"{where} line {number}: malformed solution marker {line.strip()!r}; write exactly "
                             "'### BEGIN SOLUTION' or '### END SOLUTION' (three '#', one space, capitals)")
        if begin:
            if inside:
                raise ValueError(f"{where} line {number}: BEGIN SOLUTION inside another solution")
            inside = True
            count += 1
            out.append(f"{begin.group(1)}# YOUR CODE HERE")
            out.append(f"{begin.group(1)}raise NotImplementedError")
        elif end:
            if not inside:
                raise ValueError(f"{where} line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), count


def solution_lines(source: str) -> list[str]:
    """The lines of ``source`` between solution markers (stripped, blank lines left out)."""
    lines, inside = [], False
    for line in source.split("\n"):
        if BEGIN.match(line):
            inside = True
        elif END.match(line):
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _fingerprint(nb) -> str:
    """A hash of the code cells' sources: changes when the reader edits any code."""
    code = "\n\0".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _is_edited(path: Path) -> bool:
    """Has the reader changed the code of the copy at ``path`` since this tool wrote it?"""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001  unreadable: treat as the reader's own file
        return True
    return nb.metadata.get(FINGERPRINT_KEY) != _fingerprint(nb)


def _backup_name(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    number = 1
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}.bak{number}")
        number += 1
    return candidate


def check_output_folder(chapters: Path, out_dir: Path) -> None:
    """Refuse an output folder that would overwrite the course: the chapters folder, a folder
    inside it, or a symbolic link."""
    for part in [out_dir, *out_dir.parents]:
        if part.is_symlink():
            raise ValueError(f"{out_dir}: {part} is a symbolic link; student copies are written only to a real "
                             "folder, never through a link")
    chapters_real, out_real = chapters.resolve(), out_dir.resolve()
    if out_real == chapters_real or chapters_real in out_real.parents:
        raise ValueError(f"refusing to write student copies into {out_dir}: it is the chapters folder (or inside "
                         "it), so the copies would replace the reference notebooks; choose another folder, "
                         "e.g. student/")


def make_student_copy(notebook: Path, out_dir: Path, force: bool = False) -> int | None:
    """Write the student copy of one notebook into ``out_dir``; return solutions removed.

    Returns None (and writes nothing) when an edited copy is already there and ``force`` is
    False; with ``force`` the edited copy is first renamed to a ``.bak`` file.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    total = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source, count = strip_solutions(cell.source, where=f"{notebook.name} cell {index}")
        total += count
        cell.outputs = []
        cell.execution_count = None
    nb.metadata.pop("jupytext", None)  # the copy is a plain notebook, not paired
    nb.metadata[FINGERPRINT_KEY] = _fingerprint(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    if target.is_symlink():
        raise ValueError(f"{target} is a symbolic link: refusing to write through it")
    if target.exists():
        if target.is_dir():
            raise ValueError(f"{target} is a folder, not a notebook")
        if _is_edited(target):
            if not force:
                return None
            os.replace(target, _backup_name(target))
    # Write to a temporary file beside the target, then rename: never half a notebook.
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=f".{notebook.stem}-", suffix=".ipynb")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            nbformat.write(nb, stream)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write student copies of the course notebooks.")
    parser.add_argument("chapters", type=Path, help="folder with NN_*.ipynb")
    parser.add_argument("out", type=Path, help="folder to write the copies to")
    parser.add_argument("--force", action="store_true",
                        help="replace copies you have edited (each is kept as NN_slug.ipynb.bak first)")
    args = parser.parse_args(argv)
    notebooks = sorted(args.chapters.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(f"no notebooks NN_*.ipynb in {args.chapters}", file=sys.stderr)
        return 2
    try:
        check_output_folder(args.chapters, args.out)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    status = 0
    for nb in notebooks:
        try:
            count = make_student_copy(nb, args.out, force=args.force)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if count is None:
            print(f"{args.out / nb.name}: you have edited this copy (or an older `make student` wrote it), so it "
                  f"was left as it is; `python -m tools.student {args.chapters} {args.out} --force` writes a fresh "
                  "one and keeps yours as .bak", file=sys.stderr)
            status = 1
        else:
            print(f"{args.out / nb.name}: {count} solution(s) removed")
    return status


if __name__ == "__main__":
    sys.exit(main())
