"""AdaGrad: one accumulator of squared gradients per weight, input table and dense layers alike.

The input table's penalty is lazy (``regularization``), at each weight's
AdaGrad rate ``rate / (sqrt(accumulator) + epsilon)``; it does not enter the
accumulator, and a weight with no gradient yet (accumulator 0) has no rate
and keeps its initial value.
"""

import math

import numba
import numpy as np

from .learning_rate import scheduled_rate
from .regularization import cumulative_rate, dense_penalties, missed_rate, penalty_active, penalty_flow
from .regularization import soft_threshold


@numba.njit(nogil=True, cache=True, inline="always")
def step_rate(config, step):
    """Learning rate at global update ``step`` (1-based): the schedule's."""
    return scheduled_rate(config, step)


@numba.njit(nogil=True, cache=True, inline="always")
def catch_up(input_table, stamps, feature, n_weights, step, clock, config):
    """Bring row ``feature`` up to ``step`` (see ``sgd.catch_up``), each weight at its own rate.

    A row is ``[w (n_weights) | accumulator (n_weights) | stamp]``.
    """
    elapsed = missed_rate(stamps, feature, step, clock, config)
    if elapsed > 0.0:
        alpha = float(config.alpha)
        l1 = float(config.l1)
        eps = float(config.epsilon)
        for c in range(n_weights):
            acc = float(input_table[feature, n_weights + c])
            # No gradient yet, no AdaGrad rate: 1 / epsilon would wipe the
            # initial weights (an FM's factors) before their first step.
            if acc > 0.0:
                input_table[feature, c] = penalty_flow(float(input_table[feature, c]),
                                                       elapsed / (math.sqrt(acc) + eps), alpha, l1)


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, step, config):
    """One step on each input-table row ``features[p]`` (see ``sgd.input_rows``).

    A row is ``[w (h0) | accumulator (h0) | stamp]``.
    """
    # float32 arithmetic (float64 sqrt and division cost twice as much per
    # non-zero).
    rate32 = np.float32(rate)
    eps32 = np.float32(config.epsilon)
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
            acc = input_table[feature, h0 + c] + g * g
            input_table[feature, h0 + c] = acc
            input_table[feature, c] -= rate32 * g / (np.sqrt(acc) + eps32)
        if penalised:
            # This step's penalty after its gradient, as a proximal step.
            catch_up(input_table, stamps, feature, h0, step, clock, config)


@numba.njit(nogil=True, cache=True, inline="always")
def dense(params, state, grad, start, stop, scale, rate, penalised, config):
    """One step on ``params[start:stop]`` (see ``sgd.dense``); ``state`` holds the accumulators."""
    alpha, l1 = dense_penalties(config, penalised)
    eps = np.float32(config.epsilon)
    scale = np.float32(scale)
    rate = np.float32(rate)
    weights = params[start:stop]
    gradient = grad[start:stop]
    accumulator = state[start:stop]
    if l1 > 0.0:
        for p in range(weights.shape[0]):
            w = weights[p]
            g = scale * gradient[p] + alpha * w
            acc = accumulator[p] + g * g
            accumulator[p] = acc
            step = rate / (np.sqrt(acc) + eps)
            weights[p] = soft_threshold(w - step * g, step * l1)
    else:
        for p in range(weights.shape[0]):
            w = weights[p]
            g = scale * gradient[p] + alpha * w
            acc = accumulator[p] + g * g
            accumulator[p] = acc
            weights[p] = w - rate * g / (np.sqrt(acc) + eps)
