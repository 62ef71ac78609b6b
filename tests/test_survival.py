"""SurvivalExponentialRegressor, its structured target and its metrics."""

import math
import pickle
import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler

from skvectorflow import SparseMLPRegressor, SurvivalExponentialRegressor
from skvectorflow.datasets import make_sparse_survival
from skvectorflow.losses import BUILTIN_CALLBACKS
from skvectorflow.survival import (
    concordance_index,
    concordance_index_scorer,
    make_survival_target,
    mean_exponential_nll,
    neg_mean_exponential_nll_scorer,
    survival_arrays,
)

sksurv_datasets = pytest.importorskip("sksurv.datasets")
sksurv_metrics = pytest.importorskip("sksurv.metrics")
sksurv_util = pytest.importorskip("sksurv.util")


# ---- data ---------------------------------------------------------------------------

def whas500_design():
    """scikit-survival's bundled WHAS500 data: standardised covariates (categoricals one-hot)."""
    frame, y = sksurv_datasets.load_whas500()
    columns = []
    for name in frame.columns:
        values = frame[name]
        if values.dtype.name == "category":
            for level in values.cat.categories[1:]:
                columns.append((values == level).to_numpy(dtype=np.float64))
        else:
            columns.append(values.to_numpy(dtype=np.float64))
    design = np.column_stack(columns)
    design = (design - design.mean(axis=0)) / design.std(axis=0)
    return design, y


def exact_mle(design, time, event, weight):
    """Maximum-likelihood intercept and coefficients, by L-BFGS on the float64 NLL."""

    def mean_nll(beta):
        log_rate = beta[0] + design @ beta[1:]
        rate = np.exp(log_rate)
        gradient = weight * (time * rate - event)
        value = np.sum(weight * (time * rate - event * log_rate)) / weight.sum()
        return value, np.concatenate([[gradient.sum()], design.T @ gradient]) / weight.sum()

    result = scipy.optimize.minimize(mean_nll, np.zeros(design.shape[1] + 1), jac=True,
                                     method="L-BFGS-B", options=dict(gtol=1e-12, ftol=1e-15, maxiter=10_000))
    assert result.success
    return result.x, mean_nll


def fitted_beta(model):
    return np.concatenate([model.intercepts_[-1], model.coefs_[0][:, 0]]).astype(np.float64)


# Full-batch gradient descent: converges to the optimum, to float32 precision.
CONVERGED = dict(optimizer="sgd", learning_rate_init=0.5, alpha=0.0, max_iter=3000, tol=1e-10,
                 n_iter_no_change=20, shuffle=False, random_state=0, n_jobs=1)


@pytest.fixture(scope="module")
def whas500():
    return whas500_design()


@pytest.fixture(scope="module")
def synthetic():
    X, y = make_sparse_survival(n_samples=10_000, n_features=1000, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


# ---- the structured target ----------------------------------------------------------

def test_make_survival_target_equals_scikit_survivals():
    event = np.array([True, False, True])
    time = np.array([3.0, 4.5, 1.0])
    ours = make_survival_target(event, time)
    theirs = sksurv_util.Surv.from_arrays(event, time)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_make_survival_target_accepts_zero_one_events_and_names():
    y = make_survival_target([1, 0], [2, 3], event_name="died", time_name="days")
    assert y.dtype.names == ("died", "days")
    np.testing.assert_array_equal(y["died"], [True, False])


@pytest.mark.parametrize("field_order", [("event", "time"), ("time", "event")])
def test_fields_are_found_by_dtype_in_any_order(field_order):
    dtype = [(name, bool if name == "event" else np.float64) for name in field_order]
    y = np.empty(2, dtype=dtype)
    y["event"] = [True, False]
    y["time"] = [5.0, 7.0]
    event, time = survival_arrays(y)
    np.testing.assert_array_equal(event, [True, False])
    np.testing.assert_array_equal(time, [5.0, 7.0])


def test_integer_event_field_is_accepted_next_to_a_float_time():
    y = np.array([(1, 2.5), (0, 3.0)], dtype=[("status", np.int64), ("t", np.float64)])
    event, time = survival_arrays(y)
    np.testing.assert_array_equal(event, [True, False])


@pytest.mark.parametrize("bad_time", [0.0, -1.0, np.nan, np.inf])
def test_non_positive_or_non_finite_times_are_rejected(bad_time):
    with pytest.raises(ValueError, match="positive and finite"):
        make_survival_target([True, True], [1.0, bad_time])
    y = np.array([(True, 1.0), (False, bad_time)], dtype=[("event", bool), ("time", np.float64)])
    X = sp.random(2, 3, density=1.0, format="csr", random_state=0)
    with pytest.raises(ValueError, match=r"field 'time' of y\) must be positive and finite"):
        SurvivalExponentialRegressor().fit(X, y)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.array([1.0, 2.0, 3.0]), "plain array.*make_survival_target"),
        (np.array([[1, 2.0], [0, 3.0], [1, 1.0]]), "plain array.*Surv.from_arrays"),
        (np.array([(2, 1.0), (1, 2.0), (0, 3.0)], dtype=[("e", np.int64), ("t", np.float64)]),
         "boolean-like"),
        (np.array([(1.0, 1.0)] * 3, dtype=[("e", np.float64), ("t", np.float64)]),
         "Cannot tell y's event field"),
        (np.array([(True, 1.0, 0)] * 3, dtype=[("e", bool), ("t", np.float64), ("x", int)]),
         "exactly two fields"),
        (np.array([("a", 1.0)] * 3, dtype=[("e", "U1"), ("t", np.float64)]), "Cannot tell"),
    ],
    ids=["1-d", "2-d", "event-0-1-2", "two-floats", "three-fields", "string-event"],
)
def test_badly_shaped_targets_get_a_clear_error(y, message):
    X = sp.random(3, 4, density=1.0, format="csr", random_state=0)
    with pytest.raises(ValueError, match=message):
        SurvivalExponentialRegressor().fit(X, y)


def test_make_survival_target_rejects_non_boolean_events_and_length_mismatch():
    with pytest.raises(ValueError, match="boolean-like"):
        make_survival_target([0.5, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="boolean-like"):
        make_survival_target(["yes", "no"], [1.0, 2.0])
    with pytest.raises(ValueError, match="event has 2 values but time has 3"):
        make_survival_target([True, False], [1.0, 2.0, 3.0])


def test_y_none_and_mismatched_lengths_are_clear_errors():
    X = sp.random(5, 4, density=0.5, format="csr", random_state=0)
    with pytest.raises(ValueError, match="requires y to be passed"):
        SurvivalExponentialRegressor().fit(X, None)
    y = make_survival_target([True] * 4, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="X has 5 samples but y has 4"):
        SurvivalExponentialRegressor().fit(X, y)


def test_negative_weights_are_rejected_and_a_fitted_model_survives_a_bad_refit(synthetic):
    X_train, X_test, y_train, _ = synthetic
    model = SurvivalExponentialRegressor(max_iter=2, random_state=0).fit(X_train, y_train)
    before = model.predict(X_test)
    weight = np.ones(X_train.shape[0])
    weight[3] = -1.0
    with pytest.raises(ValueError, match="Negative values.*sample_weight"):
        model.fit(X_train, y_train, sample_weight=weight)
    bad_y = y_train.copy()
    bad_y["time"][0] = 0.0
    with pytest.raises(ValueError, match="positive and finite"):
        model.fit(X_train, bad_y)
    np.testing.assert_array_equal(model.predict(X_test), before)


def test_all_censored_fits_with_a_warning():
    X = sp.random(200, 20, density=0.2, format="csr", dtype=np.float32, random_state=0)
    y = make_survival_target(np.zeros(200, dtype=bool), np.linspace(1.0, 50.0, 200))
    with pytest.warns(UserWarning, match="Every row of y is censored"):
        model = SurvivalExponentialRegressor(max_iter=3, tol=None, random_state=0).fit(X, y)
    assert np.all(np.isfinite(model.predict_rate(X)))
    assert np.all(model.predict_rate(X) > 0)


# ---- the loss -------------------------------------------------------------------------

@pytest.mark.parametrize("log_rate", [-9.0, -2.0, 0.0, 1.5])
@pytest.mark.parametrize("event", [0.0, 1.0])
def test_survival_loss_gradient_matches_finite_differences(log_rate, event):
    loss = BUILTIN_CALLBACKS["exponential_survival"]
    time, weight = np.float32(3.7), np.float32(1.8)
    target = np.array([time, event], dtype=np.float32)
    weights = np.array([weight], dtype=np.float32)
    grad = np.zeros(1, dtype=np.float32)
    loss(np.array([log_rate], dtype=np.float32), target, weights, grad)
    step = 1e-2

    def value(eta):
        return float(loss(np.array([eta], dtype=np.float32), target, weights, np.zeros(1, np.float32)))

    numeric = (value(log_rate + step) - value(log_rate - step)) / (2 * step)
    exact = float(weight) * (float(time) * math.exp(log_rate) - event)
    assert grad[0] == pytest.approx(exact, rel=1e-5, abs=1e-6)
    # Central differences of a float32 function: error O(step**2) plus rounding.
    assert grad[0] == pytest.approx(numeric, rel=2e-3, abs=1e-3)
    assert value(log_rate) == pytest.approx(
        float(weight) * (float(time) * math.exp(log_rate) - event * log_rate), rel=1e-5, abs=1e-5)


def test_survival_loss_stays_finite_on_hot_rows():
    loss = BUILTIN_CALLBACKS["exponential_survival"]
    grad = np.zeros(1, dtype=np.float32)
    value = loss(np.array([500.0], dtype=np.float32), np.array([1e4, 1.0], dtype=np.float32),
                 np.ones(1, dtype=np.float32), grad)
    assert np.isfinite(value) and np.isfinite(grad[0]) and grad[0] > 0


def test_initial_output_bias_is_the_null_model_mle(synthetic):
    X_train, _, y_train, _ = synthetic
    weight = np.random.default_rng(0).integers(1, 4, size=X_train.shape[0]).astype(np.float64)
    model = SurvivalExponentialRegressor(max_iter=1, learning_rate_init=1e-12, optimizer="sgd",
                                         random_state=0).fit(X_train, y_train, sample_weight=weight)
    expected = math.log(np.sum(weight * y_train["event"]) / np.sum(weight * y_train["time"]))
    assert model.intercepts_[-1][0] == pytest.approx(expected, abs=1e-5)


# ---- exactness on real data -----------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "integer-weights"])
def test_linear_model_reaches_the_exact_mle_on_whas500(whas500, weighted):
    design, y = whas500
    event, time = survival_arrays(y)
    weight = (np.random.default_rng(0).integers(1, 4, size=time.size).astype(np.float64)
              if weighted else np.ones(time.size))
    beta, mean_nll = exact_mle(design, time, event.astype(np.float64), weight)
    X = sp.csr_matrix(design, dtype=np.float32)
    model = SurvivalExponentialRegressor(batch_size=X.shape[0], **CONVERGED).fit(
        X, y, sample_weight=weight if weighted else None)
    ours = fitted_beta(model)
    assert mean_nll(ours)[0] == pytest.approx(mean_nll(beta)[0], rel=1e-4)
    np.testing.assert_allclose(ours, beta, atol=2e-3)
    if weighted:
        # An integer weight is the same as repeating the row.
        repeats = weight.astype(np.int64)
        repeated = SurvivalExponentialRegressor(batch_size=int(repeats.sum()), **CONVERGED).fit(
            X[np.repeat(np.arange(X.shape[0]), repeats)], np.repeat(y, repeats))
        np.testing.assert_allclose(fitted_beta(repeated), ours, atol=2e-3)


def test_per_row_hogwild_sgd_also_reaches_the_mle(whas500):
    design, y = whas500
    event, time = survival_arrays(y)
    beta, mean_nll = exact_mle(design, time, event.astype(np.float64), np.ones(time.size))
    model = SurvivalExponentialRegressor(optimizer="sgd", learning_rate="invscaling",
                                         learning_rate_init=0.05, alpha=0.0, max_iter=1500, tol=None,
                                         random_state=0, n_jobs=1)
    model.fit(sp.csr_matrix(design, dtype=np.float32), y)
    assert mean_nll(fitted_beta(model))[0] == pytest.approx(mean_nll(beta)[0], rel=1e-4)


def test_the_likelihood_as_a_callback_for_the_regressor_gives_the_same_model(whas500):
    """Netflix's use of Vectorflow: the survival likelihood written as a loss callback."""
    from test_losses import exponential_survival_nll  # the user guide's callback, verbatim

    design, y = whas500
    event, time = survival_arrays(y)
    X = sp.csr_matrix(design, dtype=np.float32)
    survival = SurvivalExponentialRegressor(batch_size=X.shape[0], **CONVERGED).fit(X, y)
    regressor = SparseMLPRegressor(loss_callback=exponential_survival_nll, batch_size=X.shape[0],
                                   **CONVERGED).fit(X, np.column_stack([time, event]))
    np.testing.assert_allclose(regressor.predict(X)[:, 0], np.log(survival.predict_rate(X)), atol=2e-3)
    # The estimator's own callback path gives the same model as its built-in loss.
    with_callback = SurvivalExponentialRegressor(loss_callback="exponential_survival",
                                                 batch_size=X.shape[0], **CONVERGED).fit(X, y)
    np.testing.assert_allclose(fitted_beta(with_callback), fitted_beta(survival), atol=1e-4)


def test_a_different_parametric_family_through_the_callback(synthetic):
    X_train, X_test, y_train, y_test = synthetic
    model = SurvivalExponentialRegressor(loss_callback=weibull_shape_two_nll, max_iter=5,
                                         random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.6


def weibull_shape_two_nll(pred, target, weight, grad):
    """Weibull NLL with shape 2 and log-rate ``pred``: cumulative hazard ``exp(pred) * t**2``."""
    eta = min(pred[0], 30.0)
    time, event = target[0], target[1]
    cumulative = math.exp(eta) * time * time
    grad[0] = weight[0] * (cumulative - event)
    return np.float32(weight[0] * (cumulative - event * (eta + math.log(2.0 * time))))


# ---- predictions, scores -------------------------------------------------------------

def test_a_capped_log_rate_warns_and_names_the_cap(synthetic):
    X_train, X_test, y_train, _ = synthetic
    model = SurvivalExponentialRegressor(max_iter=1, random_state=0).fit(X_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X_test)  # fitted rates are far from the cap
    model._network.dense_params[0] += 40.0  # the output bias: every log-rate above 30
    with pytest.warns(UserWarning, match=rf"{X_test.shape[0]} of {X_test.shape[0]} predicted log-rates "
                                         r"were capped at 30"):
        times = model.predict(X_test)
    np.testing.assert_allclose(times, math.exp(-30.0))


def test_predictions_are_consistent_with_each_other(synthetic):
    X_train, X_test, y_train, _ = synthetic
    model = SurvivalExponentialRegressor(max_iter=3, random_state=0).fit(X_train, y_train)
    rate = model.predict_rate(X_test)
    np.testing.assert_allclose(model.predict(X_test), 1.0 / rate, rtol=1e-12)
    np.testing.assert_allclose(model.predict_median_time(X_test), math.log(2.0) / rate, rtol=1e-12)
    times = np.array([0.0, 10.0, 100.0, 365.0])
    survival = model.predict_survival_function(X_test, times)
    assert survival.shape == (X_test.shape[0], 4)
    np.testing.assert_allclose(survival[:, 0], 1.0)
    assert np.all(np.diff(survival, axis=1) <= 0)
    np.testing.assert_allclose(model.predict_survival_function(X_test, model.predict_median_time(X_test)[:1])[0],
                               0.5, rtol=1e-9)
    for bad in ([-1.0], [np.nan], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="times must be"):
            model.predict_survival_function(X_test, bad)


def test_score_equals_scikit_survivals_concordance_of_the_rate(whas500, synthetic):
    design, y = whas500
    X = sp.csr_matrix(design, dtype=np.float32)
    model = SurvivalExponentialRegressor(max_iter=5, random_state=0).fit(X, y)
    X_train, X_test, y_train, y_test = synthetic
    fitted_on_synthetic = SurvivalExponentialRegressor(max_iter=3, random_state=0).fit(X_train, y_train)
    for model, X, y in ((model, X, y), (fitted_on_synthetic, X_test, y_test)):
        event, time = survival_arrays(y)
        # scikit-survival scores risks (higher: shorter survival).  Its default
        # tie tolerance, 1e-8 in absolute terms, would merge distinct rates
        # near 1e-4 per day; with exact ties it agrees to the last digit.
        theirs = sksurv_metrics.concordance_index_censored(event, time, model.predict_rate(X),
                                                           tied_tol=0)[0]
        assert model.score(X, y) == pytest.approx(theirs, abs=1e-12)
        theirs = sksurv_metrics.concordance_index_censored(event, time, -model.predict(X))[0]
        assert model.score(X, y) == pytest.approx(theirs, abs=1e-12)


def brute_force_concordance(event, time, predicted, weight):
    numerator = denominator = 0.0
    for i in range(time.size):
        if not event[i]:
            continue
        for j in range(time.size):
            if time[j] > time[i] or (time[j] == time[i] and not event[j]):
                pair = weight[i] * weight[j]
                denominator += pair
                if predicted[i] < predicted[j]:
                    numerator += pair
                elif predicted[i] == predicted[j]:
                    numerator += 0.5 * pair
    return numerator / denominator


@pytest.mark.parametrize("seed", range(4))
def test_concordance_index_matches_the_pairwise_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 150
    time = rng.integers(1, 20, size=n).astype(np.float64)  # many tied times
    event = rng.random(n) < 0.6
    predicted = rng.integers(0, 10, size=n).astype(np.float64)  # many tied predictions
    weight = rng.integers(1, 4, size=n).astype(np.float64)
    y = make_survival_target(event, time)
    assert concordance_index(y, predicted) == pytest.approx(
        brute_force_concordance(event, time, predicted, np.ones(n)), abs=1e-12)
    assert concordance_index(y, predicted, sample_weight=weight) == pytest.approx(
        brute_force_concordance(event, time, predicted, weight), abs=1e-12)
    repeats = weight.astype(np.int64)
    assert concordance_index(y, predicted, sample_weight=weight) == pytest.approx(
        concordance_index(np.repeat(y, repeats), np.repeat(predicted, repeats)), abs=1e-12)


def test_concordance_index_edge_cases():
    y = make_survival_target([True, True, False], [1.0, 2.0, 3.0])
    assert concordance_index(y, [1.0, 2.0, 3.0]) == 1.0
    assert concordance_index(y, [3.0, 2.0, 1.0]) == 0.0
    assert concordance_index(y, [1.0, 1.0, 1.0]) == 0.5
    with pytest.warns(UndefinedMetricWarning, match="no pair of rows is comparable"):
        assert math.isnan(concordance_index(make_survival_target([False, False], [1.0, 2.0]), [1.0, 2.0]))
    with pytest.raises(ValueError, match="y_true has 3 samples but predicted_time has 2"):
        concordance_index(y, [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        concordance_index(y, [1.0, np.nan, 2.0])


def test_mean_exponential_nll_matches_the_formula():
    y = make_survival_target([True, False], [2.0, 3.0])
    predicted_time = np.array([4.0, 0.5])
    expected = ((2.0 / 4.0 + math.log(4.0)) + 3.0 / 0.5) / 2
    assert mean_exponential_nll(y, predicted_time) == pytest.approx(expected)
    assert mean_exponential_nll(y, predicted_time, sample_weight=[3.0, 1.0]) == pytest.approx(
        (3 * (2.0 / 4.0 + math.log(4.0)) + 3.0 / 0.5) / 4)
    with pytest.raises(ValueError, match="positive"):
        mean_exponential_nll(y, [1.0, 0.0])


# ---- learning and scikit-learn integration -------------------------------------------

@pytest.mark.parametrize("hidden_layer_sizes", [(), (16,)])
def test_models_beat_the_null_model_on_held_out_rows(synthetic, hidden_layer_sizes):
    X_train, X_test, y_train, y_test = synthetic
    null_rate = y_train["event"].sum() / y_train["time"].sum()
    null_nll = mean_exponential_nll(y_test, np.full(X_test.shape[0], 1.0 / null_rate))
    model = SurvivalExponentialRegressor(hidden_layer_sizes=hidden_layer_sizes, max_iter=10,
                                         early_stopping=True, random_state=0).fit(X_train, y_train)
    assert mean_exponential_nll(y_test, model.predict(X_test)) < null_nll - 0.02
    assert model.score(X_test, y_test) > 0.62
    assert model.validation_scores_[-1] < 0  # minus the validation NLL


def test_grid_search_pipeline_and_scorers(synthetic):
    X_train, X_test, y_train, y_test = synthetic
    pipeline = make_pipeline(MaxAbsScaler(), SurvivalExponentialRegressor(max_iter=3, random_state=0))
    grid = {"survivalexponentialregressor__learning_rate_init": [1e-4, 0.05]}
    # The default score (the C-index) and its scorer agree.
    search = GridSearchCV(pipeline, grid, cv=KFold(3)).fit(X_train, y_train)
    by_scorer = GridSearchCV(pipeline, grid, cv=KFold(3), scoring=concordance_index_scorer)
    by_scorer.fit(X_train, y_train)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               by_scorer.cv_results_["mean_test_score"])
    assert search.score(X_test, y_test) == pytest.approx(search.best_estimator_.score(X_test, y_test))
    # A step of 1e-4 barely leaves the null model: the likelihood tells.
    search = GridSearchCV(pipeline, grid, cv=KFold(3), scoring=neg_mean_exponential_nll_scorer)
    search.fit(X_train, y_train)
    assert search.best_params_["survivalexponentialregressor__learning_rate_init"] == 0.05
    scores = cross_val_score(SurvivalExponentialRegressor(max_iter=2, random_state=0), X_train, y_train,
                             cv=3, scoring=neg_mean_exponential_nll_scorer)
    assert np.all(scores < 0)


def test_pickle_partial_fit_and_threads(synthetic):
    X_train, X_test, y_train, y_test = synthetic
    model = SurvivalExponentialRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0, n_jobs=2)
    model.fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_test), model.predict(X_test))
    before = model.score(X_test, y_test)
    for _ in range(3):
        model.partial_fit(X_train, y_train)
    assert model.n_iter_ == 5
    assert model.score(X_test, y_test) > before - 0.02


def test_hot_rows_do_not_overflow_into_nan():
    # A few rows with huge values drive the log-rate far past exp's float32 range.
    X = sp.random(300, 10, density=0.3, format="csr", dtype=np.float32, random_state=0)
    X.data[:5] = 1e4
    y = make_survival_target(np.ones(300, dtype=bool), np.full(300, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SurvivalExponentialRegressor(optimizer="adagrad", learning_rate_init=1.0,
                                             max_iter=3, random_state=0).fit(X, y)
    assert np.all(np.isfinite(model.predict_rate(X)))


def test_make_survival_target_needs_two_field_names():
    with pytest.raises(ValueError, match="event_name and time_name must differ"):
        make_survival_target([True], [1.0], event_name="t", time_name="t")
