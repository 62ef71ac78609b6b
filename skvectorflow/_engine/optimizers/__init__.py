"""Update rules: SGD, AdaGrad, row-wise AdaGrad, Adam and FTRL-Proximal, sparse-aware.

Contract
--------
Each rule applies one step to a set of parameters given their gradient
``scale * grad`` (``scale`` folds in the sample multiplier ``x_k`` of a sparse
update, or ``1 / batch_count`` when a mini-batch is averaged).

* The **input layer** is updated lazily, one table row at a time and only for
  the rows a unit touched (``input_rows``).  Its optimizer state lives in the
  same row, right after the weights, and the row's step stamp last:
  ``[w (h0) | state | stamp]``.
* **Dense parameters** are updated on every step (``dense``, over every
  segment through ``update_dense_params``).

Each optimizer is a module of this package (``sgd``, ``adagrad``,
``rowwise_adagrad``, ``adam``, ``ftrl``) holding the same four compiled functions:
``step_rate(config, step)``, ``input_rows(...)``, ``catch_up(...)`` (the
lazy penalty of one row) and ``dense(...)``.  The
epoch kernels take the module (``OPTIMIZER_RULES[code]``) as a compile-time
constant and call ``rules.input_rows(...)``: Numba inlines that optimizer's
functions and no other, so a kernel compiles one optimizer, and its cache
keys the kernel by the module's name.

Regularisation acts on every weight at every step, as in scikit-learn's SGD:
the input table's L1 and L2 are applied lazily, when a row is touched and at
the end of each epoch (``hogwild.bring_rows_current``), in closed form
(``regularization`` states the exact meaning per optimizer); dense weights
take ``alpha * w`` in their gradient and L1's proximal step on every update.
FTRL-Proximal is the exception: its L1 and L2 are per-coordinate terms of
its closed form (``ftrl``), and its lazy penalty only moves the stamp.
Biases are not penalised.

State per parameter (``input_state_width`` columns per table row, the
step stamp included; ``dense_state_width`` blocks of ``dense_params``'s
length):

=================  ===========================  =======================
optimizer          input-table row state        dense state
=================  ===========================  =======================
sgd                stamp                        none
adagrad            accumulator per weight,      one accumulator
                   stamp
rowwise_adagrad    accumulator per row, stamp   one accumulator
adam               first and second moments,    first and second moments
                   stamp
ftrl               z and n per weight, stamp    z and n
=================  ===========================  =======================

Row-wise AdaGrad (as in DLRM) accumulates the mean squared gradient of a row:
one float of state instead of ``h0``, which nearly halves the memory the input
layer reads and writes per non-zero.  Adam's bias correction uses the global
step count; its input-layer moments decay only when a row is touched (lazy
Adam).

All rules race benignly under Hogwild: concurrent read-modify-write of the
same weight may lose an update, never corrupt memory.
"""

import numba
import numpy as np

from . import adagrad, adam, ftrl, rowwise_adagrad, sgd
from .learning_rate import CONSTANT, INVSCALING, LEARNING_RATE_CODES
from .regularization import MAX_PENALTY_STEPS, cumulative_rate

SGD = 0
ADAGRAD = 1
ROWWISE_ADAGRAD = 2
ADAM = 3
FTRL = 4

OPTIMIZER_CODES = {
    "sgd": SGD,
    "adagrad": ADAGRAD,
    "rowwise_adagrad": ROWWISE_ADAGRAD,
    "adam": ADAM,
    "ftrl": FTRL,
}

# Each optimizer's compiled functions, by code.
OPTIMIZER_RULES = {SGD: sgd, ADAGRAD: adagrad, ROWWISE_ADAGRAD: rowwise_adagrad, ADAM: adam, FTRL: ftrl}

# Optimizers whose ``catch_up`` has work to do without a penalty: FTRL's
# recomputes a row's weights from its state (``ftrl.catch_up``).
CATCH_UP_WITHOUT_PENALTY = {FTRL}

__all__ = ["ADAGRAD", "ADAM", "CATCH_UP_ROWS", "CATCH_UP_WITHOUT_PENALTY", "CONSTANT", "FTRL", "INVSCALING",
           "LEARNING_RATE_CODES",
           "MAX_PENALTY_STEPS", "OPTIMIZER_CODES", "OPTIMIZER_RULES", "ROWWISE_ADAGRAD", "SGD",
           "dense_segment", "dense_state_width", "initialise_state", "input_state_width",
           "n_dense_segments", "update_dense_params"]


def input_state_width(optimizer, h0):
    """Columns per input-table row of width ``h0`` after its weights: optimizer state and the step stamp."""
    return {SGD: 0, ADAGRAD: h0, ROWWISE_ADAGRAD: 1, ADAM: 2 * h0, FTRL: 2 * h0}[optimizer] + 1


def dense_state_width(optimizer):
    """Optimizer-state values per dense parameter."""
    return {SGD: 0, ADAGRAD: 1, ROWWISE_ADAGRAD: 1, ADAM: 2, FTRL: 2}[optimizer]


def _make_catch_up_rows(rules):
    def catch_up_rows(input_table, first_row, stop_row, n_weights, step, config):
        """Bring rows ``first_row .. stop_row - 1`` up to ``step``: the penalty of every step they missed."""
        stamps = input_table.view(np.int32)
        clock = cumulative_rate(config, step)
        for feature in range(first_row, stop_row):
            rules.catch_up(input_table, stamps, feature, n_weights, step, clock, config)

    return numba.njit(nogil=True, cache=True)(catch_up_rows)


# One compiled catch-up pass per optimizer, inlining that optimizer's rule
# (``hogwild.bring_rows_current`` runs it).
CATCH_UP_ROWS = {code: _make_catch_up_rows(rules) for code, rules in OPTIMIZER_RULES.items()}


@numba.njit(nogil=True, cache=True, inline="always")
def n_dense_segments(layout):
    """Number of dense segments (``dense_segment``) of ``layout``."""
    n_network_segments = 2 * layout.layer_sizes.shape[0] - 1
    return n_network_segments + max(2 * layout.bottom_sizes.shape[0] - 2, 0)


@numba.njit(nogil=True, cache=True, inline="always")
def dense_segment(layout, segment):
    """``(start, stop, penalised)`` of dense segment ``segment``: the input layer's bias, then
    each dense layer's weights (penalised) and bias (not penalised), then those
    of a fields input layer's bottom MLP."""
    sizes = layout.layer_sizes
    bottom = layout.bottom_sizes
    n_network_segments = 2 * sizes.shape[0] - 1
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
    return start, stop, penalised


@numba.njit(nogil=True, cache=True, inline="always")
def update_dense_params(rules, params, state, grad, layout, scale, rate, config):
    """One optimizer step on every dense parameter, segment by segment (``dense_segment``).

    One call site for ``rules.dense``: the kernels are inlined where they are
    called, so each extra call site is another copy of the rule to compile.

    Parameters
    ----------
    rules : module
        The optimizer's module (``OPTIMIZER_RULES[code]``), a compile-time
        constant of the calling kernel.
    params, state, grad : float32[::1]
        As for ``dense``.
    layout : NetworkLayout
    scale, rate : float
    config : TrainConfig
    """
    for segment in range(n_dense_segments(layout)):
        start, stop, penalised = dense_segment(layout, segment)
        rules.dense(params, state, grad, start, stop, scale, rate, penalised, config)


def _make_initialise_state(rules):
    def initialise_state(input_table, n_weights, dense_params, dense_state, layout, config):
        """The optimizer state that the initial parameters determine (``rules.initial_state_*``)."""
        for feature in range(input_table.shape[0]):
            rules.initial_row_state(input_table, feature, n_weights, config)
        for segment in range(n_dense_segments(layout)):
            start, stop, penalised = dense_segment(layout, segment)
            rules.initial_dense_state(dense_params, dense_state, start, stop, penalised, config)

    return numba.njit(nogil=True, cache=True)(initialise_state)


# Optimizers whose state depends on the initial parameters (FTRL's ``z``),
# with the kernel that sets it.  Their modules also define
# ``initial_row_state`` and ``initial_dense_state``.
INITIALISE_STATE = {FTRL: _make_initialise_state(ftrl)}


def initialise_state(optimizer, input_table, n_weights, dense_params, dense_state, layout, config):
    """Set the optimizer state of freshly initialised parameters, in place; a no-op for most optimizers.

    FTRL stores a weight as a function of its state: this gives each weight
    the state whose closed form is its initial value (``ftrl``), so that the
    state is explicit before training (Dask then combines changes of the
    state that do not count the initial value once per block).
    """
    kernel = INITIALISE_STATE.get(int(optimizer))
    if kernel is not None:
        kernel(input_table, n_weights, dense_params, dense_state, layout, config)
