"""Write student copies of the notebooks: solutions removed, outputs cleared.

``python -m tools.student chapters student`` (what ``make student`` runs) reads every
``chapters/NN_*.ipynb`` and writes ``student/NN_*.ipynb`` where each reference solution,
the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers),
becomes ``raise NotImplementedError`` at the same indentation. Outputs and execution
counts are cleared so the reader starts fresh.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["strip_solutions"]

BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")


def strip_solutions(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each BEGIN/END SOLUTION block of ``source`` by ``raise NotImplementedError``.

    Returns the new source and the number of solutions removed. An unclosed or nested
    marker is an error naming ``where`` (e.g. the notebook and cell).
    """
    out: list[str] = []
    inside = False
    count = 0
    for number, line in enumerate(source.split("\n"), start=1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ValueError(f"{where} line {number}: BEGIN SOLUTION inside another solution")
            inside = True
            count += 1
            out.append(f"{begin.group(1)}# YOUR CODE HERE")
            out.append(f"{begin.group(1)}raise NotImplementedError")
        elif END.match(line):
            if not inside:
                raise ValueError(f"{where} line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), count


def make_student_copy(notebook: Path, out_dir: Path) -> int:
    """Write the student copy of one notebook into ``out_dir``; return solutions removed."""
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
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / notebook.name)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write student copies of the course notebooks.")
    parser.add_argument("chapters", type=Path, help="folder with NN_*.ipynb")
    parser.add_argument("out", type=Path, help="folder to write the copies to")
    args = parser.parse_args(argv)
    notebooks = sorted(args.chapters.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(f"no notebooks NN_*.ipynb in {args.chapters}", file=sys.stderr)
        return 2
    for nb in notebooks:
        count = make_student_copy(nb, args.out)
        print(f"{args.out / nb.name}: {count} solution(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
