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
from skvectorflow import DLRMClassifier, SparseMLPRanker, SurvivalExponentialRegressor
from skvectorflow.fields import FieldHasher
from skvectorflow.survival import make_survival_target

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


STRUCTURED_TARGET_REASON = (
    "The check fits with a plain numeric y, which a survival estimator rejects by design "
    "(y must say which rows are censored); the same check runs unmarked on "
    "SurvivalOnPlainTarget, which builds the structured target from the check's y."
)

QUERY_IDS_REASON = (
    "The check calls fit(X, y) without query ids, which a ranker rejects by design; the same "
    "check runs unmarked on RankerWithQueriesOfTen, which groups the check's rows into queries."
)

# The checks that fit with scikit-learn's plain y (read off a run of
# check_estimator on SurvivalExponentialRegressor).
CHECKS_THAT_FIT_WITH_PLAIN_Y = [
    "check_all_zero_sample_weights_error",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
]


def plain_to_survival_target(y):
    """A structured target built from a check's plain y: every event observed, at time 1 + |y|."""
    if y is None:
        return None
    time = 1.0 + np.abs(np.asarray(y, dtype=np.float64))
    return make_survival_target(np.ones(time.shape[0], dtype=bool), time)


class SurvivalOnPlainTarget(SurvivalExponentialRegressor):
    """SurvivalExponentialRegressor taking scikit-learn's plain check targets (test only)."""

    def fit(self, X, y, sample_weight=None):
        return super().fit(X, plain_to_survival_target(y), sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        return super().partial_fit(X, plain_to_survival_target(y), sample_weight)

    def score(self, X, y, sample_weight=None):
        return super().score(X, plain_to_survival_target(y), sample_weight)


class RankerWithQueriesOfTen(SparseMLPRanker):
    """SparseMLPRanker taking scikit-learn's check data (test only).

    The checks call ``fit(X, y)``, but a ranker needs query ids and
    non-negative grades: consecutive rows form queries of ten, and the
    grade is ``|y|`` capped at 64.
    """

    def fit(self, X, y, qid=None, sample_weight=None):
        return super().fit(X, *plain_to_ranking_target(X, y, qid), sample_weight=sample_weight)

    def partial_fit(self, X, y, qid=None, sample_weight=None):
        return super().partial_fit(X, *plain_to_ranking_target(X, y, qid),
                                   sample_weight=sample_weight)

    def score(self, X, y, qid=None, sample_weight=None):
        return super().score(X, *plain_to_ranking_target(X, y, qid), sample_weight=sample_weight)


def plain_to_ranking_target(X, y, qid):
    if y is None:
        return None, qid
    grades = np.minimum(np.abs(np.asarray(y, dtype=np.float64)), 64.0)
    if qid is None:
        qid = np.arange(grades.shape[0]) // 10
    return grades, qid


def expected_failed_checks(estimator):
    failing = {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON,
    }
    if type(estimator) is SurvivalExponentialRegressor:
        failing = {**dict.fromkeys(CHECKS_THAT_FIT_WITH_PLAIN_Y, STRUCTURED_TARGET_REASON), **failing}
    if type(estimator) is SparseMLPRanker:
        # These three pass without qid: what they assert is settled before
        # fit asks for it (all-zero weights are rejected first).
        passing = {"check_all_zero_sample_weights_error", "check_estimator_sparse_array",
                   "check_estimator_sparse_matrix"}
        checks = [name for name in CHECKS_THAT_FIT_WITH_PLAIN_Y if name not in passing]
        failing = {**dict.fromkeys(checks, QUERY_IDS_REASON), **failing}
    return failing


@parametrize_with_checks(
    [cls(random_state=0) for cls in all_estimators()]
    + [SurvivalOnPlainTarget(random_state=0), RankerWithQueriesOfTen(random_state=0), FieldHasher(),
       FieldHasher(min_frequency=2)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def small_problem(estimator_class, seed=0):
    """X, y and the extra fit arguments of a small problem for ``estimator_class``."""
    rng = np.random.default_rng(seed)
    X = sp.random(300, 40, density=0.15, format="csr", dtype=np.float32, random_state=seed)
    score = X @ rng.normal(size=40)
    fit_params = {}
    if issubclass(estimator_class, ClassifierMixin):
        y = np.where(score > np.median(score), "yes", "no")
    elif issubclass(estimator_class, SurvivalExponentialRegressor):
        y = make_survival_target(rng.random(300) < 0.7, np.exp(-score))
    elif issubclass(estimator_class, SparseMLPRanker):
        y = np.digitize(score, np.quantile(score, [0.5, 0.8])).astype(float)
        fit_params["qid"] = np.arange(300) // 15
    else:
        y = score
    return X, y, fit_params


def small_network(estimator_class):
    """Constructor arguments for a small network with a hidden layer (DLRM names its MLPs)."""
    if issubclass(estimator_class, DLRMClassifier):
        return {"embedding_dim": 4, "bottom_mlp": (8,), "top_mlp": (8,)}
    return {"hidden_layer_sizes": (8,)}


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_pickle_round_trip_predicts_identically(estimator_class):
    X, y, fit_params = small_problem(estimator_class)
    model = estimator_class(**small_network(estimator_class), max_iter=3, random_state=0).fit(X, y, **fit_params)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_predict_from_eight_threads_matches_one(estimator_class):
    X, y, fit_params = small_problem(estimator_class, seed=1)
    model = estimator_class(**small_network(estimator_class), max_iter=2, random_state=0).fit(X, y, **fit_params)
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
    X, y, fit_params = small_problem(estimator_class)
    with pytest.raises(ValueError, match="'learning_rate_init' parameter"):
        estimator_class(learning_rate_init=-1.0).fit(X, y, **fit_params)


@pytest.mark.parametrize("estimator_class", all_estimators())
def test_every_public_method_has_a_docstring(estimator_class):
    assert estimator_class.__doc__ and "Parameters" in estimator_class.__doc__
    for name in ("fit", "partial_fit", "predict"):
        method = getattr(estimator_class, name)
        assert method.__doc__ and "Parameters" in method.__doc__, name
