"""Sphinx configuration of the course website (`make site`; see tools/site.py).

tools/site.py assembles the source folder (a home page from the README's chapter table, the
executed chapter notebooks, their figures, the glossary) and runs Sphinx on it with this file.
The notebooks are rendered from their stored outputs: nothing is executed here.
Everything the pages load (MathJax, fonts, scripts, styles) is copied into the build folder from
installed packages, so the site works opened from disk and makes no request outside its folder.
"""
import json
from pathlib import Path

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
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"  # tools.site.MATHJAX_CONFIG_FILE
# tools/site.py writes its MATHJAX2_CONFIG (shared with the slides) next to this file.
mathjax2_config = json.loads((Path(__file__).parent / "mathjax2_config.json").read_text(encoding="utf-8"))
html_static_path = ["_static"]
html_css_files = ["course.css"]
