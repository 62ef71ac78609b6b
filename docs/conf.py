"""Sphinx configuration of the skvectorflow documentation.

Build it (from the repository root) with::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

The pages are Markdown (MyST) and reStructuredText; the API reference is
generated from the numpydoc docstrings (``api.rst`` lists every public
name); the examples gallery runs ``examples/plot_*.py`` with sphinx-gallery.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not

import skvectorflow

# The examples read this to pick their small "documentation" sizes, so that
# the whole gallery runs in a few minutes on a 2-core CI machine; run alone,
# they use the full sizes their text discusses.
os.environ.setdefault("SKVECTORFLOW_GALLERY", "1")

project = "skvectorflow"
author = "the skvectorflow developers"
copyright = "the skvectorflow developers"
release = skvectorflow.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5",
                    "auto_examples/*.json", "auto_examples/*.zip", "auto_examples/*.py",
                    "auto_examples/*.ipynb", "sg_execution_times.rst"]
templates_path = ["_templates"]

# ---- API reference ----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"
# numpydoc renders the docstrings; autosummary's class template lists the methods.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# ---- Markdown pages (the user guide predates the Sphinx site) -----------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # keeps links such as user_guide.md#4-losses-... working

# ---- Examples gallery ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # SKVECTORFLOW_GALLERY_PATTERN=plot_quickstart builds just one example
    # (handy while writing one); the default runs them all.
    "filename_pattern": os.environ.get("SKVECTORFLOW_GALLERY_PATTERN", r"/plot_"),
    # Each API page lists the examples that use its name.
    "doc_module": ("skvectorflow",),
    "backreferences_dir": "generated/backreferences",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "matplotlib_animations": False,
}

# ---- HTML -------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skvectorflow {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
