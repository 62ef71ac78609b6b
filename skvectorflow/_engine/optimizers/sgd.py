"""Plain SGD: ``w -= rate * g``, no state; the input table's penalty is lazy (see ``regularization``).

Dense weights take ``w -= rate * (g + alpha * w)`` and then L1's proximal step.
"""

import numba
import numpy as np

from .learning_rate import scheduled_rate
from .regularization import cumulative_rate, dense_penalties, missed_rate, penalty_active, shrink_row
from .regularization import soft_threshold


@numba.njit(nogil=True, cache=True, inline="always")
def step_rate(config, step):
    """Learning rate at global update ``step`` (1-based): the schedule's."""
    return scheduled_rate(config, step)


@numba.njit(nogil=True, cache=True, inline="always")
def catch_up(input_table, stamps, feature, n_weights, step, clock, config):
    """Bring row ``feature`` up to ``step``: the penalty of the steps it missed (see ``regularization``).

    Every optimizer's ``catch_up`` takes these arguments; SGD's rate factor is 1.
    """
    elapsed = missed_rate(stamps, feature, step, clock, config)
    if elapsed > 0.0:
        shrink_row(input_table, feature, n_weights, elapsed, config)


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, step, config):
    """One step on each input-table row ``features[p]``, ``start <= p < stop``.

    Row ``features[p]`` gets the gradient ``scales[p] * grad[grad_row, :h0]``:
    for a CSR row, ``features`` are its column indices, ``scales`` its values
    and ``grad[grad_row]`` the gradient at the input layer's output, so this
    is the sparse backward pass of the input layer and its update in one.
    Before its gradient step a row catches up on the penalty of the steps it
    missed, and this step's penalty follows the gradient step, as a
    proximal step (``catch_up``).  Every optimizer's
    ``input_rows`` takes these arguments.

    Parameters
    ----------
    input_table : float32[:, ::1], shape (n_features, h0 + state + 1), changed in place
        The last column holds each row's step stamp (``regularization``).
    features : int32[::1]
    scales : float32[::1]
    start, stop : int
    h0 : int
        Number of weights in a row.
    grad : float32[:, ::1]
    grad_row : int
    rate : float
        Learning rate from ``step_rate``.
    step : int
        The global step (1-based) this update is.
    config : TrainConfig
    """
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
            input_table[feature, c] -= rate * scale * grad[grad_row, c]
        if penalised:
            # This step's penalty after its gradient, as a proximal step.
            catch_up(input_table, stamps, feature, h0, step, clock, config)


@numba.njit(nogil=True, cache=True, inline="always")
def dense(params, state, grad, start, stop, scale, rate, penalised, config):
    """One step on ``params[start:stop]``.

    Every optimizer's ``dense`` takes these arguments.

    Parameters
    ----------
    params : float32[::1], changed in place
    state : float32[::1]
        Optimizer state, blocks of ``len(params)``; changed in place (none
        for SGD).
    grad : float32[::1]
        Gradient of the whole parameter vector; ``scale * grad[p]`` is used.
    start, stop : int
        The parameter range to update (one weight matrix or one bias).
    scale : float
    rate : float
        Learning rate from ``step_rate``.
    penalised : bool
        Whether L2/L1 apply (weights: yes; biases: no).
    config : TrainConfig
    """
    # float32 scalars and slices indexed from 0 (a runtime offset makes
    # Numba's negative-index wraparound a select in every access): LLVM then
    # vectorises the loops, 0.4 ns a parameter instead of 3-5, which matters
    # for the 10^5-10^6 dense parameters a mini-batch step of a wide MLP
    # updates.
    alpha, l1 = dense_penalties(config, penalised)
    scale = np.float32(scale)
    rate = np.float32(rate)
    weights = params[start:stop]
    gradient = grad[start:stop]
    for p in range(weights.shape[0]):
        w = weights[p]
        weights[p] = w - rate * (scale * gradient[p] + alpha * w)
    if l1 > 0.0:
        for p in range(weights.shape[0]):
            weights[p] = soft_threshold(weights[p], rate * l1)
