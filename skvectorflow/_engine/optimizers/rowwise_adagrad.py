"""Row-wise AdaGrad (as DLRM): one accumulator per input-table row, per-weight AdaGrad for dense layers."""

import math

import numba

from .adagrad import dense, step_rate
from .regularization import soft_threshold

__all__ = ["dense", "input_rows", "step_rate"]


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, config):
    """One step on each input-table row ``features[p]`` (see ``sgd.input_rows``).

    A row is ``[w (h0) | accumulator]``: the accumulator sums the mean squared
    gradient of the row's weights.
    """
    alpha = config.alpha
    l1 = config.l1
    eps = config.epsilon
    for p in range(start, stop):
        feature = features[p]
        scale = scales[p]
        mean_sq = 0.0
        for c in range(h0):
            g = scale * grad[grad_row, c] + alpha * input_table[feature, c]
            mean_sq += g * g
        acc = input_table[feature, h0] + mean_sq / h0
        input_table[feature, h0] = acc
        step = rate / (math.sqrt(acc) + eps)
        for c in range(h0):
            w = input_table[feature, c]
            w -= step * (scale * grad[grad_row, c] + alpha * w)
            if l1 > 0.0:
                w = soft_threshold(w, step * l1)
            input_table[feature, c] = w
