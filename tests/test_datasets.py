"""Tests for skvectorflow.datasets: the synthetic sparse generators."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

from skvectorflow import datasets
from skvectorflow.datasets import make_sparse_classification, make_sparse_regression

GENERATORS = [make_sparse_classification, make_sparse_regression]


def _seed(rng):
    """An int seed for the generators, drawn from the test's own rng."""
    return int(rng.integers(2**31))


def _assert_canonical_input(X, n_samples, n_features, nnz_per_row):
    assert isinstance(X, sp.csr_matrix)
    assert X.shape == (n_samples, n_features)
    assert X.data.dtype == np.float32
    assert X.indices.dtype == np.int32
    assert X.indptr.dtype in (np.int32, np.int64)
    assert X.has_canonical_format
    # Check the flags' claim from the arrays themselves.
    np.testing.assert_array_equal(np.diff(X.indptr), nnz_per_row)
    cols = X.indices.reshape(n_samples, nnz_per_row)
    assert np.all(np.diff(cols, axis=1) > 0), "indices not strictly increasing"
    assert cols.min() >= 0 and cols.max() < n_features
    assert np.all(X.data > 0)
    norms = np.sqrt(np.einsum("ij,ij->i", *(2 * [X.data.reshape(n_samples, -1)])))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_classification_input_and_label_types(n_classes):
    rng = np.random.default_rng(0)
    X, y = make_sparse_classification(
        n_samples=3000,
        n_features=5000,
        nnz_per_row=17,
        n_classes=n_classes,
        random_state=_seed(rng),
    )
    _assert_canonical_input(X, 3000, 5000, 17)
    assert y.shape == (3000,)
    assert y.dtype == np.int64
    assert set(np.unique(y).tolist()) <= set(range(n_classes))


@pytest.mark.parametrize("n_targets, y_shape", [(1, (2000,)), (3, (2000, 3))])
def test_regression_input_and_target_shapes(n_targets, y_shape):
    rng = np.random.default_rng(1)
    X, y = make_sparse_regression(
        n_samples=2000,
        n_features=3000,
        nnz_per_row=25,
        n_targets=n_targets,
        random_state=_seed(rng),
    )
    _assert_canonical_input(X, 2000, 3000, 25)
    assert y.shape == y_shape
    assert y.dtype == np.float64
    assert np.all(np.isfinite(y))
    # The teacher's score has variance close to 1 by construction.
    assert np.all((y.std(axis=0) > 0.5) & (y.std(axis=0) < 2.0))
    if n_targets > 1:
        # Each target has its own weights: they are far from identical.
        corr = np.corrcoef(y.T)
        assert np.abs(corr[np.triu_indices(n_targets, 1)]).max() < 0.9


@pytest.mark.parametrize(
    "n_features, nnz_per_row",
    [(40, 30), (30, 30), (1, 1), (200, 1), (64, 8), (64, 9)],
)
def test_dense_and_tiny_rows_have_exact_distinct_columns(n_features, nnz_per_row):
    # (64, 8) uses rejection sampling and (64, 9) Gumbel top-k; both, and the
    # extremes, must give exactly nnz_per_row distinct columns per row.
    rng = np.random.default_rng(2)
    X, _ = make_sparse_regression(
        n_samples=500,
        n_features=n_features,
        nnz_per_row=nnz_per_row,
        random_state=_seed(rng),
    )
    _assert_canonical_input(X, 500, n_features, nnz_per_row)
    if nnz_per_row == n_features:
        np.testing.assert_array_equal(
            X.indices.reshape(500, -1), np.tile(np.arange(n_features), (500, 1))
        )


@pytest.mark.parametrize("make", GENERATORS)
def test_same_random_state_gives_identical_output(make):
    rng = np.random.default_rng(3)
    seed = _seed(rng)
    kwargs = dict(n_samples=1500, n_features=4000, nnz_per_row=12)
    X1, y1 = make(**kwargs, random_state=seed)
    X2, y2 = make(**kwargs, random_state=seed)
    for attr in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(X1, attr), getattr(X2, attr))
    np.testing.assert_array_equal(y1, y2)

    # Generators and RandomStates built from the same seed are reproducible too.
    for build in (np.random.default_rng, np.random.RandomState):
        X3, y3 = make(**kwargs, random_state=build(seed))
        X4, y4 = make(**kwargs, random_state=build(seed))
        np.testing.assert_array_equal(X3.indices, X4.indices)
        np.testing.assert_array_equal(X3.data, X4.data)
        np.testing.assert_array_equal(y3, y4)


@pytest.mark.parametrize("make", GENERATORS)
def test_different_random_states_give_different_output(make):
    rng = np.random.default_rng(4)
    seed = _seed(rng)
    kwargs = dict(n_samples=1000, n_features=4000, nnz_per_row=12)
    X1, y1 = make(**kwargs, random_state=seed)
    X2, y2 = make(**kwargs, random_state=seed + 1)
    assert not np.array_equal(X1.indices, X2.indices)
    assert not np.array_equal(X1.data, X2.data)
    assert not np.array_equal(y1, y2)

    # A Generator passed in is advanced, so two calls with it differ.
    gen = np.random.default_rng(seed)
    X3, _ = make(**kwargs, random_state=gen)
    X4, _ = make(**kwargs, random_state=gen)
    assert not np.array_equal(X3.indices, X4.indices)


def test_teacher_does_not_depend_on_n_samples():
    # With a noiseless linear teacher, y = X @ w for one w shared by any
    # n_samples: stacking two draws must still be fitted exactly.
    rng = np.random.default_rng(5)
    seed = _seed(rng)
    kwargs = dict(n_features=300, nnz_per_row=10, nonlinearity=0.0, noise=0.0)
    X1, y1 = make_sparse_regression(n_samples=3000, **kwargs, random_state=seed)
    X2, y2 = make_sparse_regression(n_samples=4000, **kwargs, random_state=seed)
    X = sp.vstack([X1, X2]).tocsr()
    y = np.concatenate([y1, y2])
    assert Ridge(alpha=1e-6).fit(X, y).score(X, y) > 0.9999
    # ...whereas another seed has another teacher.
    X3, y3 = make_sparse_regression(n_samples=4000, **kwargs, random_state=seed + 1)
    X = sp.vstack([X1, X3]).tocsr()
    y = np.concatenate([y1, y3])
    assert Ridge(alpha=1e-6).fit(X, y).score(X, y) < 0.9


def test_column_popularity_is_heavy_tailed():
    rng = np.random.default_rng(6)
    n_features = 2**16
    X, _ = make_sparse_regression(
        n_samples=5000, n_features=n_features, nnz_per_row=30, random_state=_seed(rng)
    )
    counts = np.bincount(X.indices, minlength=n_features)
    top = np.sort(counts)[::-1]
    # Uniform popularity would give the top 1% of columns about 1% of the
    # non-zeros; p(r) ~ (r + 10) ** -1.1 gives them more than half.
    share_top_1pct = top[: n_features // 100].sum() / counts.sum()
    assert share_top_1pct > 0.4
    # ...while most columns are rare or unseen.
    assert np.median(counts) <= 1


def test_rejection_and_gumbel_sampling_have_the_same_law():
    # Both samplers claim exact successive sampling without replacement;
    # compare how often each rank is included (standard error ~0.0035).
    rng = np.random.default_rng(7)
    n_rows, n_features, k = 20_000, 60, 6
    by_rejection = datasets._sample_ranks(rng, n_rows, n_features, k, "rejection")
    by_gumbel = datasets._sample_ranks(rng, n_rows, n_features, k, "gumbel")
    for ranks in (by_rejection, by_gumbel):
        assert ranks.shape == (n_rows, k)
        assert np.all(np.diff(np.sort(ranks, axis=1), axis=1) > 0)
    freq_rejection = np.bincount(by_rejection.ravel(), minlength=n_features) / n_rows
    freq_gumbel = np.bincount(by_gumbel.ravel(), minlength=n_features) / n_rows
    np.testing.assert_allclose(freq_rejection, freq_gumbel, atol=0.02)
    # And the most popular rank is far more frequent than the least.
    assert freq_gumbel[0] > 3 * freq_gumbel[-1]


@pytest.mark.parametrize("method", ["rejection", "gumbel"])
def test_sampling_matches_the_exact_successive_sampling_law(method):
    # With 5 columns and 2 draws, rank i is kept with probability
    # p_i + sum_{j != i} p_j p_i / (1 - p_j); check each sampler against it.
    rng = np.random.default_rng(14)
    n_rows, n_features, k = 200_000, 5, 2
    p = np.exp(datasets._zipf_log_weights(n_features))
    p /= p.sum()
    second = p[None, :] * p[:, None] / (1 - p[:, None])  # [j, i]: j then i
    np.fill_diagonal(second, 0.0)
    expected = p + second.sum(axis=0)
    ranks = datasets._sample_ranks(rng, n_rows, n_features, k, method)
    observed = np.bincount(ranks.ravel(), minlength=n_features) / n_rows
    # Standard error is at most 0.0012.
    np.testing.assert_allclose(observed, expected, atol=0.005)


def test_int64_indptr_keeps_int32_indices(monkeypatch):
    # Past 2**31 - 1 non-zeros indptr must be int64 while indices stay int32;
    # shrink the limit to check that path on small data (it also takes the
    # int64 branch of the duplicate removal). The data must not change.
    rng = np.random.default_rng(8)
    seed = _seed(rng)
    kwargs = dict(n_samples=500, n_features=1000, nnz_per_row=30, random_state=seed)
    X_ref, y_ref = make_sparse_classification(**kwargs)
    monkeypatch.setattr(datasets, "_MAX_INT32", 10_000)
    X, y = make_sparse_classification(**kwargs)
    assert X.indptr.dtype == np.int64
    assert X.indices.dtype == np.int32
    np.testing.assert_array_equal(X.indices, X_ref.indices)
    np.testing.assert_array_equal(X.data, X_ref.data)
    np.testing.assert_array_equal(y, y_ref)


def test_binary_labels_are_balanced_and_predictable():
    rng = np.random.default_rng(9)
    for _ in range(3):
        X, y = make_sparse_classification(
            n_samples=20_000,
            n_features=2000,
            nnz_per_row=30,
            nonlinearity=0.0,
            random_state=_seed(rng),
        )
        assert set(np.unique(y).tolist()) == {0, 1}
        assert 0.2 < y.mean() < 0.8
    model = LogisticRegression(C=10.0).fit(X[:15000], y[:15000])
    auc = roc_auc_score(y[15000:], model.decision_function(X[15000:]))
    # Labels are Bernoulli(sigmoid(2.5 s)): informative but noisy.
    assert 0.75 < auc < 0.95


def test_multiclass_uses_all_classes():
    rng = np.random.default_rng(10)
    X, y = make_sparse_classification(
        n_samples=5000, n_features=2000, n_classes=5, random_state=_seed(rng)
    )
    freq = np.bincount(y, minlength=5) / y.size
    assert freq.size == 5
    assert np.all(freq > 0.05), freq


def test_nonlinear_part_is_out_of_reach_of_a_linear_model():
    rng = np.random.default_rng(11)
    seed = _seed(rng)
    scores = {}
    for nonlinearity in (0.0, 1.0):
        X, y = make_sparse_regression(
            n_samples=20_000,
            n_features=2000,
            nnz_per_row=30,
            nonlinearity=nonlinearity,
            noise=0.0,
            random_state=seed,
        )
        model = Ridge(alpha=1e-3).fit(X[:15000], y[:15000])
        scores[nonlinearity] = model.score(X[15000:], y[15000:])
    assert scores[0.0] > 0.99
    # Half the variance is non-linear by construction: R^2 near 0.5.
    assert scores[1.0] < 0.8


def test_regression_noise_is_relative_to_the_score_std():
    rng = np.random.default_rng(12)
    seed = _seed(rng)
    kwargs = dict(n_samples=20_000, n_features=1000, n_targets=2, random_state=seed)
    X0, y0 = make_sparse_regression(noise=0.0, **kwargs)
    X1, y1 = make_sparse_regression(noise=0.5, **kwargs)
    np.testing.assert_array_equal(X0.indices, X1.indices)
    ratio = (y1 - y0).std(axis=0) / y0.std(axis=0)
    np.testing.assert_allclose(ratio, 0.5, rtol=0.05)
    np.testing.assert_allclose((y1 - y0).mean(axis=0), 0.0, atol=0.05)


def test_classification_noise_blurs_the_labels():
    rng = np.random.default_rng(13)
    seed = _seed(rng)
    kwargs = dict(
        n_samples=20_000, n_features=1000, nonlinearity=0.0, random_state=seed
    )
    aucs = []
    for noise in (0.0, 2.0):
        X, y = make_sparse_classification(noise=noise, **kwargs)
        model = LogisticRegression(C=10.0).fit(X[:15000], y[:15000])
        aucs.append(roc_auc_score(y[15000:], model.decision_function(X[15000:])))
    assert aucs[1] < aucs[0] - 0.05


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_samples=0), ValueError, "n_samples must be >= 1"),
        (dict(n_samples=2.5), TypeError, "n_samples must be an integer"),
        (dict(n_samples=True), TypeError, "n_samples must be an integer"),
        (dict(n_features=0), ValueError, "n_features must be >= 1"),
        (dict(n_features=2**31), ValueError, "n_features must be <="),
        (dict(nnz_per_row=0), ValueError, "nnz_per_row must be >= 1"),
        (
            dict(n_features=10, nnz_per_row=11),
            ValueError,
            "nnz_per_row must be <= n_features",
        ),
        (dict(nonlinearity=-0.1), ValueError, "nonlinearity must be a finite number"),
        (dict(nonlinearity=np.inf), ValueError, "nonlinearity must be a finite number"),
        (dict(nonlinearity="high"), TypeError, "nonlinearity must be a real number"),
        (dict(noise=-1.0), ValueError, "noise must be a finite number >= 0"),
        (dict(noise=np.nan), ValueError, "noise must be a finite number"),
        (dict(random_state=-1), ValueError, "random_state must be >= 0"),
        (dict(random_state="seed"), TypeError, "random_state must be None, an int"),
    ],
)
def test_bad_arguments_raise(make, kwargs, error, match):
    with pytest.raises(error, match=match):
        make(**{"n_samples": 10, "n_features": 100, **kwargs})


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (make_sparse_classification, dict(n_classes=1), "n_classes must be >= 2"),
        (make_sparse_classification, dict(n_classes=2.0), "n_classes must be an int"),
        (make_sparse_regression, dict(n_targets=0), "n_targets must be >= 1"),
    ],
)
def test_bad_output_counts_raise(make, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(n_samples=10, n_features=100, **kwargs)


def test_make_sparse_survival_censoring_reproducibility_and_errors():
    from skvectorflow.datasets import make_sparse_survival

    X, y = make_sparse_survival(n_samples=20_000, n_features=500, random_state=0)
    assert X.shape == (20_000, 500) and y.dtype.names == ("event", "time")
    assert np.all(y["time"] > 0) and np.all(y["time"] <= 365.0)
    # The docstring's "about two thirds censored" with the defaults.
    assert 0.55 < 1 - y["event"].mean() < 0.75
    again = make_sparse_survival(n_samples=20_000, n_features=500, random_state=0)[1]
    np.testing.assert_array_equal(again, y)
    # A larger effect spreads the rates: the log-rate's spread shows in the times of events.
    _, strong = make_sparse_survival(n_samples=20_000, n_features=500, effect_size=3.0, random_state=0)
    assert np.std(np.log(strong["time"][strong["event"]])) > np.std(np.log(y["time"][y["event"]]))
    for name in ("baseline_rate", "follow_up"):
        with pytest.raises(ValueError, match=name):
            make_sparse_survival(n_samples=10, n_features=50, **{name: 0.0})
