"""Adam: first and second moments per weight, lazy on the input table (moments decay when a row is touched)."""

import math

import numba
import numpy as np

from .learning_rate import scheduled_rate
from .regularization import cumulative_rate, dense_penalties, missed_rate, penalty_active, shrink_row
from .regularization import soft_threshold


@numba.njit(nogil=True, cache=True, inline="always")
def step_rate(config, step):
    """The schedule's rate at global update ``step`` (1-based), with Adam's bias correction.

    ``sqrt(1 - beta_2**t) / (1 - beta_1**t)`` is folded into the rate.
    """
    t = float(step)
    return scheduled_rate(config, step) * math.sqrt(1.0 - math.pow(config.beta_2, t)) / (
        1.0 - math.pow(config.beta_1, t)
    )


@numba.njit(nogil=True, cache=True, inline="always")
def catch_up(input_table, stamps, feature, n_weights, step, clock, config):
    """Bring row ``feature`` up to ``step`` (see ``sgd.catch_up``): decoupled weight decay.

    The penalty runs at the schedule's rate (AdamW), not divided by the
    second moment and without the bias correction.
    """
    elapsed = missed_rate(stamps, feature, step, clock, config)
    if elapsed > 0.0:
        shrink_row(input_table, feature, n_weights, elapsed, config)


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, step, config):
    """One step on each input-table row ``features[p]`` (see ``sgd.input_rows``).

    A row is ``[w (h0) | first moments (h0) | second moments (h0) | stamp]``.
    """
    eps = config.epsilon
    beta_1 = config.beta_1
    beta_2 = config.beta_2
    penalised = penalty_active(config)
    stamps = input_table.view(np.int32)
    clock = cumulative_rate(config, step) if penalised else 0.0
    clock_before = cumulative_rate(config, step - 1) if penalised else 0.0
    for p in range(start, stop):
        feature = features[p]
        if penalised:
            catch_up(input_table, stamps, feature, h0, step - 1, clock_before, config)
        scale = scales[p]
        for c in range(h0):
            g = scale * grad[grad_row, c]
            m = beta_1 * input_table[feature, h0 + c] + (1.0 - beta_1) * g
            v = beta_2 * input_table[feature, 2 * h0 + c] + (1.0 - beta_2) * g * g
            input_table[feature, h0 + c] = m
            input_table[feature, 2 * h0 + c] = v
            input_table[feature, c] -= rate / (math.sqrt(v) + eps) * m
        if penalised:
            # This step's penalty after its gradient, as a proximal step.
            catch_up(input_table, stamps, feature, h0, step, clock, config)


@numba.njit(nogil=True, cache=True, inline="always")
def dense(params, state, grad, start, stop, scale, rate, penalised, config):
    """One step on ``params[start:stop]`` (see ``sgd.dense``); ``state`` holds both moments."""
    alpha, l1 = dense_penalties(config, penalised)
    eps = np.float32(config.epsilon)
    scale = np.float32(scale)
    rate = np.float32(rate)
    beta_1 = np.float32(config.beta_1)
    beta_2 = np.float32(config.beta_2)
    one = np.float32(1.0)
    n = params.shape[0]
    weights = params[start:stop]
    gradient = grad[start:stop]
    first_moment = state[start:stop]
    second_moment = state[n + start:n + stop]
    for p in range(weights.shape[0]):
        w = weights[p]
        g = scale * gradient[p] + alpha * w
        m = beta_1 * first_moment[p] + (one - beta_1) * g
        v = beta_2 * second_moment[p] + (one - beta_2) * g * g
        first_moment[p] = m
        second_moment[p] = v
        step = rate / (np.sqrt(v) + eps)
        w -= step * m
        if l1 > 0.0:
            w = soft_threshold(w, step * l1)
        weights[p] = w
