"""Sphinx configuration of the course website (docs/site/build.py stages the sources and runs Sphinx with it).

MyST-NB renders the notebooks with their stored outputs (never executed here); the theme is sphinx-book-theme;
equations are typeset in the reader's browser by a copy of MathJax served from the site itself (npm's ``mathjax``,
copied by build.py), so that a page needs nothing from the network.
"""

project = "Autoencoders and variational autoencoders"
author = "the vaecourse authors"
root_doc = "README"

extensions = ["myst_nb", "sphinx_book_theme"]
nb_execution_mode = "off"  # the stored outputs are the ones the tests check; the site never re-runs a notebook
nb_merge_streams = True
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN: build.py shows each widget as its picture
nb_render_markdown_format = "myst"  # the widget pictures' captions (markdown outputs) with their images
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_favicon = "_static/favicon.png"  # drawn by build.py
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
}
html_show_sourcelink = False
html_copy_source = False
# MathJax from the site's own _static/mathjax (build.py copies it there), not from a CDN
mathjax_path = "mathjax/tex-chtml.js"
exclude_patterns = ["_build", "node_modules", "**/.ipynb_checkpoints"]
