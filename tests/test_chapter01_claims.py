"""Chapter 01's model comparisons on seeds 1 and 2 (the notebook runs seed 0), with the chapter's own cells.

Section 7 (the gradient against the time lag, untrained NumPy cells; the notebook draws its
weights and inputs from ``default_rng(9)``, the tests from 10 and 11) and section 8 (the memory
task: seven runs that each change one factor, then the trained models on longer lags; the
notebook uses ``SEED = 0``, the tests 1 and 2). The cells are executed as they stand in the
chapter, so their asserts are the chapter's; the few sentences the notebook states about seeds
1 and 2 only are asserted here. About 12 s of CPU per seed.
"""
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "01_rnn_basics.py"
SETUP_CELL = "import matplotlib.pyplot as plt"
GRADIENT_CELL = "def remember_by_default"
TRAINING_CELL = "N_SYMBOLS, BEFORE_KEY, LAG = 16, 5, 20"
FIGURE_CELL = "fig, ax = plt.subplots(figsize=(7.5, 4.5))\nfor name, (model, history) in runs.items()"
LONGER_LAGS_CELL = "generator = torch.Generator().manual_seed(123)"
GRADIENT_SEED = "rng = np.random.default_rng(9)\n"
TRAINING_SEED = "SEED = 0\n"


def _chapter_cell(marker: str) -> str:
    """The source of the one code cell of chapter 01 that starts with ``marker``."""
    cells = re.split(r"^# %%.*$", CHAPTER.read_text(encoding="utf-8"), flags=re.M)
    found = [cell for cell in cells if cell.lstrip().startswith(marker)]
    assert len(found) == 1, f"expected one cell of {CHAPTER.name} starting with {marker!r}, found {len(found)}"
    return found[0]


def _with_seed(source: str, setting: str, value: str) -> str:
    assert source.count(setting) == 1, f"the cell must set its seed exactly once with {setting!r}"
    return source.replace(setting, value)


def _run(source: str, namespace: dict) -> None:
    exec(compile(source, str(CHAPTER), "exec"), namespace)  # noqa: S102  the chapter's own code
    plt.close("all")


def test_the_cells_exist_assert_and_the_notebook_uses_seed_0():
    assert GRADIENT_SEED in _chapter_cell(GRADIENT_CELL)
    assert TRAINING_SEED in _chapter_cell(TRAINING_CELL)
    for marker in (GRADIENT_CELL, FIGURE_CELL, LONGER_LAGS_CELL):
        assert "\nassert " in _chapter_cell(marker)


@pytest.mark.parametrize("seed", [1, 2])
def test_chapter_01_comparisons_hold_on_seeds_1_and_2(seed):
    namespace = {}
    _run(_chapter_cell(SETUP_CELL), namespace)  # imports, the palette, utils.setup(seed=0)
    namespace["utils"].setup(seed=seed)
    _run(_with_seed(_chapter_cell(GRADIENT_CELL), GRADIENT_SEED, f"rng = np.random.default_rng({9 + seed})\n"),
         namespace)
    _run(_with_seed(_chapter_cell(TRAINING_CELL), TRAINING_SEED, f"SEED = {seed}\n"), namespace)
    _run(_chapter_cell(FIGURE_CELL), namespace)
    _run(_chapter_cell(LONGER_LAGS_CELL), namespace)
    final, longer = namespace["final"], namespace["longer"]
    print(f"seed {seed}:", {k: round(v, 3) for k, v in final.items()}, namespace["steps_used"],
          {lag: {k: round(v, 3) for k, v in accs.items()} for lag, accs in longer.items()})
    # What the notebook says about these two seeds only: the orthogonal RNN learns, but not to 99%.
    assert 0.3 <= final["RNN, orthogonal W_h"] < 0.9
