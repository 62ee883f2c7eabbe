"""Run the course notebooks exactly the way CI checks them, and keep them tidy.

``python -m tools.notebooks run [NOTEBOOK ...]`` (what ``make notebooks`` calls):
for each notebook, pair it with its ``.py`` (jupytext, newer file wins), execute it in a fresh
kernel with one thread and no timing metadata, strip machine-specific metadata, and print
its run time. Re-running an unchanged notebook leaves the file byte-identical.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def chapter_notebooks() -> list[Path]:
    """All chapter notebooks ``chapters/NN_*.ipynb`` in order."""
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def _jupytext_sync(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--sync", str(path)], check=True)


def clean(nb) -> None:
    """Remove metadata that changes between machines or runs (in place, on a NotebookNode)."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    lang = nb.metadata.get("language_info", {})
    lang.pop("version", None)
    nb.metadata.pop("widgets", None)


def execute(path: Path, timeout: int = 600) -> float:
    """Execute one notebook in place (cwd = its folder); return seconds taken."""
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    py = path.with_suffix(".py")
    if py.exists():
        _jupytext_sync(py)
    nb = nbformat.read(path, as_version=4)
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the kernel
    ep = ExecutePreprocessor(timeout=timeout, kernel_name="python3", record_timing=False)
    start = time.perf_counter()
    ep.preprocess(nb, {"metadata": {"path": str(path.parent)}})
    seconds = time.perf_counter() - start
    clean(nb)
    nbformat.write(nb, path)
    if py.exists():
        _jupytext_sync(path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute notebooks in place and print their run times")
    run.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or chapter_notebooks()
    total = 0.0
    for nb in notebooks:
        if nb.suffix == ".py":
            nb = nb.with_suffix(".ipynb")
        if not nb.exists() and nb.with_suffix(".py").exists():
            _jupytext_sync(nb.with_suffix(".py"))  # first run: create the paired notebook
        if not nb.exists():
            print(f"no such notebook: {nb}", file=sys.stderr)
            return 2
        try:
            seconds = execute(nb)
        except Exception as err:  # show which notebook failed, then stop
            print(f"FAILED {nb}: {type(err).__name__}: {str(err)[-2000:]}", file=sys.stderr)
            return 1
        total += seconds
        print(f"{str(nb):55s} {seconds:6.1f} s", flush=True)
    print(f"{'total':55s} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
