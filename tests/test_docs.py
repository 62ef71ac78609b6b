"""The documentation stays complete: every public name is in the API reference."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import skvectorflow

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _public_modules():
    """skvectorflow and its modules and packages whose names do not start with '_'."""
    names = ["skvectorflow"]
    for module in pkgutil.iter_modules(skvectorflow.__path__):
        if not module.name.startswith("_"):
            names.append(f"skvectorflow.{module.name}")
    return names


def _listed_in_api_reference():
    """Names the API reference documents: autosummary entries and py:data directives."""
    text = (DOCS / "api.rst").read_text()
    entries = set(re.findall(r"^   ([A-Za-z_][A-Za-z0-9_]*)$", text, flags=re.MULTILINE))
    entries |= set(re.findall(r"^\.\. py:data:: ([A-Za-z_][A-Za-z0-9_]*)$", text,
                              flags=re.MULTILINE))
    return entries


@pytest.mark.parametrize("module_name", _public_modules())
def test_every_public_name_is_in_the_api_reference(module_name):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:  # a module over an optional extra (dask, say)
        if exc.name.split(".")[0] == "skvectorflow":
            raise
        pytest.skip(f"{module_name} needs {exc.name}, not installed")
    public = getattr(module, "__all__", None)
    assert public, f"{module_name} has no __all__"
    missing = sorted(set(public) - _listed_in_api_reference())
    assert not missing, f"docs/api.rst does not list {missing} of {module_name}"


def test_every_page_is_in_the_table_of_contents():
    index = (DOCS / "index.rst").read_text()
    toctree = set(re.findall(r"^   (\S+)$", index, flags=re.MULTILINE))
    pages = {path.stem for path in DOCS.glob("*.md")} | {
        path.stem for path in DOCS.glob("*.rst") if path.stem not in ("index",)}
    pages.discard("sg_execution_times")  # written by sphinx-gallery
    assert pages <= toctree, f"pages missing from docs/index.rst: {sorted(pages - toctree)}"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda p: p.name)
def test_examples_open_with_a_gallery_title(example):
    # sphinx-gallery needs a docstring with an underlined title first.
    lines = example.read_text().splitlines()
    assert lines[0] == '"""', example.name
    title, underline = lines[1], lines[2]
    assert title and set(underline) == {"="} and len(underline) >= len(title), example.name
