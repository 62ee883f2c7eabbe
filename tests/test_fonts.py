"""utils.fonts: the shipped Hangul font is found, registered as a fallback, and draws Korean dates."""
import importlib.util
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from utils.fonts import HANGUL_FONT_FAMILY, hangul_font_path, register_hangul_font  # noqa: E402

KOREAN_DATE = "2012년 4월 12일 목요일"


def _missing_glyph_warnings(families) -> list[str]:
    """Draw a figure with a Hangul title and tick labels in ``families``; the missing-glyph warnings."""
    with matplotlib.rc_context({"font.family": families}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title(KOREAN_DATE)
        ax.set_xticks([0, 1, 2], ["년", "월", "일"])
        fig.canvas.draw()
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_font_file_ships_with_the_pinned_package():
    path = hangul_font_path()
    assert path.name == "NanumGothic.ttf" and path.stat().st_size > 100_000
    assert font_manager.FontProperties(fname=str(path)).get_name() == HANGUL_FONT_FAMILY


def test_a_hangul_label_renders_without_missing_glyphs():
    register_hangul_font()
    families = list(matplotlib.rcParams["font.family"])
    assert families[-1] == HANGUL_FONT_FAMILY
    assert _missing_glyph_warnings(families) == []


def test_without_the_fallback_matplotlib_does_warn():
    # The check above can fail: the same drawing in the default font alone reports the missing glyphs.
    register_hangul_font()
    assert _missing_glyph_warnings(["DejaVu Sans"]), "DejaVu Sans unexpectedly has Hangul: the test proves nothing"


def test_latin_text_keeps_its_font_and_registering_twice_changes_nothing():
    before = font_manager.findfont(font_manager.FontProperties(family=[matplotlib.rcParams["font.family"][0]]))
    assert register_hangul_font() == HANGUL_FONT_FAMILY
    once = list(matplotlib.rcParams["font.family"])
    register_hangul_font()
    assert list(matplotlib.rcParams["font.family"]) == once and once.count(HANGUL_FONT_FAMILY) == 1
    first = font_manager.findfont(font_manager.FontProperties(family=[once[0]]))
    assert first == before and "NanumGothic" not in first  # Latin text: still the first family's font
    # The whole list still resolves to the first family: NanumGothic is only a glyph fallback.
    assert font_manager.findfont(font_manager.FontProperties(family=once)) == before


def test_setup_registers_the_font():
    import utils.repro

    matplotlib.rcParams["font.family"] = ["sans-serif"]
    utils.repro.setup(seed=0)
    assert HANGUL_FONT_FAMILY in matplotlib.rcParams["font.family"]


def test_a_missing_font_package_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "koreanize_matplotlib" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="koreanize-matplotlib"):
        hangul_font_path()
