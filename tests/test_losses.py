"""The loss_callback contract: compilation, errors, and the callback forms of built-ins."""

import math

import numba
import numpy as np
import pytest

from skvectorflow import losses
from skvectorflow._engine import objectives


def absolute_error(pred, target, weight, grad):
    loss = 0.0
    for i in range(pred.shape[0]):
        residual = pred[i] - target[i]
        grad[i] = weight[0] * (1.0 if residual > 0 else -1.0)
        loss += weight[0] * abs(residual)
    return np.float32(loss)


def uses_a_python_object(pred, target, weight, grad):
    table = {"a": object()}
    grad[0] = len(table)
    return np.float32(0.0)


def test_plain_python_function_is_compiled_and_memoised():
    first = losses.compile_loss_callback(absolute_error)
    assert losses.compile_loss_callback(absolute_error) is first
    grad = np.zeros(2, np.float32)
    loss = first(np.array([1.0, -1.0], np.float32), np.zeros(2, np.float32),
                 np.array([2.0], np.float32), grad)
    assert loss == pytest.approx(4.0)
    np.testing.assert_array_equal(grad, [2.0, -2.0])


def test_njit_function_is_accepted():
    jitted = numba.njit(absolute_error)
    compiled = losses.compile_loss_callback(jitted)
    assert compiled is jitted


def test_uncompilable_function_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="uses_a_python_object.*could not be compiled"):
        losses.compile_loss_callback(uses_a_python_object)


def test_wrong_arity_is_a_type_error_naming_it():
    def two_arguments(pred, grad):
        return np.float32(0.0)

    with pytest.raises(TypeError, match="two_arguments"):
        losses.compile_loss_callback(two_arguments)


def test_not_callable_and_unknown_names_are_rejected():
    with pytest.raises(TypeError, match="loss_callback must be a function"):
        losses.compile_loss_callback(3.5)
    with pytest.raises(ValueError, match="names no built-in loss.*squared_error"):
        losses.compile_loss_callback("no_such_loss")


@pytest.mark.parametrize("name", sorted(losses.BUILTIN_CALLBACKS))
def test_callback_forms_equal_the_builtins(name):
    rng = np.random.default_rng(2)
    code = {
        "squared_error": objectives.SQUARED_ERROR, "huber": objectives.HUBER,
        "poisson": objectives.POISSON, "binary_log_loss": objectives.BINARY_LOG_LOSS,
        "multinomial_log_loss": objectives.MULTINOMIAL_LOG_LOSS, "hinge": objectives.HINGE,
        "exponential_survival": objectives.EXPONENTIAL_SURVIVAL,
    }[name]
    n_rows, n_outputs = 3, (1 if name in ("binary_log_loss", "exponential_survival") else 4)
    per_row_targets = name in ("binary_log_loss", "multinomial_log_loss", "hinge")
    n_targets = 1 if per_row_targets else n_outputs
    pred = rng.normal(size=n_rows * n_outputs).astype(np.float32)
    if per_row_targets:
        target = rng.integers(0, max(n_outputs, 2), size=n_rows).astype(np.float32)
    elif name == "exponential_survival":  # (time, event) per row
        n_targets = 2
        target = np.column_stack([rng.uniform(0.1, 3, size=n_rows),
                                  rng.integers(0, 2, size=n_rows)]).astype(np.float32).ravel()
    else:
        target = rng.uniform(0, 3, size=n_rows * n_targets).astype(np.float32)
    weight = rng.uniform(0.5, 2, size=n_rows).astype(np.float32)
    grad_builtin = np.zeros_like(pred)
    grad_callback = np.zeros_like(pred)
    expected = objectives.builtin_loss(code, pred, target, weight, grad_builtin, n_rows,
                                       n_outputs, n_targets, np.float32(losses.CALLBACK_HUBER_DELTA))
    got = losses.compile_loss_callback(name)(pred, target, weight, grad_callback)
    assert got == pytest.approx(expected, rel=1e-6)
    np.testing.assert_array_equal(grad_callback, grad_builtin)
    assert math.isfinite(got)


def exponential_survival_nll(pred, target, weight, grad):
    """The user guide's worked example, verbatim."""
    eta = min(pred[0], 30.0)
    time, event = target[0], target[1]
    rate = math.exp(eta)
    grad[0] = weight[0] * (time * rate - event)
    grad[1] = 0.0
    return np.float32(weight[0] * (time * rate - event * eta))


def test_user_guide_survival_callback_recovers_the_hazard():
    import scipy.sparse as sp

    from skvectorflow import SparseMLPRegressor

    rng = np.random.default_rng(8)
    n, d = 4000, 30
    X = sp.random(n, d, density=0.2, format="csr", dtype=np.float32, random_state=8)
    true_log_rate = -2.0 + X @ rng.normal(scale=1.5, size=d)
    event_time = rng.exponential(1.0 / np.exp(true_log_rate))
    censor_time = rng.exponential(20.0, size=n)
    time = np.minimum(event_time, censor_time)
    event = (event_time <= censor_time).astype(float)
    y = np.column_stack([time, event])
    model = SparseMLPRegressor(loss_callback=exponential_survival_nll, max_iter=30,
                               learning_rate_init=0.1, tol=None, random_state=0).fit(X, y)
    log_rate = model.predict(X)[:, 0]
    assert np.corrcoef(log_rate, true_log_rate)[0, 1] > 0.9
    assert abs(np.mean(log_rate) - np.mean(true_log_rate)) < 0.5
