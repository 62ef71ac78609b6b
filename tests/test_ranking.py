"""SparseMLPRanker, its losses, NDCG and query grouping."""

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import ndcg_score
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler

from skvectorflow import SparseMLPRanker
from skvectorflow._engine import objectives
from skvectorflow._engine.ranking import query_loss, sort_by_decreasing_key, unit_seed
from skvectorflow.datasets import make_sparse_ranking
from skvectorflow.ranking import group_by_query, mean_ndcg

LOSS_CODES = {"pairwise": objectives.RANK_PAIRWISE, "lambdarank": objectives.RANK_LAMBDARANK,
              "softmax": objectives.RANK_SOFTMAX}


@pytest.fixture(scope="module")
def ranking_data():
    X, y, qid = make_sparse_ranking(n_queries=600, docs_per_query=(2, 30), n_features=800,
                                    random_state=0)
    train = qid < 480
    return X[train], y[train], qid[train], X[~train], y[~train], qid[~train]


def evaluate_query_loss(code, scores, labels, weights, max_pairs=0, seed=7):
    n = scores.size
    grad = np.zeros(n)
    scratch = [np.zeros(n, dtype=np.int64) for _ in range(5)]
    scratch[2] = np.zeros(n + 1, dtype=np.int64)
    loss = query_loss(code, scores, labels, weights, grad, n, max_pairs, np.uint64(unit_seed(seed, 3)),
                      *scratch)
    return loss, grad


# ---- the losses -----------------------------------------------------------------------

@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
def test_query_loss_gradients_match_finite_differences(loss):
    rng = np.random.default_rng(1)
    n = 12
    # Distinct, well separated scores: lambdarank's |delta NDCG| weights depend
    # on the ranking, which the finite-difference steps must not change.
    scores = rng.permutation(n) * 0.3 + rng.uniform(0, 0.05, n)
    labels = rng.integers(0, 4, size=n).astype(np.float64)
    weights = np.full(n, 1.7)
    code = LOSS_CODES[loss]
    value, grad = evaluate_query_loss(code, scores, labels, weights)
    step = 1e-6
    for i in range(n):
        up, down = scores.copy(), scores.copy()
        up[i] += step
        down[i] -= step
        numeric = (evaluate_query_loss(code, up, labels, weights)[0]
                   - evaluate_query_loss(code, down, labels, weights)[0]) / (2 * step)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-7)
    assert value > 0
    assert grad.sum() == pytest.approx(0.0, abs=1e-9)  # shifting every score changes nothing


def test_pairwise_loss_is_the_mean_ranknet_loss_times_the_query_size():
    scores = np.array([0.5, -1.0, 2.0, 0.0])
    labels = np.array([2.0, 0.0, 1.0, 0.0])
    weights = np.full(4, 2.0)
    pairs = [(i, j) for i in range(4) for j in range(4) if labels[i] > labels[j]]
    expected = np.mean([math.log1p(math.exp(-(scores[i] - scores[j]))) for i, j in pairs])
    value, _ = evaluate_query_loss(objectives.RANK_PAIRWISE, scores, labels, weights)
    assert value == pytest.approx(2.0 * 4 * expected)


def test_lambdarank_weights_pairs_by_the_ndcg_change_of_a_swap():
    scores = np.array([3.0, 2.0, 1.0])
    labels = np.array([0.0, 1.0, 2.0])
    ideal = 3.0 / math.log2(2) + 1.0 / math.log2(3)
    discount = [1.0, 1.0 / math.log2(3), 0.5]
    pairs = {(2, 0): (3 - 0) * (discount[0] - discount[2]), (2, 1): (3 - 1) * (discount[1] - discount[2]),
             (1, 0): (1 - 0) * (discount[0] - discount[1])}
    total = sum(pairs.values()) / ideal
    expected = sum(w / ideal * math.log1p(math.exp(-(scores[i] - scores[j])))
                   for (i, j), w in pairs.items()) / total
    value, _ = evaluate_query_loss(objectives.RANK_LAMBDARANK, scores, labels, np.ones(3))
    assert value == pytest.approx(3 * expected)


def test_softmax_loss_is_the_cross_entropy_against_the_base_2_label_distribution():
    scores = np.array([1.0, 0.0, -0.5])
    labels = np.array([3.0, 1.0, 0.0])
    log_p = scores - np.log(np.sum(np.exp(scores)))
    target = np.array([8.0, 2.0, 1.0]) / 11.0  # 2**label / sum(2**label)
    expected = -np.sum(target * log_p)
    value, grad = evaluate_query_loss(objectives.RANK_SOFTMAX, scores, labels, np.ones(3))
    assert value == pytest.approx(3 * expected)
    np.testing.assert_allclose(grad, 3 * (np.exp(log_p) - target), rtol=1e-6)


def test_softmax_loss_stays_finite_for_large_labels_and_scores():
    scores = np.array([300.0, -300.0, 0.0])
    labels = np.array([1000.0, 999.0, 0.0])
    value, grad = evaluate_query_loss(objectives.RANK_SOFTMAX, scores, labels, np.ones(3))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # Target shares 2/3, 1/3, 0; the scores put all mass on the first document.
    np.testing.assert_allclose(grad, 3 * np.array([1 / 3, -1 / 3, 0.0]), atol=1e-6)


@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
def test_queries_without_an_order_to_learn_have_no_loss(loss):
    for scores, labels in (([0.3], [2.0]), ([0.3, 1.0, -2.0], [1.0, 1.0, 1.0])):
        value, grad = evaluate_query_loss(LOSS_CODES[loss], np.array(scores), np.array(labels),
                                          np.ones(len(scores)))
        assert value == 0.0 and not grad.any()


def test_sampled_pairs_estimate_the_full_pair_loss():
    rng = np.random.default_rng(0)
    n = 60
    scores = rng.normal(size=n)
    labels = rng.integers(0, 3, size=n).astype(np.float64)
    full, _ = evaluate_query_loss(objectives.RANK_PAIRWISE, scores, labels, np.ones(n))
    sampled = [evaluate_query_loss(objectives.RANK_PAIRWISE, scores, labels, np.ones(n),
                                   max_pairs=50, seed=seed)[0] for seed in range(400)]
    assert len(set(sampled)) > 300  # the seed changes the draw
    assert sampled[0] == evaluate_query_loss(objectives.RANK_PAIRWISE, scores, labels, np.ones(n),
                                             max_pairs=50, seed=0)[0]
    assert np.mean(sampled) == pytest.approx(full, rel=0.02)


def test_heap_sort_orders_by_decreasing_key_with_ties_by_index():
    keys = np.array([3.0, 1.0, 3.0, 5.0, 0.0, 1.0])
    order = np.zeros(6, dtype=np.int64)
    sort_by_decreasing_key(order, keys, 6)
    assert order.tolist() == [3, 0, 2, 1, 5, 4]


# ---- NDCG and grouping ----------------------------------------------------------------

def test_mean_ndcg_equals_scikit_learn_on_equal_size_queries_with_ties():
    rng = np.random.default_rng(0)
    n_queries, n_docs = 40, 15
    labels = rng.integers(0, 5, size=(n_queries, n_docs)).astype(np.float64)
    labels[:, 0] = 4  # every query has different labels
    labels[:, 1] = 0
    scores = rng.integers(0, 4, size=(n_queries, n_docs)).astype(np.float64)  # many ties
    qid = np.repeat(np.arange(n_queries), n_docs)
    for k in (3, 10, None):
        # scikit-learn's gain is the label itself: give it 2**label - 1.
        expected = ndcg_score(np.exp2(labels) - 1, scores, k=k)
        assert mean_ndcg(labels.ravel(), scores.ravel(), qid, k=k) == pytest.approx(expected)


def test_mean_ndcg_is_invariant_to_row_order_and_skips_uninformative_queries():
    labels = np.array([2, 0, 1, 0, 1, 3, 3, 5], dtype=float)
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.2, 0.4, 0.7, 0.0])
    qid = np.array(["a", "a", "a", "b", "b", "c", "c", "d"])
    value = mean_ndcg(labels, scores, qid)
    # Queries c (equal labels) and d (one document) are left out.
    informative = qid < "c"
    assert value == pytest.approx(mean_ndcg(labels[informative], scores[informative], qid[informative]))
    permutation = np.random.default_rng(0).permutation(labels.size)
    assert mean_ndcg(labels[permutation], scores[permutation], qid[permutation]) == pytest.approx(value)
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(mean_ndcg([1.0, 1.0, 2.0], [0.1, 0.2, 0.3], qid=[0, 0, 1]))
    with pytest.raises(ValueError, match="qid has 2 values but X has 3 rows"):
        mean_ndcg([1.0, 0.0, 2.0], [0.1, 0.2, 0.3], qid=[0, 0])


def test_group_by_query_is_stable_and_copies_nothing_when_grouped():
    order, bounds = group_by_query(np.array([7, 3, 7, 3, 9]))
    assert order.tolist() == [1, 3, 0, 2, 4] and bounds.tolist() == [0, 2, 4, 5]
    order, bounds = group_by_query(np.array([5, 5, 2, 2, 2, 9]))  # grouped, not sorted
    assert order is None and bounds.tolist() == [0, 2, 5, 6]


# ---- the estimator ------------------------------------------------------------------

@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
@pytest.mark.parametrize("hidden_layer_sizes", [(), (8,)])
def test_each_loss_learns_to_rank(ranking_data, loss, hidden_layer_sizes):
    X, y, qid, X_test, y_test, qid_test = ranking_data
    random_order = mean_ndcg(y_test, np.zeros(y_test.size), qid_test)
    model = SparseMLPRanker(loss=loss, hidden_layer_sizes=hidden_layer_sizes, max_iter=8,
                            random_state=0).fit(X, y, qid=qid)
    assert model.score(X_test, y_test, qid=qid_test) > random_order + 0.1
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_shuffled_rows_fit_the_same_model_as_rows_grouped_by_query(ranking_data):
    X, y, qid = ranking_data[:3]
    shuffle = np.random.default_rng(0).permutation(X.shape[0])
    X_shuffled, y_shuffled, qid_shuffled = X[shuffle], y[shuffle], qid[shuffle]
    grouped = np.argsort(qid_shuffled, kind="stable")
    params = dict(loss="lambdarank", hidden_layer_sizes=(4,), max_iter=3, max_pairs_per_query=20,
                  random_state=0, n_jobs=1)
    from_shuffled = SparseMLPRanker(**params).fit(X_shuffled, y_shuffled, qid=qid_shuffled)
    from_grouped = SparseMLPRanker(**params).fit(X_shuffled[grouped], y_shuffled[grouped],
                                                 qid=qid_shuffled[grouped])
    np.testing.assert_array_equal(from_shuffled.predict(X), from_grouped.predict(X))


def pairwise_callback(scores, labels, weights, grad):
    """RankNet over every pair, scaled as the built-in: mean pair loss x documents x weight."""
    n = scores.shape[0]
    loss = 0.0
    n_pairs = 0
    for i in range(n):
        grad[i] = 0.0
    for i in range(n):
        for j in range(n):
            if labels[i] > labels[j]:
                margin = scores[i] - scores[j]
                loss += math.log1p(math.exp(-margin))
                slope = 1.0 / (1.0 + math.exp(margin))
                grad[i] -= slope
                grad[j] += slope
                n_pairs += 1
    if n_pairs == 0:
        return np.float32(0.0)
    scale = np.mean(weights) * n / n_pairs
    for i in range(n):
        grad[i] *= scale
    return np.float32(loss * scale)


def test_a_query_loss_callback_equals_the_builtin(ranking_data):
    X, y, qid, X_test = ranking_data[:4]
    params = dict(max_iter=2, max_pairs_per_query=None, random_state=0, n_jobs=1)
    builtin = SparseMLPRanker(loss="pairwise", **params).fit(X, y, qid=qid)
    callback = SparseMLPRanker(loss_callback=pairwise_callback, **params).fit(X, y, qid=qid)
    # Rankings ignore a common shift of the scores, and so does training: the
    # output bias only moves by rounding noise, differently on the two paths.
    from_callback, from_builtin = callback.predict(X_test), builtin.predict(X_test)
    np.testing.assert_allclose(from_callback - from_callback.mean(),
                               from_builtin - from_builtin.mean(), atol=2e-4)


def test_grid_search_with_group_k_fold_routes_qid_to_fit_and_score(ranking_data):
    X, y, qid = ranking_data[:3]
    seen = []

    class RecordingRanker(SparseMLPRanker):
        def fit(self, X, y, qid=None, sample_weight=None):
            seen.append(("fit", np.unique(qid)))
            return super().fit(X, y, qid=qid, sample_weight=sample_weight)

        def score(self, X, y, qid=None, sample_weight=None):
            seen.append(("score", np.unique(qid)))
            return super().score(X, y, qid=qid, sample_weight=sample_weight)

    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(make_pipeline(MaxAbsScaler(), RecordingRanker(max_iter=2, random_state=0)),
                              {"recordingranker__loss": ["pairwise", "softmax"]}, cv=GroupKFold(3))
        search.fit(X, y, qid=qid, groups=qid)
    fits = [queries for kind, queries in seen if kind == "fit"]
    scores = [queries for kind, queries in seen if kind == "score"]
    assert len(scores) == 6 and len(fits) == 7  # 2 x 3 folds, then the refit on everything
    for train_queries, test_queries in zip(fits, scores):
        assert not np.intersect1d(train_queries, test_queries).size  # split by query
        assert np.union1d(train_queries, test_queries).size == np.unique(qid).size
    assert 0 < search.best_score_ <= 1


def test_score_without_routing_names_the_fix(ranking_data):
    X, y, qid = ranking_data[:3]
    model = SparseMLPRanker(max_iter=1, random_state=0).fit(X, y, qid=qid)
    with pytest.raises(ValueError, match="requires qid.*enable_metadata_routing"):
        model.score(X, y)


def test_bad_input_is_rejected_clearly(ranking_data):
    X, y, qid = ranking_data[:3]
    with pytest.raises(ValueError, match="fit requires qid"):
        SparseMLPRanker().fit(X, y)
    with pytest.raises(ValueError, match="qid has 3 values but X has"):
        SparseMLPRanker().fit(X, y, qid=qid[:3])
    for bad, message in ((-1.0, "non-negative"), (np.nan, "NaN or infinity")):
        labels = y.copy()
        labels[5] = bad
        with pytest.raises(ValueError, match=message):
            SparseMLPRanker().fit(X, labels, qid=qid)
    with pytest.raises(ValueError, match="qid contains NaN"):
        SparseMLPRanker().fit(X, y, qid=np.where(qid == 3, np.nan, qid.astype(float)))


def test_uninformative_queries_warn_only_when_nothing_can_be_learned(ranking_data):
    X, y, qid = ranking_data[:3]
    with pytest.warns(UserWarning, match="nothing to rank"):
        SparseMLPRanker(max_iter=1).fit(X, y, qid=np.arange(X.shape[0]))  # one document each
    with pytest.warns(UserWarning, match="nothing to rank"):
        model = SparseMLPRanker(max_iter=1).fit(X, np.ones(X.shape[0]), qid=qid)  # equal labels
    assert np.all(model.predict(X) == 0.0)  # no gradient ever reached the weights


def test_pickle_partial_fit_early_stopping(ranking_data):
    X, y, qid, X_test, y_test, qid_test = ranking_data
    model = SparseMLPRanker(hidden_layer_sizes=(8,), max_iter=5, early_stopping=True,
                            random_state=0).fit(X, y, qid=qid)
    assert all(0.0 <= score <= 1.0 for score in model.validation_scores_)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_test), model.predict(X_test))
    before = model.n_iter_
    model.partial_fit(X, y, qid=qid)
    assert model.n_iter_ == before + 1


def test_make_sparse_ranking_shapes_and_grades():
    X, y, qid = make_sparse_ranking(n_queries=30, docs_per_query=(3, 9), n_features=200,
                                    n_levels=3, random_state=1)
    assert X.shape[0] == y.size == qid.size
    sizes = np.bincount(qid)
    assert sizes.min() >= 3 and sizes.max() <= 9
    assert set(np.unique(y)) <= {0.0, 1.0, 2.0}
    again = make_sparse_ranking(n_queries=30, docs_per_query=(3, 9), n_features=200, n_levels=3,
                                random_state=1)
    np.testing.assert_array_equal(again[1], y)
    with pytest.raises(ValueError, match="n_levels must be >= 2"):
        make_sparse_ranking(n_levels=1)
    assert sp.issparse(X) and X.dtype == np.float32


def test_metric_and_label_limits_are_clear_errors():
    with pytest.raises(ValueError, match="at most 64"):
        mean_ndcg([100.0, 0.0], [0.1, 0.2], qid=[0, 0])
    with pytest.raises(ValueError, match="y_score contains NaN"):
        mean_ndcg([1.0, 0.0], [np.nan, 0.2], qid=[0, 0])
    with pytest.raises(ValueError, match="k must be a positive integer or None"):
        mean_ndcg([1.0, 0.0], [0.1, 0.2], qid=[0, 0], k=0)
    with pytest.raises(ValueError, match="y_true has 2 values but y_score has 3"):
        mean_ndcg([1.0, 0.0], [0.1, 0.2, 0.3], qid=[0, 0])


@pytest.mark.parametrize("make_qid", [lambda n: [1, "1"] * (n // 2),
                                      lambda n: np.array([1, "1"] * (n // 2), dtype=object)])
def test_qid_mixing_types_is_refused(make_qid):
    # np.asarray([1, "1"]) is two equal strings: the two queries would be merged.
    X = sp.random(40, 10, density=0.3, format="csr", random_state=0, dtype=np.float32)
    y = np.arange(40) % 3
    with pytest.raises(ValueError, match=r"qid mixes query ids of different types: number \(1\), str"):
        SparseMLPRanker(max_iter=1).fit(X, y, qid=make_qid(40))


def test_qid_of_strings_or_of_numbers_is_accepted():
    X = sp.random(40, 10, density=0.3, format="csr", random_state=0, dtype=np.float32)
    y = np.arange(40) % 3
    for qid in (["a", "b"] * 20, np.array(["a", "b"] * 20, dtype=object), [1, 2.0] * 20):
        SparseMLPRanker(max_iter=1, tol=None).fit(X, y, qid=qid)
