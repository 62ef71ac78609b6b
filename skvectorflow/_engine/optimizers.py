"""Update rules: SGD, AdaGrad, row-wise AdaGrad and Adam, sparse-aware.

Contract
--------
Each rule applies one step to a set of parameters given their gradient
``scale * grad`` (``scale`` folds in the sample multiplier ``x_k`` of a sparse
update, or ``1 / batch_count`` when a mini-batch is averaged).

* The **input layer** is updated lazily, one table row at a time and only for
  the rows a unit touched (``update_input_row``).  Its optimizer state lives in
  the same row, right after the weights: ``[w (h0) | state]``.
* **Dense parameters** are updated on every step (``update_dense_params``).

Regularisation is applied at the moment a parameter is updated, so it acts on
touched rows only: L2 adds ``alpha * w`` to the gradient, and L1 is a proximal
(soft-threshold) step of ``l1`` times the step size just taken, which sets
weights exactly to zero.  For an input-table row, the effective penalty is thus
proportional to how often its feature occurs; on data where every row touches
every feature it is the usual ``alpha/2 ||W||^2 + l1 ||W||_1``.  Biases are
not penalised.

State per parameter (``input_state_width`` columns per table row,
``dense_state_width`` blocks of ``dense_params``'s length):

=================  ===========================  =======================
optimizer          input-table row state        dense state
=================  ===========================  =======================
sgd                none                         none
adagrad            one accumulator per weight   one accumulator
rowwise_adagrad    one accumulator per row      one accumulator
adam               first and second moments     first and second moments
=================  ===========================  =======================

Row-wise AdaGrad (as in DLRM) accumulates the mean squared gradient of a row:
one float of state instead of ``h0``, which nearly halves the memory the input
layer reads and writes per non-zero.  Adam's bias correction uses the global
step count; its input-layer moments decay only when a row is touched (lazy
Adam).

All rules race benignly under Hogwild: concurrent read-modify-write of the
same weight may lose an update, never corrupt memory.
"""

import math

import numba
import numpy as np

SGD = 0
ADAGRAD = 1
ROWWISE_ADAGRAD = 2
ADAM = 3

OPTIMIZER_CODES = {
    "sgd": SGD,
    "adagrad": ADAGRAD,
    "rowwise_adagrad": ROWWISE_ADAGRAD,
    "adam": ADAM,
}

CONSTANT = 0
INVSCALING = 1
LEARNING_RATE_CODES = {"constant": CONSTANT, "invscaling": INVSCALING}


def input_state_width(optimizer, h0):
    """Optimizer-state columns per input-table row of width ``h0``."""
    return {SGD: 0, ADAGRAD: h0, ROWWISE_ADAGRAD: 1, ADAM: 2 * h0}[optimizer]


def dense_state_width(optimizer):
    """Optimizer-state values per dense parameter."""
    return {SGD: 0, ADAGRAD: 1, ROWWISE_ADAGRAD: 1, ADAM: 2}[optimizer]


@numba.njit(nogil=True, cache=True, inline="always")
def step_learning_rate(optimizer, config, step):
    """Base learning rate of ``optimizer`` at global update ``step`` (1-based).

    ``constant``: ``learning_rate_init``; ``invscaling``:
    ``learning_rate_init / step ** power_t``.  For Adam the bias correction
    ``sqrt(1 - beta_2**t) / (1 - beta_1**t)`` is folded in.
    """
    rate = config.learning_rate
    if config.learning_rate_schedule == INVSCALING:
        rate = rate / math.pow(float(step), config.power_t)
    if optimizer == ADAM:
        t = float(step)
        rate = rate * math.sqrt(1.0 - math.pow(config.beta_2, t)) / (
            1.0 - math.pow(config.beta_1, t)
        )
    return rate


@numba.njit(nogil=True, cache=True, inline="always")
def _soft_threshold(weight, threshold):
    if weight > threshold:
        return weight - threshold
    if weight < -threshold:
        return weight + threshold
    return 0.0


@numba.njit(nogil=True, cache=True, inline="always")
def update_input_rows(optimizer, input_table, features, scales, start, stop, h0, grad, grad_row, rate,
                      config):
    """One step of ``optimizer`` on each input-table row ``features[p]``, ``start <= p < stop``.

    Row ``features[p]`` gets the gradient ``scales[p] * grad[grad_row, :h0]``:
    for a CSR row, ``features`` are its column indices, ``scales`` its values
    and ``grad[grad_row]`` the gradient at the input layer's output, so this
    is the sparse backward pass of the input layer and its update in one.
    The optimizer is chosen once, outside the loop over non-zeros.

    Parameters
    ----------
    optimizer : int
        One of the module's optimizer codes.
    input_table : float32[:, ::1], shape (n_features, h0 + state), changed in place
    features : int32[::1]
    scales : float32[::1]
    start, stop : int
    h0 : int
        Number of weights in a row.
    grad : float32[:, ::1]
    grad_row : int
    rate : float
        Base learning rate from ``step_learning_rate``.
    config : TrainConfig
    """
    alpha = config.alpha
    l1 = config.l1
    eps = config.epsilon
    if optimizer == SGD:
        for p in range(start, stop):
            feature = features[p]
            scale = scales[p]
            for c in range(h0):
                w = input_table[feature, c]
                w -= rate * (scale * grad[grad_row, c] + alpha * w)
                if l1 > 0.0:
                    w = _soft_threshold(w, rate * l1)
                input_table[feature, c] = w
    elif optimizer == ADAGRAD:
        # float32 arithmetic (float64 sqrt and division cost twice as much per
        # non-zero) and the L1 test outside the loops.
        rate32 = np.float32(rate)
        eps32 = np.float32(eps)
        alpha32 = np.float32(alpha)
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
                    w = _soft_threshold(w - step * g, step * l1)
                else:
                    w -= rate32 * g / (np.sqrt(acc) + eps32)
                input_table[feature, c] = w
    elif optimizer == ROWWISE_ADAGRAD:
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
                    w = _soft_threshold(w, step * l1)
                input_table[feature, c] = w
    else:  # ADAM
        beta_1 = config.beta_1
        beta_2 = config.beta_2
        for p in range(start, stop):
            feature = features[p]
            scale = scales[p]
            for c in range(h0):
                w = input_table[feature, c]
                g = scale * grad[grad_row, c] + alpha * w
                m = beta_1 * input_table[feature, h0 + c] + (1.0 - beta_1) * g
                v = beta_2 * input_table[feature, 2 * h0 + c] + (1.0 - beta_2) * g * g
                input_table[feature, h0 + c] = m
                input_table[feature, 2 * h0 + c] = v
                step = rate / (math.sqrt(v) + eps)
                w -= step * m
                if l1 > 0.0:
                    w = _soft_threshold(w, step * l1)
                input_table[feature, c] = w


@numba.njit(nogil=True, cache=True, inline="always")
def update_dense(optimizer, params, state, grad, start, stop, scale, rate, penalised, config):
    """One step of ``optimizer`` on ``params[start:stop]``.

    Parameters
    ----------
    optimizer : int
    params : float32[::1], changed in place
    state : float32[::1]
        Optimizer state, blocks of ``len(params)``; changed in place.
    grad : float32[::1]
        Gradient of the whole parameter vector; ``scale * grad[p]`` is used.
    start, stop : int
        The parameter range to update (one weight matrix or one bias).
    scale : float
    rate : float
        Base learning rate from ``step_learning_rate``.
    penalised : bool
        Whether L2/L1 apply (weights: yes; biases: no).
    config : TrainConfig
    """
    # float32 scalars, one loop per rule chosen outside it, and slices indexed
    # from 0 (a runtime offset makes Numba's negative-index wraparound a
    # select in every access): LLVM then vectorises the loops, 0.4 ns a
    # parameter instead of 3-5, which matters for the 10^5-10^6 dense
    # parameters a mini-batch step of a wide MLP updates.
    alpha = np.float32(config.alpha if penalised else 0.0)
    l1 = np.float32(config.l1 if penalised else 0.0)
    eps = np.float32(config.epsilon)
    scale = np.float32(scale)
    rate = np.float32(rate)
    n = params.shape[0]
    weights = params[start:stop]
    gradient = grad[start:stop]
    if optimizer == SGD:
        for p in range(weights.shape[0]):
            w = weights[p]
            weights[p] = w - rate * (scale * gradient[p] + alpha * w)
        if l1 > 0.0:
            for p in range(weights.shape[0]):
                weights[p] = _soft_threshold(weights[p], rate * l1)
    elif optimizer == ADAM:
        beta_1 = np.float32(config.beta_1)
        beta_2 = np.float32(config.beta_2)
        one = np.float32(1.0)
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
                w = _soft_threshold(w, step * l1)
            weights[p] = w
    else:  # ADAGRAD and ROWWISE_ADAGRAD: dense layers use per-weight AdaGrad
        accumulator = state[start:stop]
        if l1 > 0.0:
            for p in range(weights.shape[0]):
                w = weights[p]
                g = scale * gradient[p] + alpha * w
                acc = accumulator[p] + g * g
                accumulator[p] = acc
                step = rate / (np.sqrt(acc) + eps)
                weights[p] = _soft_threshold(w - step * g, step * l1)
        else:
            for p in range(weights.shape[0]):
                w = weights[p]
                g = scale * gradient[p] + alpha * w
                acc = accumulator[p] + g * g
                accumulator[p] = acc
                weights[p] = w - rate * g / (np.sqrt(acc) + eps)


@numba.njit(nogil=True, cache=True, inline="always")
def update_dense_params(optimizer, params, state, grad, layout, scale, rate, config):
    """One optimizer step on every dense parameter: the input layer's bias, then
    each dense layer's weights (penalised) and bias (not penalised), then
    those of a fields input layer's bottom MLP.

    One call site for ``update_dense``: the kernels are inlined where they are
    called, so each extra call site is another copy of every optimizer to
    compile.

    Parameters
    ----------
    optimizer : int
    params, state, grad : float32[::1]
        As for ``update_dense``.
    layout : NetworkLayout
    scale, rate : float
    config : TrainConfig
    """
    # The network's segments, then those of the bottom MLP.
    sizes = layout.layer_sizes
    bottom = layout.bottom_sizes
    n_network_segments = 2 * sizes.shape[0] - 1
    n_bottom_segments = max(2 * bottom.shape[0] - 2, 0)
    for segment in range(n_network_segments + n_bottom_segments):
        if segment < n_network_segments:
            layer = (segment + 1) // 2
            penalised = segment % 2 == 1
            if segment == 0:
                start = 0
                stop = sizes[0]
            elif penalised:
                start = layout.weight_offsets[layer]
                stop = layout.bias_offsets[layer]
            else:
                start = layout.bias_offsets[layer]
                stop = start + sizes[layer]
        else:
            # A fields input layer's bottom MLP: its weights (penalised) and biases.
            bottom_segment = segment - n_network_segments
            layer = bottom_segment // 2 + 1
            penalised = bottom_segment % 2 == 0
            if penalised:
                start = layout.bottom_weight_offsets[layer]
                stop = layout.bottom_bias_offsets[layer]
            else:
                start = layout.bottom_bias_offsets[layer]
                stop = start + bottom[layer]
        update_dense(optimizer, params, state, grad, start, stop, scale, rate, penalised, config)
