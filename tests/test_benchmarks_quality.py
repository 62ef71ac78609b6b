"""The quality benchmark's core runs on tiny data and judges its targets from the numbers.

No quality figure is asserted for the estimators (that is what
``python -m benchmarks.quality`` reports); these tests check the report's
structure, the PASS/FAIL rules on numbers chosen to sit either side of each
threshold, the held-out family's generator and the NDCG used for ranking.
"""

import json

import numpy as np
import pytest

from benchmarks import quality
from skvectorflow.ranking import mean_ndcg


def _row(estimator, data, default, grid_best, one_epoch, baseline=False):
    return {"estimator": estimator, "data": data, "default": default, "grid_best": grid_best,
            "one_epoch": one_epoch, "default_minus_best": default - grid_best, "baseline": baseline}


def test_summary_judges_each_target_at_its_threshold():
    rows = [
        _row("ok", "a", 0.800, 0.801, 0.790), _row("ok", "b", 0.700, 0.708, 0.7019),
        _row("worst-too-far", "a", 0.800, 0.800, 0.790), _row("worst-too-far", "b", 0.700, 0.725, 0.690),
        _row("mean-too-far", "a", 0.800, 0.806, 0.790), _row("mean-too-far", "b", 0.700, 0.706, 0.7021),
        _row("sgd-baseline", "a", 0.5, 0.9, None, baseline=True),
    ]
    summary = quality.summarize(rows)
    gap = {item["estimator"]: item for item in summary["gap"]}
    assert set(gap) == {"ok", "worst-too-far", "mean-too-far"}  # baselines have no target
    assert gap["ok"]["status"] == "PASS" and gap["ok"]["mean"] == pytest.approx(-0.0045)
    assert gap["worst-too-far"]["status"] == "FAIL" and gap["worst-too-far"]["worst_data"] == "b"
    assert gap["worst-too-far"]["worst"] == pytest.approx(-0.025)
    assert gap["mean-too-far"]["status"] == "FAIL" and gap["mean-too-far"]["worst"] > -quality.WORST_GAP
    longer = {(item["estimator"], item["data"]): item["status"] for item in summary["longer"]}
    # 0.700 against 0.7019 is within the 0.002 slack; against 0.7021 it is not.
    assert longer[("ok", "b")] == "PASS" and longer[("mean-too-far", "b")] == "FAIL"
    assert quality.longer_ok(0.5, None) is None


def test_tiny_run_writes_a_well_formed_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(quality.GRIDS, "small", ((0.05,), (1e-5, 1e-3)))  # 2 points, with the defaults
    output = tmp_path / "quality.json"
    status = quality.main(["--quick", "--n-samples", "800", "--only", "crossed-lowcard,veterans",
                           "--estimators", "linear,logreg,survival-exp,coxph", "--output", str(output)])
    assert status == 0
    report = json.loads(output.read_text())
    rows = {(row["data"], row["estimator"]): row for row in report["rows"]}
    assert set(rows) == {("crossed-lowcard", "linear"), ("crossed-lowcard", "logreg"),
                         ("veterans", "survival-exp"), ("veterans", "coxph")}
    for row in rows.values():
        assert 0.0 <= row["default"] <= 1.0
        # The grid holds each estimator's defaults, so its best is at least the default.
        assert row["default"] <= row["grid_best"] and row["default_minus_best"] <= 0
        assert row["grid_points"] == (3 if row["baseline"] else 2)
        assert (row["one_epoch"] is None) == row["baseline"] == (row["longer_ok"] is None)
    assert rows[("crossed-lowcard", "linear")]["n_train"] == 640
    assert {item["estimator"] for item in report["summary"]["gap"]} == {"linear", "survival-exp"}
    assert all(item["status"] in ("PASS", "FAIL") for item in report["summary"]["longer"])

    markdown = output.with_suffix(".md").read_text()
    assert "python -m benchmarks.quality --quick --n-samples 800" in markdown
    for heading in ("## Data sets", "## Held-out metric", "## Defaults against", "## Longer training"):
        assert heading in markdown
    assert all(line.endswith(" |") for line in markdown.splitlines() if line.startswith("| "))
    out = capsys.readouterr().out
    assert "crossed-lowcard: 640 + 160 rows" in out and "grid best" in out


def test_crossed_fields_are_one_hot_per_field_and_reproducible():
    X, y, field_of_column = quality.make_crossed_fields(
        500, n_fields=5, n_dense=2, max_cardinality=300, hash_bits=6, random_state=3)
    assert X.shape == (500, 2 + 5 * 64) and field_of_column.shape == (X.shape[1],)
    assert (field_of_column == -1).sum() == 2 and set(np.unique(field_of_column)) == {-1, 0, 1, 2, 3, 4}
    categorical = X[:, field_of_column >= 0]
    assert np.all(categorical.getnnz(axis=1) == 5) and np.all(categorical.data == 1)
    fields_hit = field_of_column[field_of_column >= 0][categorical.indices].reshape(500, 5)
    assert np.all(fields_hit == np.arange(5))  # exactly one column of each field per row
    assert set(np.unique(y)) == {0, 1}
    again = quality.make_crossed_fields(
        500, n_fields=5, n_dense=2, max_cardinality=300, hash_bits=6, random_state=3)
    assert (X != again[0]).nnz == 0 and np.array_equal(y, again[1])


def _main_and_crossed_auc(crossed_share):
    """Held-out AUC of logistic regression on the one-hot fields, and on every pair's combinations."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    X, y, _ = quality.make_crossed_fields(
        20_000, n_fields=4, n_dense=0, max_cardinality=12, crossed_share=crossed_share,
        n_crossed_pairs=6, hash_bits=8, random_state=0)
    codes = X.indices.reshape(-1, 4)
    pairs = np.column_stack([codes[:, f] * 10_000 + codes[:, g] for f in range(4) for g in range(f + 1, 4)])
    train, test = slice(0, 16_000), slice(16_000, None)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(pairs[train])
    aucs = []
    for features in (X, encoder.transform(pairs)):
        model = LogisticRegression(max_iter=500).fit(features[train], y[train])
        aucs.append(roc_auc_score(y[test], model.predict_proba(features[test])[:, 1]))
    return aucs


def test_crossed_share_moves_the_signal_into_the_pairs():
    # All of the score in the pairs: their combinations see far more than the main effects
    # (which still catch the pairs' marginals); none of it: the combinations add nothing.
    main_auc, crossed_auc = _main_and_crossed_auc(1.0)
    assert crossed_auc > main_auc + 0.05
    main_auc, crossed_auc = _main_and_crossed_auc(0.0)
    assert crossed_auc < main_auc + 0.01


def test_ranking_ndcg_agrees_with_the_rankers_own():
    rng = np.random.default_rng(0)
    qid = np.repeat(np.arange(40), rng.integers(1, 30, size=40))
    y = rng.integers(0, 4, size=qid.size).astype(float)
    scores = np.round(rng.normal(size=qid.size), 1)  # ties share their discounts in both
    assert quality._ndcg_at_10(y, scores, qid) == pytest.approx(mean_ndcg(y, scores, qid, k=10))
