"""scikit-learn conformance and invariants shared by every public estimator."""

import inspect
import pickle
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.utils.estimator_checks import parametrize_with_checks

import skvectorflow

SAMPLE_WEIGHT_REASON = (
    "Stochastic per-row updates: a row of weight 2 takes one step of twice the size, "
    "while a repeated row takes two steps at different points of the epoch, so the two "
    "fits agree only in expectation (scikit-learn's SGD estimators fail this check for "
    "the same reason)."
)


def all_estimators():
    """Every public estimator class of the package (found, not listed by hand)."""
    return [
        obj
        for name, obj in inspect.getmembers(skvectorflow, inspect.isclass)
        if name in skvectorflow.__all__
    ]


def expected_failed_checks(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON,
    }


@parametrize_with_checks(
    [cls(random_state=0) for cls in all_estimators()],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def small_problem(estimator_class, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(300, 40, density=0.15, format="csr", dtype=np.float32, random_state=seed)
    score = X @ rng.normal(size=40)
    if issubclass(estimator_class, ClassifierMixin):
        y = np.where(score > np.median(score), "yes", "no")
    else:
        y = score
    return X, y


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_pickle_round_trip_predicts_identically(estimator_class):
    X, y = small_problem(estimator_class)
    model = estimator_class(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_predict_from_eight_threads_matches_one(estimator_class):
    X, y = small_problem(estimator_class, seed=1)
    model = estimator_class(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    expected = model.predict(X)
    results = [None] * 8

    def worker(i):
        results[i] = model.predict(X)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_bad_parameter_message_names_the_parameter(estimator_class):
    X, y = small_problem(estimator_class)
    with pytest.raises(ValueError, match="'learning_rate_init' parameter"):
        estimator_class(learning_rate_init=-1.0).fit(X, y)


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_every_public_method_has_a_docstring(estimator_class):
    assert estimator_class.__doc__ and "Parameters" in estimator_class.__doc__
    for name in ("fit", "partial_fit", "predict"):
        method = getattr(estimator_class, name)
        assert method.__doc__ and "Parameters" in method.__doc__, name
