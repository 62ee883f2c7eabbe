"""Tests of the course's own machinery: pinned dependencies, notebook pairing, student copies."""
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None

from tools.notebooks import clean
from tools.student import main as student_main
from tools.student import strip_solutions

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SCRIPTS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))


def _pins(requirements):
    pins = {}
    for req in requirements:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)(\s*;\s*(.*))?", req.strip())
        assert m, f"not pinned with ==: {req!r}"
        name, version, marker = m.group(1).lower(), m.group(2), m.group(4)
        # environment.yml installs Python 3.11, so compare against the >= 3.11 pins
        if marker and "< '3.11'" in marker:
            continue
        pins[name] = version
    return pins


def test_environment_yml_and_pyproject_agree():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11+ (CI runs 3.11)")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pyproject = _pins(project["dependencies"] + project["optional-dependencies"]["data"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = _pins([r for r in pip_section if not r.startswith("-e")])
    assert conda == pyproject, "environment.yml and pyproject.toml pin different packages or versions"
    assert pyproject["torch"] == "2.13.0"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python == "python=3.11"


def test_every_chapter_is_a_pair():
    assert NOTEBOOKS, "no chapter notebooks found"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SCRIPTS], "each NN_slug.ipynb needs its NN_slug.py and back"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_pair_is_in_sync(notebook):
    """The .py must be exactly what jupytext writes for the .ipynb (run `make sync`)."""
    nb = jupytext.read(notebook)
    expected = jupytext.writes(nb, fmt="py:percent")
    actual = notebook.with_suffix(".py").read_text()
    assert actual == expected, f"{notebook.name} and its .py are out of sync: run `make sync` then `make notebooks`"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_executed_clean_and_starts_with_setup(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a chapter has code"
    assert "utils.setup(seed=" in code[0].source, "the first code cell calls utils.setup(seed=...)"
    counts = [c.execution_count for c in code]
    assert all(counts) and counts == list(range(1, len(code) + 1)), "executed top to bottom in one run (make notebooks)"
    for c in code:
        assert "execution" not in c.metadata, "timing metadata is stripped (make notebooks)"
        for out in c.outputs:
            assert out.output_type != "error", f"a stored error output in cell {code.index(c)}"


def test_strip_solutions_keeps_indentation_and_counts():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(f)"
    stripped, count = strip_solutions(source)
    assert count == 1
    assert stripped == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n\nprint(f)"


@pytest.mark.parametrize(
    "source, match",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "line 2: END SOLUTION without BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "line 2: BEGIN SOLUTION inside"),
    ],
)
def test_strip_solutions_errors(source, match):
    with pytest.raises(ValueError, match=match):
        strip_solutions(source, where="nb cell 3")


def test_student_copies_have_no_solutions_and_no_outputs(tmp_path, capsys):
    assert student_main([str(ROOT / "chapters"), str(tmp_path)]) == 0
    for notebook in NOTEBOOKS:
        copy = nbformat.read(tmp_path / notebook.name, as_version=4)
        original = nbformat.read(notebook, as_version=4)
        text = "\n".join(c.source for c in copy.cells)
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        assert text.count("raise NotImplementedError") >= "\n".join(c.source for c in original.cells).count("### BEGIN SOLUTION")
        assert all(not c.outputs for c in copy.cells if c.cell_type == "code")
    assert "00_getting_started.ipynb: 1 solution(s) removed" in capsys.readouterr().out


def test_clean_strips_machine_metadata():
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01"}
    nb.cells.append(cell)
    clean(nb)
    assert "execution" not in nb.cells[0].metadata and "version" not in nb.metadata.language_info
