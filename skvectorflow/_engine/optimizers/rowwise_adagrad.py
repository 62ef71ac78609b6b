"""Row-wise AdaGrad (as DLRM): one accumulator per input-table row, per-weight AdaGrad for dense layers.

The input table's penalty is lazy (``regularization``), at the row's AdaGrad rate, from
the row's first gradient on.
"""

import math

import numba
import numpy as np

from .adagrad import dense, step_rate
from .regularization import cumulative_rate, missed_rate, penalty_active, shrink_row

__all__ = ["catch_up", "dense", "input_rows", "step_rate"]


@numba.njit(nogil=True, cache=True, inline="always")
def catch_up(input_table, stamps, feature, n_weights, step, clock, config):
    """Bring row ``feature`` up to ``step`` (see ``sgd.catch_up``) at the row's AdaGrad rate.

    A row is ``[w (n_weights) | accumulator | stamp]``.
    """
    elapsed = missed_rate(stamps, feature, step, clock, config)
    acc = float(input_table[feature, n_weights])
    # A row with no gradient yet has no rate (see ``adagrad.catch_up``).
    if elapsed > 0.0 and acc > 0.0:
        shrink_row(input_table, feature, n_weights, elapsed / (math.sqrt(acc) + float(config.epsilon)),
                   config)


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, step, config):
    """One step on each input-table row ``features[p]`` (see ``sgd.input_rows``).

    A row is ``[w (h0) | accumulator | stamp]``: the accumulator sums the
    mean squared gradient of the row's weights.
    """
    eps = config.epsilon
    penalised = penalty_active(config)
    stamps = input_table.view(np.int32)
    clock = cumulative_rate(config, step) if penalised else 0.0
    clock_before = cumulative_rate(config, step - 1) if penalised else 0.0
    for p in range(start, stop):
        feature = features[p]
        if penalised:
            catch_up(input_table, stamps, feature, h0, step - 1, clock_before, config)
        scale = scales[p]
        mean_sq = 0.0
        for c in range(h0):
            g = scale * grad[grad_row, c]
            mean_sq += g * g
        acc = input_table[feature, h0] + mean_sq / h0
        input_table[feature, h0] = acc
        step_size = rate / (math.sqrt(acc) + eps)
        for c in range(h0):
            input_table[feature, c] -= step_size * scale * grad[grad_row, c]
        if penalised:
            # This step's penalty after its gradient, as a proximal step.
            catch_up(input_table, stamps, feature, h0, step, clock, config)
