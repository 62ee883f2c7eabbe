"""A Hangul-capable font for matplotlib, so Korean dates (``2012년 4월 12일``) show in figures.

matplotlib's default font, DejaVu Sans, has no Hangul: a label such as ``년`` is drawn as an
empty box, with a "Glyph ... missing from font(s) DejaVu Sans" warning. The course ships
NanumGothic (an open font by Naver, SIL Open Font License 1.1) through the pinned PyPI
package ``koreanize-matplotlib`` (listed in pyproject.toml and environment.yml), which only
*bundles* the font files here: we never import that package (importing it switches every
figure to NanumGothic, and it imports ``distutils``, which Python 3.12 removed). We find its
font file on disk and register it ourselves.

:func:`register_hangul_font` (called by ``utils.setup``) adds the font to matplotlib's font
manager and appends it to ``rcParams["font.family"]`` as a **fallback**: Latin text is still
drawn in the first family (DejaVu Sans, unchanged), and only glyphs that family lacks, such as
Hangul, come from NanumGothic (matplotlib >= 3.6 falls back glyph by glyph).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib
from matplotlib import font_manager

__all__ = ["HANGUL_FONT_FAMILY", "hangul_font_path", "register_hangul_font"]

#: The family name matplotlib knows the shipped Hangul font by.
HANGUL_FONT_FAMILY = "NanumGothic"
_FONT_PACKAGE = "koreanize_matplotlib"  # the PyPI package koreanize-matplotlib, which bundles the .ttf files
_FONT_FILE = "NanumGothic.ttf"


def hangul_font_path() -> Path:
    """The path of the shipped NanumGothic.ttf.

    Found without importing the package that ships it (see the module docstring). Raises
    FileNotFoundError naming the package to install when it is missing.
    """
    spec = importlib.util.find_spec(_FONT_PACKAGE)
    folders = [] if spec is None or spec.submodule_search_locations is None else list(spec.submodule_search_locations)
    for folder in folders:
        path = Path(folder) / "fonts" / _FONT_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the Hangul font {_FONT_FILE} was not found: it ships with the PyPI package koreanize-matplotlib "
        "(pinned in pyproject.toml); run `make setup` or `pip install -e .` to install it")


def register_hangul_font() -> str:
    """Register NanumGothic with matplotlib as a fallback font; returns its family name.

    Adds the font file to ``matplotlib.font_manager.fontManager`` and appends the family to
    ``rcParams["font.family"]`` (after the families already there), so Latin text keeps its
    font and Hangul is drawn instead of empty boxes. Calling it again changes nothing.
    """
    path = hangul_font_path()
    known = {Path(font.fname).resolve() for font in font_manager.fontManager.ttflist}
    if path.resolve() not in known:
        font_manager.fontManager.addfont(str(path))
    families = matplotlib.rcParams["font.family"]
    families = [families] if isinstance(families, str) else list(families)
    if HANGUL_FONT_FAMILY not in families:
        matplotlib.rcParams["font.family"] = families + [HANGUL_FONT_FAMILY]
    return HANGUL_FONT_FAMILY
