"""Smoke test of examples/plot_survival_promotion.py on tiny data."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "plot_survival_promotion.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("plot_survival_promotion", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def study(example):
    return example.run_study(n_rows=3_000, n_test=3_000, n_features=2**12, random_state=0,
                             n_jobs=1)


def test_importing_the_example_runs_nothing(example):
    # The study and the figure run only under __main__ (as sphinx-gallery runs it).
    assert callable(example.run_study)
    assert not hasattr(example, "results")


def test_study_reports_every_model(study):
    results, y_test = study
    assert [r["key"] for r in results] == ["null", "coarse", "linear", "linear_2x", "mlp"]
    n_test = y_test.shape[0]
    assert n_test == 3_000
    for r in results:
        assert math.isfinite(r["nll"])
        assert 0.0 <= r["c_index"] <= 1.0
        assert r["expected_to_observed"] > 0
        assert r["rate"].shape == (n_test,) and np.all(r["rate"] > 0)
    by_key = {r["key"]: r for r in results}
    assert by_key["null"]["c_index"] == 0.5
    assert [by_key[k]["n_train"] for k in ("null", "coarse", "linear", "linear_2x", "mlp")] == [
        3_000, 3_000, 3_000, 6_000, 6_000]


def test_parameter_counts(study):
    by_key = {r["key"]: r for r in study[0]}
    n_features = 2**12
    assert by_key["coarse"]["n_parameters"] == 512 + 1
    assert by_key["linear"]["n_parameters"] == n_features + 1
    assert by_key["mlp"]["n_parameters"] == n_features * 10 + 10 + 10 + 1
    assert (by_key["coarse"]["n_parameters"] < by_key["linear"]["n_parameters"]
            < by_key["mlp"]["n_parameters"])


def test_models_beat_the_null_model(study):
    results, _ = study
    null_nll = results[0]["nll"]
    for r in results[1:]:
        assert r["nll"] < null_nll, r["name"]
        assert r["c_index"] > 0.5, r["name"]


def test_table_lists_every_model(example, study):
    table = example.format_table(study[0])
    for r in study[0]:
        assert r["name"] in table


def test_hash_columns_keeps_rows_and_leaves_X_alone(example):
    from skvectorflow.datasets import make_sparse_survival

    X, _ = make_sparse_survival(n_samples=50, n_features=2**10, random_state=0)
    before = X.copy()
    folded = example.hash_columns(X, 16)
    assert folded.shape == (50, 16) and folded.has_canonical_format
    np.testing.assert_allclose(np.asarray(folded.sum(axis=1)), np.asarray(X.sum(axis=1)),
                               rtol=1e-5)
    assert (X != before).nnz == 0
