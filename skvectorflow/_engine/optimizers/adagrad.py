"""AdaGrad: one accumulator of squared gradients per weight, input table and dense layers alike."""

import numba
import numpy as np

from .learning_rate import scheduled_rate
from .regularization import dense_penalties, soft_threshold


@numba.njit(nogil=True, cache=True, inline="always")
def step_rate(config, step):
    """Learning rate at global update ``step`` (1-based): the schedule's."""
    return scheduled_rate(config, step)


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, config):
    """One step on each input-table row ``features[p]`` (see ``sgd.input_rows``).

    A row is ``[w (h0) | accumulator (h0)]``.
    """
    # float32 arithmetic (float64 sqrt and division cost twice as much per
    # non-zero) and the L1 test outside the loops.
    l1 = config.l1
    rate32 = np.float32(rate)
    eps32 = np.float32(config.epsilon)
    alpha32 = np.float32(config.alpha)
    for p in range(start, stop):
        feature = features[p]
        scale = scales[p]
        for c in range(h0):
            w = input_table[feature, c]
            g = scale * grad[grad_row, c] + alpha32 * w
            acc = input_table[feature, h0 + c] + g * g
            input_table[feature, h0 + c] = acc
            if l1 > 0.0:
                step = rate32 / (np.sqrt(acc) + eps32)
                w = soft_threshold(w - step * g, step * l1)
            else:
                w -= rate32 * g / (np.sqrt(acc) + eps32)
            input_table[feature, c] = w


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
