"""The examples in the public docstrings run and print what they show."""

import doctest
import importlib

import pytest

PUBLIC_MODULES = [
    "skvectorflow.neural_network",
    "skvectorflow.survival",
    "skvectorflow.ranking",
    "skvectorflow.datasets",
    "skvectorflow.criteo",
    "skvectorflow.fields",
    "skvectorflow.io.csr_format",
    "skvectorflow.io.svmlight",
    "skvectorflow.io.conversion",
    "skvectorflow.io.streaming",
    "skvectorflow.io.parquet",
]

# Modules whose examples need an optional extra.
NEEDS_PACKAGE = {"skvectorflow.io.parquet": "pyarrow"}


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_docstring_examples(module_name):
    if module_name in NEEDS_PACKAGE:
        pytest.importorskip(NEEDS_PACKAGE[module_name])
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module_name} has no docstring example"
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module_name} failed"
