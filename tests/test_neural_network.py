"""Tests for skvectorflow.neural_network: SparseMLPRegressor and SparseMLPClassifier.

Every test draws its data from its own ``np.random.default_rng(seed)``; the
data are small (a few thousand rows at most) and ``max_iter`` is low, so the
module runs in seconds.  Bit-for-bit comparisons use ``n_jobs=1`` and an int
``random_state``, which the estimators document as reproducible.
"""

import concurrent.futures
import math
import pickle
import re
import threading
import warnings

import joblib
import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from skvectorflow import SparseMLPClassifier, SparseMLPRegressor
from skvectorflow import _base
from skvectorflow._engine import hogwild
from skvectorflow.datasets import make_sparse_classification, make_sparse_regression

ESTIMATORS = [SparseMLPClassifier, SparseMLPRegressor]
OPTIMIZERS = ["sgd", "adagrad", "rowwise_adagrad", "adam", "ftrl"]


def _dense(X):
    return X.toarray()


# Input containers: the same matrix as scipy's two CSR classes and as a dense array.
CONTAINERS = [
    pytest.param(sp.csr_matrix, id="csr_matrix"),
    pytest.param(sp.csr_array, id="csr_array"),
    pytest.param(_dense, id="dense"),
]


def _seed(rng):
    """An int seed drawn from the test's own generator."""
    return int(rng.integers(2**31))


def _make_data(Estimator, rng, n_samples=300, n_features=60, nnz_per_row=8, n_classes=2,
               nonlinearity=0.5):
    """Small sparse problem (canonical float32/int32 CSR) for ``Estimator``."""
    if Estimator is SparseMLPClassifier:
        return make_sparse_classification(
            n_samples=n_samples, n_features=n_features, nnz_per_row=nnz_per_row,
            n_classes=n_classes, nonlinearity=nonlinearity, random_state=_seed(rng))
    return make_sparse_regression(
        n_samples=n_samples, n_features=n_features, nnz_per_row=nnz_per_row,
        nonlinearity=nonlinearity, random_state=_seed(rng))


def _outputs(model, X):
    """What a comparison of two models should look at: probabilities or predictions."""
    if isinstance(model, SparseMLPClassifier):
        return model.predict_proba(X)
    return model.predict(X)


def _quality(model, X, y):
    """Held-out ROC AUC (binary classifier) or R^2 (regressor)."""
    if isinstance(model, SparseMLPClassifier):
        return roc_auc_score(y, model.predict_proba(X)[:, 1])
    return r2_score(y, model.predict(X))


def _assert_same_model(a, b, X):
    """Two fitted models are identical bit for bit."""
    assert len(a.coefs_) == len(b.coefs_)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(_outputs(a, X), _outputs(b, X))


class _ThreadCountSpy:
    """Wraps ``hogwild.run_in_threads`` and records the thread counts it is called with."""

    def __init__(self, monkeypatch):
        self.calls = []
        self._lock = threading.Lock()
        self._original = hogwild.run_in_threads
        monkeypatch.setattr(hogwild, "run_in_threads", self)

    def __call__(self, work, n_threads):
        with self._lock:
            self.calls.append(n_threads)
        return self._original(work, n_threads)


@pytest.fixture
def no_thread_caps(monkeypatch):
    """``monkeypatch``, with the environment's thread caps removed for the test."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    return monkeypatch


# --------------------------------------------------------------------------
# Loss callbacks (module level, so that estimators holding them pickle)
# --------------------------------------------------------------------------


def hand_squared_error(pred, target, weight, grad):
    """0.5 * w * (pred - target)**2, written by hand."""
    loss = 0.0
    n_outputs = pred.shape[0] // weight.shape[0]
    for i in range(pred.shape[0]):
        residual = pred[i] - target[i]
        w = weight[i // n_outputs]
        grad[i] = w * residual
        loss += 0.5 * w * residual * residual
    return np.float32(loss)


def hand_binary_log_loss(pred, target, weight, grad):
    """w * (log(1 + exp(z)) - y z), written by hand with math.exp and np.log1p."""
    loss = 0.0
    for r in range(weight.shape[0]):
        z = pred[r]
        y = target[r]
        w = weight[r]
        if z > 0.0:
            softplus = z + np.log1p(math.exp(-z))
            p = 1.0 / (1.0 + math.exp(-z))
        else:
            e = math.exp(z)
            softplus = np.log1p(e)
            p = e / (1.0 + e)
        grad[r] = w * (p - y)
        loss += w * (softplus - y * z)
    return np.float32(loss)


@numba.njit
def jitted_squared_error(pred, target, weight, grad):
    """The same squared error, already decorated with numba.njit."""
    loss = 0.0
    for i in range(pred.shape[0]):
        residual = pred[i] - target[i]
        grad[i] = weight[i] * residual
        loss += 0.5 * weight[i] * residual * residual
    return np.float32(loss)


def raising_loss(pred, target, weight, grad):
    """Raises on the first row it sees."""
    if weight.shape[0] > 0:
        raise ValueError("raising_loss was called")
    return np.float32(0.0)


def nan_loss(pred, target, weight, grad):
    """Returns NaN (with a finite gradient)."""
    for i in range(pred.shape[0]):
        grad[i] = pred[i] - target[i]
    return np.float32(np.nan)


def inf_gradient_loss(pred, target, weight, grad):
    """Returns a finite loss but writes an infinite gradient."""
    for i in range(pred.shape[0]):
        grad[i] = np.inf
    return np.float32(1.0)


def _python_helper(pred):
    return float(len(pred))


def uncompilable_loss(pred, target, weight, grad):
    """Calls a plain Python function: Numba cannot compile it."""
    return np.float32(_python_helper(pred))


# --------------------------------------------------------------------------
# 1. Linear models reach a reference solver's optimum
# --------------------------------------------------------------------------


def _no_zero_design(rng, n_samples, n_features):
    """Float32 X whose every entry is non-zero (|x| >= 0.1)."""
    X = rng.normal(size=(n_samples, n_features))
    return (np.sign(X) * (np.abs(X) + 0.1)).astype(np.float32)


def _full_batch_gd(Estimator, n_samples, alpha, learning_rate_init, max_iter, **params):
    return Estimator(hidden_layer_sizes=(), alpha=alpha, batch_size=n_samples, optimizer="sgd",
                     learning_rate_init=learning_rate_init, max_iter=max_iter, tol=None,
                     shuffle=False, random_state=0, n_jobs=1, **params)


@pytest.mark.parametrize("container", CONTAINERS)
def test_linear_classifier_reaches_logistic_regression_optimum(container):
    # Every row holds every feature, so the engine's touched-row L2 is plain L2
    # and full-batch gradient descent minimises
    #     mean_i logloss_i + alpha/2 ||w||^2,
    # which is LogisticRegression's  C sum_i logloss_i + 1/2 ||w||^2  divided
    # by C n: the same optimum when C = 1 / (n alpha).  Intercepts are
    # unpenalised in both.  Tolerance: 2e-3 absolute on every coefficient.
    rng = np.random.default_rng(0)
    n, d, alpha = 300, 5, 1e-2
    X = _no_zero_design(rng, n, d)
    w = rng.normal(size=d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w + 0.3)))).astype(np.int64)
    X_fit = container(sp.csr_matrix(X))
    if sp.issparse(X_fit):
        assert X_fit.nnz == n * d

    model = _full_batch_gd(SparseMLPClassifier, n, alpha, 1.0, 500, loss="log_loss").fit(X_fit, y)
    reference = LogisticRegression(C=1.0 / (n * alpha), tol=1e-10, max_iter=10_000).fit(
        X.astype(np.float64), y)

    np.testing.assert_allclose(model.coefs_[0].ravel(), reference.coef_.ravel(), rtol=0, atol=2e-3)
    np.testing.assert_allclose(model.intercepts_[0], reference.intercept_, rtol=0, atol=2e-3)
    np.testing.assert_allclose(model.predict_proba(X_fit), reference.predict_proba(X),
                               rtol=0, atol=2e-3)


def test_linear_multiclass_classifier_reaches_multinomial_logistic_regression_optimum():
    # Softmax cross-entropy with the same scaling as the binary case
    # (C = 1 / (n alpha)).  The L2 penalty makes the coefficients identifiable;
    # the unpenalised intercepts are only defined up to a common shift, so they
    # are compared after centring.  Tolerance: 2e-3 absolute.
    rng = np.random.default_rng(1)
    n, d, k, alpha = 300, 5, 3, 1e-2
    X = _no_zero_design(rng, n, d)
    logits = X @ rng.normal(size=(d, k))
    y = np.argmax(logits + rng.gumbel(size=(n, k)), axis=1)

    model = _full_batch_gd(SparseMLPClassifier, n, alpha, 1.0, 600).fit(sp.csr_matrix(X), y)
    reference = LogisticRegression(C=1.0 / (n * alpha), tol=1e-10, max_iter=10_000).fit(
        X.astype(np.float64), y)

    np.testing.assert_allclose(model.coefs_[0], reference.coef_.T, rtol=0, atol=2e-3)
    b = model.intercepts_[0]
    np.testing.assert_allclose(b - b.mean(), reference.intercept_ - reference.intercept_.mean(),
                               rtol=0, atol=2e-3)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=2e-3)


@pytest.mark.parametrize("container", CONTAINERS)
def test_linear_regressor_reaches_ridge_optimum(container):
    # The engine's squared_error objective is
    #     (1/n) sum_i 0.5 r_i^2 + alpha/2 ||w||^2
    # (every feature in every row, so touched-row L2 is plain L2).  Ridge
    # minimises  sum_i r_i^2 + a ||w||^2 = 2n [(1/n) sum_i 0.5 r_i^2 + a/(2n) ||w||^2],
    # the same optimum when a = n * alpha.  Tolerance: 2e-3 absolute.
    rng = np.random.default_rng(2)
    n, d, alpha = 300, 5, 1e-2
    X = _no_zero_design(rng, n, d)
    y = X @ rng.normal(size=d) + 0.5 + 0.1 * rng.normal(size=n)
    X_fit = container(sp.csr_matrix(X))

    model = _full_batch_gd(SparseMLPRegressor, n, alpha, 0.5, 400).fit(X_fit, y)
    reference = Ridge(alpha=n * alpha).fit(X.astype(np.float64), y)

    np.testing.assert_allclose(model.coefs_[0].ravel(), reference.coef_, rtol=0, atol=2e-3)
    np.testing.assert_allclose(model.intercepts_[0][0], reference.intercept_, rtol=0, atol=2e-3)
    np.testing.assert_allclose(model.predict(X_fit), reference.predict(X), rtol=0, atol=5e-3)


# --------------------------------------------------------------------------
# 2-3. An MLP beats a linear model on a non-linear teacher; Hogwild quality
# --------------------------------------------------------------------------

# The teacher's non-linear part lives on its 1024 most popular columns; with
# 4,000 training rows a 16-unit MLP can only learn it when there are few
# columns (with 500 columns it does not beat the linear model at this size),
# hence 50 columns with 10 non-zeros each.  Classification labels are
# Bernoulli draws, so the classifier's teacher is made more non-linear.
_TEACHER = {
    SparseMLPClassifier: dict(nonlinearity=2.0, mlp_rate=0.1, margin=0.03),
    SparseMLPRegressor: dict(nonlinearity=1.0, mlp_rate=0.03, margin=0.1),
}


def _teacher_split(Estimator, seed):
    rng = np.random.default_rng(seed)
    X, y = _make_data(Estimator, rng, n_samples=5000, n_features=50, nnz_per_row=10,
                      nonlinearity=_TEACHER[Estimator]["nonlinearity"])
    return X[:4000], X[4000:], y[:4000], y[4000:]


def _linear(Estimator, n_jobs=1):
    return Estimator(learning_rate_init=0.05, max_iter=20, tol=None, random_state=0, n_jobs=n_jobs)


def _mlp(Estimator, n_jobs=1):
    return Estimator(hidden_layer_sizes=(16,), learning_rate_init=_TEACHER[Estimator]["mlp_rate"],
                     max_iter=30, tol=None, random_state=0, n_jobs=n_jobs)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mlp_beats_linear_model_on_nonlinear_teacher(Estimator):
    X_train, X_test, y_train, y_test = _teacher_split(Estimator, 3)
    linear = _linear(Estimator).fit(X_train, y_train)
    mlp = _mlp(Estimator).fit(X_train, y_train)
    linear_quality = _quality(linear, X_test, y_test)
    mlp_quality = _quality(mlp, X_test, y_test)
    # The linear model itself learns something (held-out AUC / R^2 well above chance).
    assert linear_quality > (0.6 if Estimator is SparseMLPClassifier else 0.3)
    assert mlp_quality > linear_quality + _TEACHER[Estimator]["margin"], (mlp_quality, linear_quality)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(), (16,)], ids=["linear", "mlp"])
def test_two_hogwild_threads_reach_quality_of_one(Estimator, hidden, no_thread_caps):
    # Linear models: within 0.01 (AUC or R^2).  The MLPs are still improving
    # after 30 epochs, so the update interleaving of two threads moves their
    # held-out quality by up to ~0.01 from run to run: tolerance 0.03.
    X_train, X_test, y_train, y_test = _teacher_split(Estimator, 4)
    make = _linear if hidden == () else _mlp
    one = make(Estimator, n_jobs=1).fit(X_train, y_train)
    spy = _ThreadCountSpy(no_thread_caps)
    two = make(Estimator, n_jobs=2).fit(X_train, y_train)
    assert 2 in spy.calls  # training really ran on two threads
    tolerance = 0.01 if hidden == () else 0.03
    assert abs(_quality(two, X_test, y_test) - _quality(one, X_test, y_test)) < tolerance


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [1, 32])
def test_two_threads_train_with_every_optimizer(Estimator, optimizer, batch_size, no_thread_caps):
    rng = np.random.default_rng(57)
    X, y = _make_data(Estimator, rng, n_samples=1000)
    spy = _ThreadCountSpy(no_thread_caps)
    model = Estimator(hidden_layer_sizes=(4,), optimizer=optimizer, batch_size=batch_size,
                      learning_rate_init=0.01, max_iter=3, tol=None, shuffle_block_size=32,
                      random_state=0, n_jobs=2).fit(X, y)
    assert spy.calls[0] == 2
    assert model.t_ > 0
    assert all(np.isfinite(model.loss_curve_))
    assert model.loss_curve_[-1] < model.loss_curve_[0]


# --------------------------------------------------------------------------
# 4. Determinism with one thread
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(), (8,)], ids=["linear", "mlp"])
@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_thread_with_int_random_state_is_bit_for_bit_deterministic(
        Estimator, hidden, batch_size, optimizer):
    rng = np.random.default_rng(5)
    X, y = _make_data(Estimator, rng)
    params = dict(hidden_layer_sizes=hidden, batch_size=batch_size, optimizer=optimizer,
                  learning_rate_init=0.01, max_iter=3, tol=None, shuffle_block_size=16,
                  random_state=7, n_jobs=1)
    a = Estimator(**params).fit(X, y)
    b = Estimator(**params).fit(X, y)
    _assert_same_model(a, b, X)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.loss_curve_ == b.loss_curve_
    assert a.t_ == b.t_
    # Not vacuous: another seed shuffles differently and so trains another model.
    c = Estimator(**{**params, "random_state": 8}).fit(X, y)
    assert not np.array_equal(_outputs(a, X), _outputs(c, X))


# --------------------------------------------------------------------------
# 5. Loss callbacks
# --------------------------------------------------------------------------

# (Estimator, callback, built-in loss it must reproduce, n_classes)
_CALLBACK_CASES = [
    pytest.param(SparseMLPRegressor, hand_squared_error, "squared_error", 2, id="hand_squared_error"),
    pytest.param(SparseMLPRegressor, jitted_squared_error, "squared_error", 2, id="njit_squared_error"),
    pytest.param(SparseMLPRegressor, "squared_error", "squared_error", 2, id="str_squared_error"),
    pytest.param(SparseMLPRegressor, "huber", "huber", 2, id="str_huber"),
    pytest.param(SparseMLPClassifier, hand_binary_log_loss, "log_loss", 2, id="hand_binary_log_loss"),
    pytest.param(SparseMLPClassifier, "binary_log_loss", "log_loss", 2, id="str_binary_log_loss"),
    pytest.param(SparseMLPClassifier, "multinomial_log_loss", "log_loss", 3, id="str_multinomial"),
]


@pytest.mark.parametrize("Estimator, callback, loss, n_classes", _CALLBACK_CASES)
@pytest.mark.parametrize("hidden", [(), (8,)], ids=["linear", "mlp"])
def test_loss_callback_trains_the_same_model_as_builtin_loss(Estimator, callback, loss, n_classes,
                                                             hidden):
    # Float32 arithmetic in a different order: equal within rtol 1e-4, atol 1e-5.
    rng = np.random.default_rng(6)
    X, y = _make_data(Estimator, rng, n_classes=n_classes)
    params = dict(loss=loss, hidden_layer_sizes=hidden, max_iter=3, tol=None, random_state=0,
                  n_jobs=1)
    builtin = Estimator(**params).fit(X, y)
    custom = Estimator(loss_callback=callback, **params).fit(X, y)
    np.testing.assert_allclose(_outputs(custom, X), _outputs(builtin, X), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(custom.loss_curve_, builtin.loss_curve_, rtol=1e-4)
    # Not vacuous: training moved the model away from its start.
    assert builtin.loss_curve_[-1] < builtin.loss_curve_[0]


def test_loss_callback_with_multiple_regression_outputs():
    rng = np.random.default_rng(7)
    X, y = _make_data(SparseMLPRegressor, rng)
    Y = np.column_stack([y, -2.0 * y + rng.normal(size=y.size)])
    params = dict(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0, n_jobs=1)
    builtin = SparseMLPRegressor(**params).fit(X, Y)
    custom = SparseMLPRegressor(loss_callback=hand_squared_error, **params).fit(X, Y)
    assert custom.predict(X).shape == Y.shape
    np.testing.assert_allclose(custom.predict(X), builtin.predict(X), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------
# 6. Pipelines, model selection, clone, pickle
# --------------------------------------------------------------------------


def _text_corpus(rng, n_docs=400):
    """Documents of random words; the label says whether 'good' words outnumber 'bad' ones."""
    vocabulary = [f"w{i}" for i in range(200)]
    good, bad = ["great", "fine", "superb"], ["awful", "poor", "broken"]
    documents, labels = [], []
    for _ in range(n_docs):
        words = list(rng.choice(vocabulary, size=rng.integers(5, 15)))
        n_good, n_bad = rng.integers(0, 4, size=2)
        if n_good == n_bad:
            n_good += 1
        words += list(rng.choice(good, size=n_good)) + list(rng.choice(bad, size=n_bad))
        rng.shuffle(words)
        documents.append(" ".join(words))
        labels.append(int(n_good > n_bad))
    return documents, np.array(labels)


def test_pipeline_with_hashing_vectorizer_and_parallel_model_selection():
    rng = np.random.default_rng(8)
    documents, y = _text_corpus(rng)
    pipeline = make_pipeline(
        HashingVectorizer(n_features=2**10, alternate_sign=False),
        SparseMLPClassifier(max_iter=10, learning_rate_init=0.1, tol=None, random_state=0),
    )
    search = GridSearchCV(
        pipeline,
        {"sparsemlpclassifier__hidden_layer_sizes": [(), (4,)],
         "sparsemlpclassifier__alpha": [1e-5, 1e-3]},
        cv=2, n_jobs=2,
    ).fit(documents, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.8
    assert search.best_estimator_.score(documents, y) > 0.8

    scores = cross_val_score(pipeline, documents, y, cv=3, n_jobs=2)
    assert scores.shape == (3,)
    assert scores.min() > 0.75


def test_pipeline_with_feature_hasher():
    rng = np.random.default_rng(9)
    n = 500
    weights = rng.normal(size=50)
    records, y = [], []
    for _ in range(n):
        keys = rng.choice(50, size=6, replace=False)
        records.append({f"token={k}": 1.0 for k in keys})
        y.append(weights[keys].sum() + 0.1 * rng.normal())
    y = np.array(y)
    pipeline = make_pipeline(
        FeatureHasher(n_features=2**10, input_type="dict"),
        SparseMLPRegressor(max_iter=20, learning_rate_init=0.1, tol=None, random_state=0, n_jobs=1),
    )
    pipeline.fit(records[:400], y[:400])
    assert pipeline.score(records[400:], y[400:]) > 0.85


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone_copies_parameters_not_fitted_state(Estimator):
    rng = np.random.default_rng(10)
    X, y = _make_data(Estimator, rng)
    model = Estimator(hidden_layer_sizes=(4,), alpha=1e-3, loss_callback=None, max_iter=1,
                      random_state=3).fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(X)
    check_is_fitted(model)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(), (8,)], ids=["linear", "mlp"])
@pytest.mark.parametrize("round_trip", ["pickle", "joblib"])
def test_pickle_round_trip_predicts_the_same_and_warm_starts(Estimator, hidden, round_trip,
                                                            tmp_path):
    rng = np.random.default_rng(11)
    X, y = _make_data(Estimator, rng)
    model = Estimator(hidden_layer_sizes=hidden, max_iter=2, tol=None, warm_start=True,
                      random_state=0, n_jobs=1).fit(X, y)
    if round_trip == "pickle":
        loaded = pickle.loads(pickle.dumps(model))
    else:
        joblib.dump(model, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    _assert_same_model(model, loaded, X)
    np.testing.assert_array_equal(loaded.predict(X[:1]), model.predict(X[:1]))
    assert loaded.get_params() == model.get_params()

    # Warm start continues from the unpickled parameters exactly as from the original's.
    model.fit(X, y)
    loaded.fit(X, y)
    assert loaded.n_iter_ == 4 and len(loaded.loss_curve_) == 4
    _assert_same_model(model, loaded, X)


def test_pickle_keeps_loss_callback():
    rng = np.random.default_rng(12)
    X, y = _make_data(SparseMLPRegressor, rng)
    for callback in [hand_squared_error, "squared_error"]:
        model = SparseMLPRegressor(loss_callback=callback, max_iter=1, random_state=0,
                                   n_jobs=1).fit(X, y)
        loaded = pickle.loads(pickle.dumps(model))
        assert loaded.loss_callback == callback
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# --------------------------------------------------------------------------
# 7. warm_start and partial_fit
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_continues_training(Estimator):
    rng = np.random.default_rng(13)
    X, y = _make_data(Estimator, rng)
    model = Estimator(hidden_layer_sizes=(4,), max_iter=3, tol=None, warm_start=True,
                      random_state=0, n_jobs=1).fit(X, y)
    first_curve, first_t = list(model.loss_curve_), model.t_
    assert model.n_iter_ == 3 and first_t > 0
    before = _outputs(model, X)
    model.fit(X, y)
    assert model.n_iter_ == 6
    assert len(model.loss_curve_) == 6
    assert model.loss_curve_[:3] == first_curve
    assert model.t_ == 2 * first_t
    assert not np.array_equal(_outputs(model, X), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_warm_start_without_shuffle_equals_one_longer_fit(Estimator, optimizer):
    rng = np.random.default_rng(14)
    X, y = _make_data(Estimator, rng)
    params = dict(hidden_layer_sizes=(4,), optimizer=optimizer, tol=None, shuffle=False,
                  random_state=0, n_jobs=1)
    twice = Estimator(max_iter=2, warm_start=True, **params).fit(X, y).fit(X, y)
    once = Estimator(max_iter=4, **params).fit(X, y)
    _assert_same_model(twice, once, X)
    assert twice.loss_curve_ == once.loss_curve_
    assert twice.t_ == once.t_


def test_without_warm_start_fit_starts_anew():
    rng = np.random.default_rng(15)
    X, y = _make_data(SparseMLPClassifier, rng)
    params = dict(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0, n_jobs=1)
    model = SparseMLPClassifier(**params).fit(X, y).fit(X, y)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    _assert_same_model(model, SparseMLPClassifier(**params).fit(X, y), X)


def _partial_fit(model, X, y, k):
    for _ in range(k):
        if isinstance(model, SparseMLPClassifier):
            model.partial_fit(X, y, classes=np.unique(y))
        else:
            model.partial_fit(X, y)
    return model


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(), (4,)], ids=["linear", "mlp"])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_k_partial_fits_equal_fit_with_max_iter_k(Estimator, hidden, batch_size):
    # Each partial_fit seeds its shuffle from (random_state, 1 + t_) while fit
    # draws all its epochs' orders from (random_state, 1): the orders differ
    # after the first epoch by design, so the comparison is without shuffling.
    rng = np.random.default_rng(16)
    X, y = _make_data(Estimator, rng)
    k = 3
    params = dict(hidden_layer_sizes=hidden, batch_size=batch_size, shuffle=False,
                  random_state=0, n_jobs=1)
    incremental = _partial_fit(Estimator(**params), X, y, k)
    full = Estimator(max_iter=k, tol=None, **params).fit(X, y)
    _assert_same_model(incremental, full, X)
    assert incremental.n_iter_ == full.n_iter_ == k
    assert incremental.t_ == full.t_
    assert incremental.loss_curve_ == full.loss_curve_


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_shuffled_partial_fit_equals_one_epoch_fit(Estimator):
    rng = np.random.default_rng(17)
    X, y = _make_data(Estimator, rng)
    params = dict(hidden_layer_sizes=(4,), shuffle_block_size=8, random_state=5, n_jobs=1)
    incremental = _partial_fit(Estimator(**params), X, y, 1)
    full = Estimator(max_iter=1, tol=None, **params).fit(X, y)
    _assert_same_model(incremental, full, X)


def test_classifier_partial_fit_needs_classes_and_rejects_unseen_labels():
    rng = np.random.default_rng(18)
    X, y = _make_data(SparseMLPClassifier, rng, n_classes=3)
    model = SparseMLPClassifier(random_state=0, n_jobs=1)
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X, y)
    # A first chunk may lack a class that ``classes`` names.
    first = y != 2
    model.partial_fit(X[first], y[first], classes=[0, 1, 2])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.predict_proba(X).shape == (X.shape[0], 3)
    model.partial_fit(X, y)  # classes may be omitted afterwards
    bad = y.copy()
    bad[0] = 7
    with pytest.raises(ValueError, match=r"labels \[7\]"):
        model.partial_fit(X, bad)
    with pytest.raises(ValueError, match="not in classes"):
        SparseMLPClassifier().partial_fit(X, y, classes=[0, 1])


def test_regressor_partial_fit_rejects_a_different_number_of_outputs():
    rng = np.random.default_rng(19)
    X, y = _make_data(SparseMLPRegressor, rng)
    model = SparseMLPRegressor(n_jobs=1).partial_fit(X, y)
    with pytest.raises(ValueError, match="outputs"):
        model.partial_fit(X, np.column_stack([y, y]))


# --------------------------------------------------------------------------
# 8. Early stopping
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_records_validation_scores_and_stops(Estimator):
    rng = np.random.default_rng(20)
    X, y = _make_data(Estimator, rng, n_samples=1000)
    model = Estimator(hidden_layer_sizes=(4,), early_stopping=True, max_iter=200, tol=1e-2,
                      n_iter_no_change=2, learning_rate_init=0.1, random_state=0,
                      n_jobs=1).fit(X, y)
    assert model.n_iter_ < 200
    assert len(model.validation_scores_) == model.n_iter_ == len(model.loss_curve_)
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None
    # Accuracy or R^2 on the held-out rows: finite and at most 1.
    assert all(np.isfinite(s) and s <= 1.0 for s in model.validation_scores_)
    # Not vacuous: the model learned something by its best epoch.
    assert model.best_validation_score_ > (0.6 if Estimator is SparseMLPClassifier else 0.2)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_without_early_stopping_validation_attributes_are_none(Estimator):
    rng = np.random.default_rng(21)
    X, y = _make_data(Estimator, rng)
    model = Estimator(max_iter=3, tol=None, n_jobs=1).fit(X, y)
    assert model.validation_scores_ is None
    assert model.best_validation_score_ is None
    assert model.best_loss_ == min(model.loss_curve_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_after_early_stopping_fit(Estimator):
    rng = np.random.default_rng(22)
    X, y = _make_data(Estimator, rng, n_samples=500)
    model = Estimator(early_stopping=True, max_iter=3, tol=None, random_state=0,
                      n_jobs=1).fit(X, y)
    _partial_fit(model, X, y, 1)
    assert model.n_iter_ == 4


def test_warm_start_without_early_stopping_after_early_stopping_fit():
    rng = np.random.default_rng(23)
    X, y = _make_data(SparseMLPRegressor, rng, n_samples=500)
    model = SparseMLPRegressor(early_stopping=True, max_iter=3, tol=None, random_state=0,
                               n_jobs=1).fit(X, y)
    model.set_params(early_stopping=False, warm_start=True, tol=1e-4).fit(X, y)
    assert model.best_loss_ is not None


# --------------------------------------------------------------------------
# 9. predict from many Python threads
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_from_eight_threads_at_once(Estimator, no_thread_caps):
    rng = np.random.default_rng(24)
    n_predict = 5 * hogwild.MIN_ROWS_PER_PREDICT_THREAD  # 20,480 rows
    X, y = _make_data(Estimator, rng, n_samples=n_predict, n_features=1000, nnz_per_row=10)
    model = Estimator(hidden_layer_sizes=(8,), max_iter=1, random_state=0, n_jobs=4)
    model.fit(X[:2000], y[:2000])
    expected = _outputs(model, X)
    expected_rows = [_outputs(model, X[i:i + 1]) for i in range(16)]

    spy = _ThreadCountSpy(no_thread_caps)
    barrier = threading.Barrier(8)

    def work(t):
        barrier.wait()
        whole = _outputs(model, X)
        rows = [_outputs(model, X[i:i + 1]) for i in range(16)]
        labels = model.predict(X)
        return whole, rows, labels

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert max(spy.calls) == 4  # each large predict itself ran on 4 threads
    expected_labels = model.predict(X)
    for whole, rows, labels in results:
        np.testing.assert_array_equal(whole, expected)
        np.testing.assert_array_equal(labels, expected_labels)
        for row, expected_row in zip(rows, expected_rows):
            np.testing.assert_array_equal(row, expected_row)


# --------------------------------------------------------------------------
# 10. verbose
# --------------------------------------------------------------------------

_EPOCH_LINE = re.compile(r"^Epoch (\d+): loss (\S+), ([\d,]+) rows/s, .* ns/non-zero, .* s")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_verbose_prints_one_line_per_epoch(Estimator, capsys):
    rng = np.random.default_rng(25)
    X, y = _make_data(Estimator, rng)
    model = Estimator(max_iter=3, tol=None, verbose=1, n_jobs=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for epoch, (line, loss) in enumerate(zip(lines, model.loss_curve_), start=1):
        match = _EPOCH_LINE.match(line)
        assert match, line
        assert int(match.group(1)) == epoch
        assert float(match.group(2)) == pytest.approx(loss, rel=1e-5)
        assert int(match.group(3).replace(",", "")) > 0


def test_verbose_reports_validation_score_and_stopping(capsys):
    rng = np.random.default_rng(26)
    X, y = _make_data(SparseMLPClassifier, rng, n_samples=1000)
    model = SparseMLPClassifier(early_stopping=True, max_iter=100, tol=0.5, n_iter_no_change=1,
                                verbose=1, n_jobs=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert model.n_iter_ < 100
    assert len(lines) == model.n_iter_ + 1
    assert all("validation score" in line for line in lines[:-1])
    assert "stopping" in lines[-1]


def test_not_verbose_prints_nothing(capsys):
    rng = np.random.default_rng(27)
    X, y = _make_data(SparseMLPRegressor, rng)
    SparseMLPRegressor(max_iter=2, tol=None, n_jobs=1).fit(X, y)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------
# Containers give the same model
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("container", CONTAINERS)
def test_every_input_container_gives_the_same_model(Estimator, container):
    rng = np.random.default_rng(28)
    X, y = _make_data(Estimator, rng)
    params = dict(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0, n_jobs=1)
    reference = Estimator(**params).fit(X, y)
    model = Estimator(**params).fit(container(X), y)
    _assert_same_model(model, reference, X)
    np.testing.assert_array_equal(_outputs(model, container(X)), _outputs(reference, X))


def test_classifier_keeps_label_values_and_probabilities_sum_to_one():
    rng = np.random.default_rng(29)
    X, y = _make_data(SparseMLPClassifier, rng, n_classes=3)
    labels = np.array(["cat", "dog", "eel"])[y]
    model = SparseMLPClassifier(max_iter=5, tol=None, random_state=0, n_jobs=1).fit(X, labels)
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "eel"])
    assert set(model.predict(X)) <= set(model.classes_)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[np.argmax(proba, axis=1)])
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba))


def test_hinge_classifier_has_no_predict_proba():
    rng = np.random.default_rng(58)
    X, y = _make_data(SparseMLPClassifier, rng)
    model = SparseMLPClassifier(loss="hinge", max_iter=3, tol=None, random_state=0,
                                n_jobs=1).fit(X, y)
    assert not hasattr(model, "predict_proba")
    with pytest.raises(AttributeError, match="predict_proba"):
        model.predict_proba(X)
    np.testing.assert_array_equal(model.predict(X), (model.decision_function(X) > 0).astype(int))


def test_poisson_regressor_predicts_positive_means():
    rng = np.random.default_rng(59)
    X, _ = _make_data(SparseMLPRegressor, rng, n_samples=1000)
    log_rate = 0.5 * (X @ rng.normal(size=X.shape[1]))
    y = rng.poisson(np.exp(log_rate + 1.0))
    model = SparseMLPRegressor(loss="poisson", max_iter=5, tol=None, random_state=0,
                               n_jobs=1).fit(X, y)
    predictions = model.predict(X)
    assert np.all(predictions > 0)
    # exp of the network's output: the mean of the first epoch's start (the
    # null model) is the mean of y; training keeps the mean close to it.
    assert predictions.mean() == pytest.approx(y.mean(), rel=0.2)


# --------------------------------------------------------------------------
# 11. Bad input
# --------------------------------------------------------------------------


def _tiny(Estimator, rng, n_samples=60):
    return _make_data(Estimator, rng, n_samples=n_samples, n_features=20, nnz_per_row=4)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X_is_rejected(Estimator, container, value, message):
    rng = np.random.default_rng(30)
    X, y = _tiny(Estimator, rng)
    X = X.copy()
    X.data[3] = value
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        Estimator().fit(container(X), y)
    # ... and at predict.
    X_good, _ = _tiny(Estimator, rng)
    model = Estimator(max_iter=1, n_jobs=1).fit(X_good, y)
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        model.predict(container(X))


def test_float64_X_too_large_for_float32_is_rejected():
    rng = np.random.default_rng(31)
    X, y = _tiny(SparseMLPRegressor, rng)
    X = X.astype(np.float64)
    X.data[0] = 1e39
    with pytest.raises(ValueError, match="too large"):
        SparseMLPRegressor().fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_y_is_rejected(Estimator, value, message):
    rng = np.random.default_rng(32)
    X, y = _tiny(Estimator, rng)
    y = y.astype(np.float64)
    y[5] = value
    with pytest.raises(ValueError, match=message):
        Estimator().fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("container", CONTAINERS)
def test_predict_with_a_different_number_of_features_is_rejected(Estimator, container):
    rng = np.random.default_rng(33)
    X, y = _tiny(Estimator, rng)
    model = Estimator(max_iter=1, n_jobs=1).fit(container(X), y)
    with pytest.raises(ValueError, match="X has 21 features, but .* expecting 20 features"):
        model.predict(container(sp.hstack([X, X[:, :1]], format="csr")))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("container", CONTAINERS)
def test_empty_X_is_rejected(Estimator, container):
    rng = np.random.default_rng(34)
    X, y = _tiny(Estimator, rng)
    with pytest.raises(ValueError, match="0 sample"):
        Estimator().fit(container(X[:0]), y[:0])


def _shuffle_within_rows(X, rng):
    """A copy of CSR X with the (index, value) pairs of each row in random order."""
    X = X.copy()
    for row in range(X.shape[0]):
        start, stop = X.indptr[row], X.indptr[row + 1]
        order = start + rng.permutation(stop - start)
        X.indices[start:stop] = X.indices[order]
        X.data[start:stop] = X.data[order]
    X.has_sorted_indices = False
    return X


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(), (4,)], ids=["linear", "mlp"])
def test_unsorted_indices_train_the_same_model_as_sorted(Estimator, hidden):
    # A row's inputs are summed in storage order, so float32 rounding may differ
    # in the last bits, and two epochs of an MLP amplify it a little: equal
    # within rtol 1e-5 / atol 1e-4 (weights are ~0.1).
    rng = np.random.default_rng(35)
    X, y = _make_data(Estimator, rng)
    X_unsorted = _shuffle_within_rows(X, rng)
    assert not X_unsorted.has_sorted_indices
    assert not np.array_equal(X_unsorted.indices, X.indices)
    np.testing.assert_array_equal(X_unsorted.toarray(), X.toarray())
    params = dict(hidden_layer_sizes=hidden, max_iter=2, tol=None, random_state=0, n_jobs=1)
    unsorted_model = Estimator(**params).fit(X_unsorted, y)
    sorted_model = Estimator(**params).fit(X, y)
    for a, b in zip(unsorted_model.coefs_, sorted_model.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(_outputs(unsorted_model, X_unsorted), _outputs(sorted_model, X),
                               rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("batch_size", [1, 8])
def test_duplicate_indices_count_as_their_sum(Estimator, batch_size):
    rng = np.random.default_rng(36)
    X, y = _make_data(Estimator, rng)
    # Split every second non-zero of each row into two entries of one column.
    indices, data, indptr = [], [], [0]
    for row in range(X.shape[0]):
        start, stop = X.indptr[row], X.indptr[row + 1]
        for p in range(start, stop):
            indices.append(X.indices[p])
            if (p - start) % 2:
                part = np.float32(rng.uniform(-1.0, 1.0))
                data += [part, X.data[p] - part]
                indices.append(X.indices[p])
            else:
                data.append(X.data[p])
        indptr.append(len(indices))
    X_dup = sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                           np.array(indptr)), shape=X.shape)
    assert X_dup.nnz > X.nnz
    X_summed = X_dup.copy()
    X_summed.sum_duplicates()
    assert X_summed.nnz == X.nnz
    params = dict(hidden_layer_sizes=(4,), batch_size=batch_size, max_iter=2, tol=None,
                  random_state=0, n_jobs=1)
    dup_model = Estimator(**params).fit(X_dup, y)
    summed_model = Estimator(**params).fit(X_summed, y)
    _assert_same_model(dup_model, summed_model, X_summed)
    np.testing.assert_array_equal(_outputs(dup_model, X_dup), _outputs(summed_model, X_summed))
    # The caller's matrix is left as it was.
    assert X_dup.nnz == len(data)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("csr_class", [sp.csr_matrix, sp.csr_array])
def test_int64_indices_give_the_same_model_as_int32(Estimator, csr_class):
    rng = np.random.default_rng(37)
    X, y = _make_data(Estimator, rng)
    X64 = csr_class((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape)
    if X64.indices.dtype != np.int64:  # scipy may narrow on construction; force it
        X64.indices = X64.indices.astype(np.int64)
        X64.indptr = X64.indptr.astype(np.int64)
    assert X64.indices.dtype == np.int64
    params = dict(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0, n_jobs=1)
    _assert_same_model(Estimator(**params).fit(X64, y), Estimator(**params).fit(X, y), X)


def test_labels_of_one_class_are_rejected():
    rng = np.random.default_rng(38)
    X, _ = _tiny(SparseMLPClassifier, rng)
    with pytest.raises(ValueError, match="class"):
        SparseMLPClassifier().fit(X, np.full(X.shape[0], 3))
    with pytest.raises(ValueError, match="class"):
        SparseMLPClassifier().partial_fit(X, np.zeros(X.shape[0]), classes=[0])


def test_multilabel_targets_are_rejected():
    rng = np.random.default_rng(39)
    X, _ = _tiny(SparseMLPClassifier, rng)
    Y = rng.integers(0, 2, size=(X.shape[0], 3))
    with pytest.raises(ValueError, match="multilabel"):
        SparseMLPClassifier().fit(X, Y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mismatched_numbers_of_samples_are_rejected(Estimator):
    rng = np.random.default_rng(40)
    X, y = _tiny(Estimator, rng)
    with pytest.raises(ValueError, match="samples"):
        Estimator().fit(X, y[:-1])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_raising_loss_callback_propagates_and_keeps_fitted_model(Estimator):
    rng = np.random.default_rng(41)
    X, y = _tiny(Estimator, rng)
    model = Estimator(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0,
                      n_jobs=1).fit(X, y)
    before = _outputs(model, X)
    coefs = [w.copy() for w in model.coefs_]
    curve, t = list(model.loss_curve_), model.t_
    model.set_params(loss_callback=raising_loss, warm_start=True)
    with pytest.raises(ValueError, match="raising_loss was called"):
        model.fit(X, y)
    np.testing.assert_array_equal(_outputs(model, X), before)
    for a, b in zip(model.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    assert model.loss_curve_ == curve and model.t_ == t


def test_raising_loss_callback_propagates_from_two_threads():
    rng = np.random.default_rng(42)
    X, y = _tiny(SparseMLPRegressor, rng, n_samples=600)
    model = SparseMLPRegressor(loss_callback=raising_loss, shuffle_block_size=8, n_jobs=2)
    with pytest.raises(ValueError, match="raising_loss was called"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_failed_fresh_refit_leaves_the_previous_model_usable():
    rng = np.random.default_rng(43)
    X, y = _tiny(SparseMLPClassifier, rng)
    model = SparseMLPClassifier(max_iter=2, tol=None, random_state=0, n_jobs=1).fit(X, y)
    before = model.predict_proba(X)
    X_other, y_other = make_sparse_classification(n_samples=60, n_features=10, nnz_per_row=3,
                                                  n_classes=3, random_state=_seed(rng))
    model.set_params(loss_callback=raising_loss)
    with pytest.raises(ValueError, match="raising_loss was called"):
        model.fit(X_other, y_other)
    np.testing.assert_array_equal(model.classes_, [0, 1])
    np.testing.assert_array_equal(model.predict_proba(X), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("callback, message", [
    (nan_loss, "'nan_loss' returned a non-finite loss"),
    (inf_gradient_loss, "'inf_gradient_loss' wrote a non-finite gradient"),
])
def test_non_finite_loss_callback_is_reported(Estimator, callback, message):
    rng = np.random.default_rng(44)
    X, y = _tiny(Estimator, rng)
    model = Estimator(loss_callback=callback, n_jobs=1)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    # A fitted model keeps its predictions when warm-started with such a callback.
    model.set_params(loss_callback=None, max_iter=2, tol=None).fit(X, y)
    before = _outputs(model, X)
    model.set_params(loss_callback=callback, warm_start=True)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    np.testing.assert_array_equal(_outputs(model, X), before)


def test_uncompilable_loss_callback_is_a_type_error_naming_it():
    rng = np.random.default_rng(45)
    X, y = _tiny(SparseMLPRegressor, rng)
    model = SparseMLPRegressor(loss_callback=uncompilable_loss)
    with pytest.raises(TypeError, match="'uncompilable_loss' could not be compiled by Numba"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


@pytest.mark.parametrize("callback, error, message", [
    (3, TypeError, "loss_callback"),
    ("no_such_loss", ValueError, "'no_such_loss' names no built-in loss"),
])
def test_bad_loss_callback_values_are_rejected(callback, error, message):
    rng = np.random.default_rng(46)
    X, y = _tiny(SparseMLPRegressor, rng)
    with pytest.raises(error, match=message):
        SparseMLPRegressor(loss_callback=callback).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("name, value", [
    ("alpha", -1.0),
    ("batch_size", 0),
    ("optimizer", "lbfgs"),
    ("hidden_layer_sizes", "abc"),
    ("learning_rate_init", 0.0),
    ("max_iter", 0),
    ("validation_fraction", 1.0),
])
def test_invalid_parameters_raise_invalid_parameter_error(Estimator, name, value):
    rng = np.random.default_rng(47)
    X, y = _tiny(Estimator, rng)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        Estimator(**{name: value}).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("sizes", [(0,), (4, 0), (-3,)])
def test_non_positive_hidden_layer_sizes_are_rejected(Estimator, sizes):
    # Checked in fit after parameter validation (as sklearn's MLP does): a
    # plain ValueError naming the parameter.
    rng = np.random.default_rng(48)
    X, y = _tiny(Estimator, rng)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        Estimator(hidden_layer_sizes=sizes).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_negative_sample_weight_is_rejected(Estimator):
    rng = np.random.default_rng(49)
    X, y = _tiny(Estimator, rng)
    sample_weight = np.ones(X.shape[0])
    sample_weight[2] = -1.0
    with pytest.raises(ValueError, match="sample_weight"):
        Estimator().fit(X, y, sample_weight=sample_weight)


def test_poisson_rejects_negative_targets():
    rng = np.random.default_rng(50)
    X, y = _tiny(SparseMLPRegressor, rng)
    y = np.abs(y)
    y[4] = -0.5
    with pytest.raises(ValueError, match="non-negative"):
        SparseMLPRegressor(loss="poisson").fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("change, message", [
    (dict(hidden_layer_sizes=(5,)), "layer sizes"),
    (dict(hidden_layer_sizes=()), "layer sizes"),
    (dict(optimizer="adam"), "optimizer"),
])
def test_warm_start_rejects_a_changed_architecture_and_keeps_the_model(Estimator, change, message):
    rng = np.random.default_rng(51)
    X, y = _tiny(Estimator, rng)
    model = Estimator(hidden_layer_sizes=(4,), optimizer="adagrad", max_iter=2, tol=None, warm_start=True,
                      random_state=0, n_jobs=1).fit(X, y)
    before = _outputs(model, X)
    coefs = [w.copy() for w in model.coefs_]
    model.set_params(**change)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    np.testing.assert_array_equal(_outputs(model, X), before)
    for a, b in zip(model.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    assert model.n_iter_ == 2


def test_predict_before_fit_raises_not_fitted():
    rng = np.random.default_rng(52)
    X, _ = _tiny(SparseMLPRegressor, rng)
    for Estimator in ESTIMATORS:
        with pytest.raises(NotFittedError):
            Estimator().predict(X)


# --------------------------------------------------------------------------
# 12. Read-only memory-mapped CSR
# --------------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("csr_class", [sp.csr_matrix, sp.csr_array])
def test_read_only_memmapped_csr_fits_and_is_not_written(Estimator, csr_class, tmp_path):
    rng = np.random.default_rng(53)
    X, y = _make_data(Estimator, rng)
    parts = {"data": X.data, "indices": X.indices, "indptr": X.indptr}
    for name, array in parts.items():
        np.save(tmp_path / f"{name}.npy", array)
    mapped = {name: np.load(tmp_path / f"{name}.npy", mmap_mode="r") for name in parts}
    X_mapped = csr_class((mapped["data"], mapped["indices"], mapped["indptr"]), shape=X.shape)
    for name in parts:  # scipy keeps read-only views of the maps
        assert np.shares_memory(getattr(X_mapped, name), mapped[name])
        assert not getattr(X_mapped, name).flags.writeable

    params = dict(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0, n_jobs=1)
    model = Estimator(**params).fit(X_mapped, y)
    _assert_same_model(model, Estimator(**params).fit(X, y), X)
    np.testing.assert_array_equal(_outputs(model, X_mapped), _outputs(model, X))
    for name, array in parts.items():
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), array)


# --------------------------------------------------------------------------
# 13. Thread counts
# --------------------------------------------------------------------------


def test_effective_n_threads_defaults_and_negative_values(no_thread_caps):
    cpus = joblib.cpu_count()
    assert _base.effective_n_threads(None) == 1
    assert _base.effective_n_threads(3) == 3
    assert _base.effective_n_threads(-1) == cpus
    assert _base.effective_n_threads(-2) == max(1, cpus - 1)
    assert _base.effective_n_threads(-(cpus + 5)) == 1


def test_effective_n_threads_honours_joblib_parallel_config(no_thread_caps):
    with joblib.parallel_config(n_jobs=2):
        assert _base.effective_n_threads(None) == min(2, joblib.cpu_count())
        assert _base.effective_n_threads(3) == 3  # an explicit n_jobs wins
    assert _base.effective_n_threads(None) == 1


class _ClusterSizedBackend(joblib.parallel.ThreadingBackend):
    """A backend that, like joblib's Dask backend, counts a whole cluster's workers."""

    def effective_n_jobs(self, n_jobs):
        return 64 * joblib.cpu_count()


def test_effective_n_threads_never_takes_a_cluster_size_for_local_threads(no_thread_caps):
    joblib.register_parallel_backend("svf_cluster_sized", _ClusterSizedBackend)
    with joblib.parallel_config(backend="svf_cluster_sized"):
        assert _base.effective_n_threads(None) == joblib.cpu_count()
        assert _base.effective_n_threads(-1) == joblib.cpu_count()


@pytest.mark.parametrize("variable", ["OMP_NUM_THREADS", "NUMBA_NUM_THREADS"])
def test_effective_n_threads_is_capped_by_environment(no_thread_caps, variable):
    no_thread_caps.setenv(variable, "3")
    assert _base.effective_n_threads(8) == 3
    assert _base.effective_n_threads(2) == 2
    assert _base.effective_n_threads(-1) == min(3, joblib.cpu_count())
    with joblib.parallel_config(n_jobs=5):
        assert _base.effective_n_threads(None) == min(3, joblib.cpu_count())
    for ignored in ["", "0", "abc", "-2"]:
        no_thread_caps.setenv(variable, ignored)
        assert _base.effective_n_threads(8) == 8


def test_both_environment_caps_apply(no_thread_caps):
    no_thread_caps.setenv("OMP_NUM_THREADS", "4")
    no_thread_caps.setenv("NUMBA_NUM_THREADS", "2")
    assert _base.effective_n_threads(8) == 2


def test_estimator_with_n_jobs_none_trains_on_parallel_config_threads(no_thread_caps):
    rng = np.random.default_rng(54)
    X, y = _make_data(SparseMLPRegressor, rng, n_samples=600)
    spy = _ThreadCountSpy(no_thread_caps)
    SparseMLPRegressor(max_iter=1, shuffle_block_size=16).fit(X, y)
    assert spy.calls == [1]
    spy.calls.clear()
    with joblib.parallel_config(n_jobs=2):
        SparseMLPRegressor(max_iter=1, shuffle_block_size=16).fit(X, y)
    assert spy.calls == [2]
    spy.calls.clear()
    no_thread_caps.setenv("OMP_NUM_THREADS", "1")
    SparseMLPRegressor(max_iter=1, shuffle_block_size=16, n_jobs=2).fit(X, y)
    assert spy.calls == [1]


# --------------------------------------------------------------------------
# 14. No copy of float32 / int32 CSR
# --------------------------------------------------------------------------


def test_as_engine_csr_shares_memory_with_float32_int32_csr():
    rng = np.random.default_rng(55)
    X, _ = _make_data(SparseMLPRegressor, rng)
    assert X.data.dtype == np.float32 and X.indices.dtype == np.int32
    indptr, indices, data = _base.as_engine_csr(X).arrays
    assert np.shares_memory(data, X.data)
    assert np.shares_memory(indices, X.indices)
    assert indptr.dtype == np.int64 and data.dtype == np.float32 and indices.dtype == np.int32
    X64 = X.copy()
    X64.indptr = X64.indptr.astype(np.int64)
    assert np.shares_memory(_base.as_engine_csr(X64)[0], X64.indptr)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("csr_class", [sp.csr_matrix, sp.csr_array])
def test_fit_uses_read_only_float32_csr_without_copy(Estimator, csr_class, monkeypatch):
    rng = np.random.default_rng(56)
    X, y = _make_data(Estimator, rng)
    X = csr_class(X)
    X.data.flags.writeable = False
    X.indices.flags.writeable = False
    seen = []

    def spy(matrix):
        csr = original(matrix)
        seen.append(csr)
        return csr

    original = _base.as_engine_csr
    monkeypatch.setattr(_base, "as_engine_csr", spy)
    model = Estimator(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0,
                      n_jobs=1).fit(X, y)
    model.predict(X)
    assert len(seen) == 2  # one in fit, one in predict
    for _, indices, data, _ in seen:
        assert np.shares_memory(data, X.data)
        assert np.shares_memory(indices, X.indices)
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_hidden_layer_sizes_accepts_a_bare_int():
    X = sp.random(100, 20, density=0.3, format="csr", dtype=np.float32, random_state=0)
    y = np.random.default_rng(0).normal(size=100)
    model = SparseMLPRegressor(hidden_layer_sizes=5, max_iter=1, random_state=0).fit(X, y)
    assert [c.shape for c in model.coefs_] == [(20, 5), (5, 1)]


def test_targets_that_overflow_float32_are_rejected_up_front():
    X = sp.random(50, 10, density=0.3, format="csr", dtype=np.float32, random_state=0)
    y = np.full(50, 1e39)
    with pytest.raises(ValueError, match="too large for float32"):
        SparseMLPRegressor(max_iter=1).fit(X, y)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
def test_float32_csr_predict_path_checks_like_sklearn(container):
    """Float32 CSR skips scikit-learn's (slow) validation at predict, not its checks."""
    X = sp.random(200, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    y = np.random.default_rng(0).integers(0, 2, 200)
    model = SparseMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    fast = container(X)
    np.testing.assert_array_equal(model.predict_proba(fast),
                                  model.predict_proba(X.astype(np.float64)))
    bad = fast.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(bad)
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model.predict(bad)
    with pytest.raises(ValueError, match="X has 29 features, but SparseMLPClassifier is expecting 30"):
        model.predict(container(X[:, :29]))
    with pytest.raises(ValueError, match="0 sample"):
        model.predict(container(X[:0]))


# ---- silent input cases that are now errors or warnings (issue 22, item 4) ----

def _tiny_regression(n_samples=300):
    X = sp.random(n_samples, 20, density=0.3, format="csr", random_state=0, dtype=np.float32)
    return X, np.arange(n_samples) % 3


@pytest.mark.parametrize("sizes", [(2.5,), (2.0,), (True,), (4, 1.5), ("3",), [None]])
def test_non_integer_hidden_layer_sizes_are_refused(sizes):
    # (2.5,) used to train a 2-unit layer; 2.0 is refused too, as MLPClassifier refuses it.
    X, y = _tiny_regression()
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a positive integer"):
        SparseMLPRegressor(hidden_layer_sizes=sizes, max_iter=1).fit(X, y)


@pytest.mark.parametrize("sizes, widths", [((3,), [3, 1]), (np.array([3, 2]), [3, 2, 1]),
                                           ((np.int64(2),), [2, 1]), (4, [4, 1]), ((), [1])])
def test_integer_hidden_layer_sizes_are_accepted(sizes, widths):
    X, y = _tiny_regression()
    model = SparseMLPRegressor(hidden_layer_sizes=sizes, max_iter=1, tol=None).fit(X, y)
    assert list(model._network.layout.layer_sizes) == widths


def test_y_without_columns_names_y():
    X, _ = _tiny_regression()
    with pytest.raises(ValueError, match=r"y has 0 columns \(shape \(300, 0\)\)"):
        SparseMLPRegressor(max_iter=1).fit(X, np.zeros((300, 0)))


def test_poisson_predictions_at_the_cap_warn():
    X, _ = _tiny_regression()
    counts = np.full(X.shape[0], 1e15)
    model = SparseMLPRegressor("poisson", max_iter=20, tol=None, learning_rate_init=0.5,
                               random_state=0)
    with pytest.warns(UserWarning, match=r"y has values above exp\(30\) = 1.069e\+13"):
        model.fit(X, counts)
    with pytest.warns(UserWarning, match=r"Poisson predictions were capped at exp\(30\)"):
        predictions = model.predict(X[:5])
    np.testing.assert_allclose(predictions, np.exp(30.0))


def test_poisson_predictions_below_the_cap_do_not_warn():
    X, _ = _tiny_regression()
    counts = np.arange(X.shape[0]) % 5
    model = SparseMLPRegressor("poisson", max_iter=2, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, counts).predict(X)
