"""Sphinx configuration of the course website (`make site`; see tools/site.py).

tools/site.py assembles the source folder (a home page from the README's chapter table, the
executed chapter notebooks, their figures, the glossary) and runs Sphinx on it with this file.
The notebooks are rendered from their stored outputs: nothing is executed here.
Everything the pages load (MathJax, fonts, scripts, styles) is copied into the build folder from
installed packages, so the site works opened from disk and makes no request outside its folder.
"""

project = "Sequence-to-sequence models and attention"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = ["myst_nb"]

# The notebooks carry their outputs (`make notebooks`); the site shows them as they are.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
# The glossary links point at the HTML anchors of its table rows, which MyST cannot see.
suppress_warnings = ["myst.xref_missing"]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

html_theme = "sphinx_book_theme"
html_title = "seq2seq & attention"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the course...",
}
html_show_sourcelink = False
html_copy_source = False
# an explicit mode: pages opened from disk have no stored preference
html_context = {"default_mode": "light"}
html_last_updated_fmt = None

# MathJax 2.7 from the jupyter-server-mathjax package, copied to _static/mathjax by tools/site.py.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    # MyST marks each page tex2jax_ignore and its math elements "math": typeset only those
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True,
                "processClass": "math|output_area", "ignoreClass": "tex2jax_ignore|mathjax_ignore"},
    # the package ships the STIX-Web fonts only (no TeX fonts, no image fonts)
    # MathJax_Blank points at about:blank, which a page opened from disk may not load: use an empty font
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None,
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
    # the fast preview renders with the TeX fonts, which the package does not ship
    "fast-preview": {"disabled": True},
    # HTML-CSS with the shipped STIX-Web fonts, never native MathML (which wants the missing TeX fonts)
    "MMLorHTML": {"prefer": "HTML"},
    # the hidden MathML for screen readers (AssistiveMML) would pull the TeX web fonts through these
    # NativeMML variant styles; the shipped STIX-Web fonts cover them
    "NativeMML": {"styles": {
        sel: {"font-family": "STIXGeneral, serif"}
        for sel in ['[class="MJX-tex-oldstyle"]', '[class="MJX-tex-oldstyle-bold"]', '[class="MJX-tex-caligraphic"]',
                    '[class="MJX-tex-caligraphic-bold"]', '[mathvariant="double-struck"]', '[mathvariant="script"]',
                    '[mathvariant="fraktur"]', '[mathvariant="bold-script"]', '[mathvariant="bold-fraktur"]']}},
    "showMathMenu": False,
    "messageStyle": "none",
}
html_static_path = ["_static"]
