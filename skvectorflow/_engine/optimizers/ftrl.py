"""FTRL-Proximal (McMahan et al., 2013): per-coordinate rates, L1 and L2 in closed form.

The algorithm
-------------
Per coordinate ``i`` (a weight of an input-table row, or a dense parameter),
FTRL-Proximal keeps ``z_i`` and ``n_i`` and, for a gradient ``g_i``,

.. math::

    \\sigma_i = \\frac{\\sqrt{n_i + g_i^2} - \\sqrt{n_i}}{\\eta}, \\quad
    z_i \\leftarrow z_i + g_i - \\sigma_i w_i, \\quad
    n_i \\leftarrow n_i + g_i^2,

    w_i = \\begin{cases} 0 & |z_i| \\le l_1 \\\\
        -\\dfrac{z_i - \\operatorname{sign}(z_i)\\, l_1}
               {(\\beta + \\sqrt{n_i}) / \\eta + \\alpha} & \\text{otherwise}
        \\end{cases}

(Algorithm 1 of "Ad click prediction: a view from the trenches", KDD 2013):
``eta`` is ``learning_rate_init`` (the paper's alpha), ``beta`` is
``ftrl_beta``, ``l1`` is ``l1`` (the paper's lambda_1) and ``alpha`` is
``alpha`` (the paper's lambda_2).  The coordinate's rate is
``eta / (beta + sqrt(n_i))``; the ``learning_rate`` schedule is not used
(``step_rate`` is the constant ``learning_rate_init``).

What ``alpha`` and ``l1`` mean here
-----------------------------------
FTRL's L1 and L2 are the per-coordinate terms of its closed form, as in the
paper, Vowpal Wabbit and Angel: ``l1`` sets a weight exactly to zero while
``|z_i| <= l1`` (so sparsity grows with ``l1``), and ``alpha`` adds to the
denominator.  This differs from the other optimizers, where ``alpha`` and
``l1`` shrink every weight at every step (``regularization``): under FTRL
the penalty is part of how a weight is computed from its state, not a
shrinkage per step, so a row no step touches keeps its weight, and the lazy
penalty (``catch_up``) only moves the row's step stamp.  Biases are not
penalised (``l1 = alpha = 0`` in their closed form).

Storage
-------
An input-table row is ``[w (h0) | z (h0) | n (h0) | stamp]``; dense
parameters have the state ``[z | n]`` (two blocks of ``dense_params``'s
length).  The stored ``w`` always equals the closed form of the stored
``z`` and ``n``: each update recomputes it, so the forward pass, ``predict``
and ``coefs_`` read it directly.

A coordinate with no gradient yet (``n_i = 0``) keeps its initial weight:
its ``z`` is the value whose closed form (with ``n = 0``) is that weight,
``z = -(w (beta / eta + alpha) + sign(w) l1)``, set when the parameters are
made (``initial_row_state``, ``initial_dense_state``, run by
``optimizers.initialise_state``) and again at a coordinate's first gradient
(so that any table the engine is handed is consistent).
This is FTRL with its first proximal term centred at the initial weights
instead of 0: the random initial factors of a factorization machine and
the input layer of an MLP survive (with ``z = 0`` they would collapse to 0
and an FM's factors would get no gradient), and the output bias starts at
the null model.  Zero-initialised weights (a linear model's) get ``z = 0``,
the paper's algorithm exactly.

Dask (``skvectorflow.dask``) combines the changes of ``w``, ``z`` and ``n``
of several workers (the initial ``z`` is part of the state sent, not of the
changes, so it counts once); ``catch_up`` recomputes each row's weights
from the combined state, so a row is back on its closed form at the end of
a fit.
"""

import numba
import numpy as np

from .regularization import dense_penalties

__all__ = ["catch_up", "dense", "initial_dense_state", "initial_row_state", "input_rows", "step_rate"]


@numba.njit(nogil=True, cache=True, inline="always")
def step_rate(config, step):
    """FTRL's ``eta`` (``learning_rate_init``), the same at every step: the rates are per coordinate."""
    return config.learning_rate


@numba.njit(nogil=True, cache=True, inline="always")
def closed_form_weight(z, sqrt_n, inverse_rate, beta, l1, l2):
    """``w`` from FTRL's state: 0 when ``|z| <= l1``, else ``-(z - sign(z) l1) / ((beta + sqrt_n) / eta + l2)``.

    All arguments float32 (``inverse_rate`` is ``1 / eta``); returns float32.
    """
    if abs(z) <= l1:
        return np.float32(0.0)
    shrunk = z - l1 if z > 0 else z + l1
    return -shrunk / ((beta + sqrt_n) * inverse_rate + l2)


@numba.njit(nogil=True, cache=True, inline="always")
def initial_z(w, inverse_rate, beta, l1, l2):
    """The ``z`` whose closed form with ``n = 0`` is ``w`` (0 for ``w = 0``).

    A coordinate's state before its first gradient.
    """
    if w == 0:
        return np.float32(0.0)
    offset = l1 if w > 0 else -l1
    return -(w * (beta * inverse_rate + l2) + offset)


@numba.njit(nogil=True, cache=True, inline="always")
def _update(w, z, n, g, inverse_rate, beta, l1, l2):
    """One FTRL-Proximal step of one coordinate (float32); returns the new ``(w, z, n)``."""
    if n == 0:
        z = initial_z(w, inverse_rate, beta, l1, l2)
    n_new = n + g * g
    sqrt_new = np.sqrt(n_new)
    sigma = (sqrt_new - np.sqrt(n)) * inverse_rate
    z = z + g - sigma * w
    return closed_form_weight(z, sqrt_new, inverse_rate, beta, l1, l2), z, n_new


@numba.njit(nogil=True, cache=True, inline="always")
def catch_up(input_table, stamps, feature, n_weights, step, clock, config):
    """Bring row ``feature`` up to ``step``: move its stamp and recompute its weights from ``z`` and ``n``.

    FTRL has no penalty per step (see the module docstring).  On a row the
    engine updated, the recomputed weights equal the stored ones bit for bit
    (the same float32 operations); the recomputation puts a row whose state
    was changed from outside (Dask's combine) back on its closed form.
    Coordinates with ``n = 0`` keep their weight.  ``clock`` is unused.

    A row is ``[w (n_weights) | z (n_weights) | n (n_weights) | stamp]``.
    """
    column = stamps.shape[1] - 1
    if stamps[feature, column] < step:
        stamps[feature, column] = step
    inverse_rate = np.float32(1.0) / np.float32(config.learning_rate)
    beta = np.float32(config.ftrl_beta)
    l1 = np.float32(config.l1)
    l2 = np.float32(config.alpha)
    for c in range(n_weights):
        n = input_table[feature, 2 * n_weights + c]
        if n > 0:
            input_table[feature, c] = closed_form_weight(input_table[feature, n_weights + c], np.sqrt(n),
                                                         inverse_rate, beta, l1, l2)


@numba.njit(nogil=True, cache=True, inline="always")
def input_rows(input_table, features, scales, start, stop, h0, grad, grad_row, rate, step, config):
    """One FTRL-Proximal step on each input-table row ``features[p]`` (see ``sgd.input_rows``).

    A row is ``[w (h0) | z (h0) | n (h0) | stamp]``; its weights are
    recomputed in closed form and its stamp set to ``step``.  A coordinate
    whose gradient is 0 is left as it is (FTRL's step is then the identity).
    Float32 arithmetic throughout, as the table's.
    """
    inverse_rate = np.float32(1.0) / np.float32(rate)
    beta = np.float32(config.ftrl_beta)
    l1 = np.float32(config.l1)
    l2 = np.float32(config.alpha)
    stamps = input_table.view(np.int32)
    column = stamps.shape[1] - 1
    for p in range(start, stop):
        feature = features[p]
        scale = scales[p]
        for c in range(h0):
            g = scale * grad[grad_row, c]
            if g == 0:
                continue
            w, z, n = _update(input_table[feature, c], input_table[feature, h0 + c],
                              input_table[feature, 2 * h0 + c], g, inverse_rate, beta, l1, l2)
            input_table[feature, c] = w
            input_table[feature, h0 + c] = z
            input_table[feature, 2 * h0 + c] = n
        if stamps[feature, column] < step:
            stamps[feature, column] = step


@numba.njit(nogil=True, cache=True, inline="always")
def dense(params, state, grad, start, stop, scale, rate, penalised, config):
    """One FTRL-Proximal step on ``params[start:stop]`` (see ``sgd.dense``).

    ``state`` holds ``z`` then ``n`` (blocks of ``len(params)``).  Weights
    take ``alpha`` and ``l1`` in their closed form, biases (``penalised``
    False) neither.
    """
    l2, l1 = dense_penalties(config, penalised)
    inverse_rate = np.float32(1.0) / np.float32(rate)
    beta = np.float32(config.ftrl_beta)
    scale = np.float32(scale)
    n_params = params.shape[0]
    weights = params[start:stop]
    gradient = grad[start:stop]
    z_state = state[start:stop]
    n_state = state[n_params + start:n_params + stop]
    for p in range(weights.shape[0]):
        g = scale * gradient[p]
        if g == 0:
            continue
        w, z, n = _update(weights[p], z_state[p], n_state[p], g, inverse_rate, beta, l1, l2)
        weights[p] = w
        z_state[p] = z
        n_state[p] = n



@numba.njit(nogil=True, cache=True, inline="always")
def initial_row_state(input_table, feature, n_weights, config):
    """Give row ``feature``'s coordinates with no gradient yet (``n = 0``) the ``z`` of their weight (``initial_z``)."""
    inverse_rate = np.float32(1.0) / np.float32(config.learning_rate)
    beta = np.float32(config.ftrl_beta)
    l1 = np.float32(config.l1)
    l2 = np.float32(config.alpha)
    for c in range(n_weights):
        if input_table[feature, 2 * n_weights + c] == 0:
            input_table[feature, n_weights + c] = initial_z(input_table[feature, c], inverse_rate, beta, l1, l2)


@numba.njit(nogil=True, cache=True, inline="always")
def initial_dense_state(params, state, start, stop, penalised, config):
    """``initial_row_state`` for ``params[start:stop]`` (biases, ``penalised`` False, without L1 and L2)."""
    l2, l1 = dense_penalties(config, penalised)
    inverse_rate = np.float32(1.0) / np.float32(config.learning_rate)
    beta = np.float32(config.ftrl_beta)
    n_params = params.shape[0]
    for p in range(start, stop):
        if state[n_params + p] == 0:
            state[p] = initial_z(params[p], inverse_rate, beta, l1, l2)
