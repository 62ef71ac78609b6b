"""Hogwild training: work units sharded over threads, lock-free shared parameters.

Contract
--------
*Work units.*  A unit is a contiguous range of rows whose outputs one loss
call sees: a single row for regression and classification, one query for
ranking.  ``unit_bounds`` lists the ranges (unit ``u`` is rows
``unit_bounds[u]:unit_bounds[u + 1]``); an empty ``unit_bounds`` means every
row is its own unit.  Units are grouped into *blocks* of consecutive units
(``block_bounds``); an epoch visits blocks in a shuffled order and the units of
a block in storage order.  Visiting contiguous blocks keeps the reads of X
sequential, which costs far less than a row-by-row shuffle for the same
statistical effect.  ``shuffled_block_order`` can further confine the order to
*windows* of consecutive blocks, visited one after the other, so that an X
memory-mapped from a file larger than memory is read window by window, mostly
sequentially, instead of at random over the whole file.

*Threads.*  ``run_epoch`` splits the epoch's block order into ``n_threads``
contiguous shares and runs the epoch kernel (``train_blocks_kernel``) on each in
its own Python thread.  The kernel is a ``nogil`` compiled function, so
threads run in parallel.
Parameters (``input_table``, ``dense_params``, ``dense_state``) are shared and
updated without locks (Hogwild, Niu et al. 2011): a thread may read a weight
another is writing, and concurrent read-modify-writes of one weight may drop an
update.  With sparse rows, collisions are rare on the input layer; dense layers
are touched by every unit, so with many threads and few dense parameters they
become the contended part and scaling flattens.  Each thread owns its scratch
(``ThreadScratch``), made once per fit.

*Determinism.*  With one thread, a run is a pure function of its inputs and
of the block order, which the caller draws from its own seeded generator:
``n_jobs=1`` with a fixed ``random_state`` reproduces bit for bit.  With more
threads, the interleaving of updates (and so the result) varies from run to
run.

*Mini-batches.*  With ``batch_size == 1`` a unit's gradient is applied as
soon as it is computed (per-row SGD, as Vectorflow).  With ``batch_size > 1``
a thread sums the gradients of ``batch_size`` units and applies their mean in
one step: dense gradients in a buffer, input-layer gradients in a small hash
table keyed by feature, so a feature that occurs in several rows of the batch
gets one update.  If a batch's distinct features would overflow the table, the
batch is applied early.

*Failure.*  A loss that is not finite stops the thread at once and is reported
in its ``stats``; the caller raises.  An exception raised by a user's loss
callback propagates out of the thread to the caller.
"""

import math
import threading
from collections import namedtuple

import numba
import numpy as np
from numba import types
from threadpoolctl import threadpool_limits

from .compilation import KernelOnFirstUse
from .csr import CheckedCSR, check_csr
from .epoch_stats import N_STATS, STAT_BAD_UNIT, STAT_LOSS, STAT_STATUS, STAT_UPDATES, STAT_WEIGHT
from .epoch_stats import STATUS_NONFINITE_GRADIENT, STATUS_NONFINITE_LOSS, STATUS_OK
from .fields_batch import batch_buffer_length, make_train_fields_batches
from .kernels import LAYOUT_TYPE, add_linear_term, backward_row, dense_layers_forward
from .kernels import factorization_input_layer, factorization_nonzero_gradient, fields_backward
from .kernels import INPUT_KIND_NAMES, fields_input_layer, predict_rows_kernel, sum_input_layer
from .network import FLOAT64_1D, FLOAT_1D, FLOAT_2D, INPUT_FACTORIZATION, INPUT_FIELDS, INPUT_SUM
from .network import SPEC_KIND, SPEC_N_FIELDS, SPEC_SCRATCH_WIDTH, SPEC_TABLE_WIDTH, table_width
from .network import READONLY_FLOAT_1D, READONLY_FLOAT_2D, READONLY_INT32_1D
from .network import READONLY_INT64_1D, make_layout, n_dense_params, readonly_layout
from .objectives import ANY_LOSS, CALLBACK_LOSS, KERNEL_LOSS_NAMES, LOSS_FUNCTION_TYPE, QUERY_LOSSES
from .objectives import FIRST_QUERY_LOSS, builtin_loss, callback_loss, no_loss_callback, unit_loss
from .ranking import query_loss, unit_seed
from .minibatch import accumulate_input_gradient, apply_step
from .optimizers import CATCH_UP_ROWS, CATCH_UP_WITHOUT_PENALTY, MAX_PENALTY_STEPS, OPTIMIZER_CODES
from .optimizers import OPTIMIZER_RULES
from .optimizers import dense_state_width, input_state_width
from .prefetch import PREFETCH_ROWS_AHEAD, prefetch_row_features

TrainConfig = namedtuple(
    "TrainConfig",
    [
        "loss",
        "use_callback",
        "activation",
        "optimizer",
        "learning_rate_schedule",
        "learning_rate",
        "power_t",
        "alpha",
        "l1",
        "beta_1",
        "beta_2",
        "epsilon",
        "ftrl_beta",
        "huber_delta",
        "batch_size",
        "n_outputs",
        "n_targets",
        "max_pairs",
        "seed",
    ],
)
TrainConfig.__doc__ = "Hyper-parameters of an epoch, as numpy scalars (see ``make_train_config``)."

_INT_FIELDS = {"loss", "use_callback", "activation", "optimizer", "learning_rate_schedule",
               "batch_size", "n_outputs", "n_targets", "max_pairs", "seed"}


def make_train_config(**fields):
    """Build a ``TrainConfig``, casting integer fields to int64 and the rest to float32.

    One fixed field typing keeps the epoch kernel at a single compiled
    signature, which Numba's cache then serves to every process.
    ``max_pairs`` and ``seed`` (used by query losses only) default to 0,
    ``ftrl_beta`` (used by FTRL only) to 1.
    """
    fields = {"max_pairs": 0, "seed": 0, "ftrl_beta": 1.0, **fields}
    return TrainConfig(
        **{
            name: (np.int64(value) if name in _INT_FIELDS else np.float32(value))
            for name, value in fields.items()
        }
    )


ThreadScratch = namedtuple(
    "ThreadScratch",
    [
        "activations",  # (max_unit_rows, sum(layer_sizes)) layer outputs of a unit's rows
        "deltas",  # (2, max(layer_sizes)) back-propagation ping-pong
        "input_deltas",  # (max_unit_rows, h0) gradient at the input layer, per row
        "input_sums",  # (max_unit_rows, scratch width) a factorization or fields layer's sums, per row
        "nonzero_grad",  # (1, table_width) a factorization layer's gradient of one table row
        "vector_grad",  # (n_vectors, d) a fields layer's gradient of each interaction vector
        "pred",  # (max_unit_rows * n_outputs,) outputs handed to the loss
        "grad",  # (max_unit_rows * n_outputs,) loss gradient
        "target",  # (max_unit_rows * n_targets,)
        "weight",  # (max_unit_rows,)
        "dense_grad",  # (n_dense_params,) gradient accumulator
        "slot_feature",  # (capacity,) feature of each mini-batch slot
        "slot_position",  # (capacity,) hash position of each slot
        "slot_grad",  # (capacity, table_width) summed input-table gradient of each slot
        "slot_scale",  # (capacity,) multiplier of each slot's gradient when applied
        "hash_slots",  # (hash_capacity,) slot index or -1
        "rank_by_label",  # (max_unit_rows,) query losses' scratch, see ranking.query_loss
        "rank_group_end",  # (max_unit_rows,)
        "rank_partners",  # (max_unit_rows + 1,)
        "rank_by_score",  # (max_unit_rows,)
        "rank_position",  # (max_unit_rows,)
        "batch_rows",  # (batch rows,) rows of a fields layer's batch, see fields_batch
        "batch_has_gradient",  # (batch rows,) whether each of them has a non-zero loss gradient
        "batch_buffer",  # (batch_buffer_length(layout, batch rows),) a fields layer's batch matrices
    ],
)


def uses_batched_fields(layout, batch_size, single_row_units):
    """Whether an epoch runs ``fields_batch``'s matrix-matrix kernel rather than row by row.

    It does for a fields input layer with mini-batches of single-row units;
    with ``batch_size == 1`` there is no matrix to multiply.
    """
    return int(layout.input_spec[SPEC_KIND]) == INPUT_FIELDS and batch_size > 1 and single_row_units


def make_thread_scratch(layout, n_dense, n_targets, max_unit_rows, max_unit_nnz, batch_size):
    """Allocate one thread's scratch buffers (once per fit, never in a loop).

    The mini-batch table holds up to ``batch_size * max_unit_nnz`` distinct
    features (at least one unit's worth, at most 2**20).
    """
    sizes = layout.layer_sizes
    h0 = int(sizes[0])
    width = table_width(layout)
    n_outputs = int(sizes[-1])
    if batch_size > 1:
        capacity = int(max(max_unit_nnz, min(batch_size * max_unit_nnz, 1 << 20), 1))
        hash_capacity = 1 << int(math.ceil(math.log2(2 * capacity)))
    else:
        capacity = hash_capacity = 1
    batched_fields = uses_batched_fields(layout, batch_size, max_unit_rows == 1)
    n_batch_rows = 1
    if batched_fields:
        # As many rows as the hash table holds at max_unit_nnz non-zeros each
        # (fields_batch closes a fuller batch early): this bounds the matrices.
        n_batch_rows = min(batch_size, max(1, capacity // max(max_unit_nnz, 1)))
    return ThreadScratch(
        activations=np.zeros((max_unit_rows, int(np.sum(sizes))), dtype=np.float32),
        deltas=np.zeros((2, int(max(np.max(sizes), np.max(layout.bottom_sizes, initial=1)))),
                        dtype=np.float32),
        input_deltas=np.zeros((max_unit_rows, h0), dtype=np.float32),
        input_sums=np.zeros((max_unit_rows, int(layout.input_spec[SPEC_SCRATCH_WIDTH])), dtype=np.float32),
        nonzero_grad=np.zeros((1, width), dtype=np.float32),
        vector_grad=np.zeros((int(layout.input_spec[SPEC_N_FIELDS]) + 1, width), dtype=np.float32),
        pred=np.zeros(max_unit_rows * n_outputs, dtype=np.float32),
        grad=np.zeros(max_unit_rows * n_outputs, dtype=np.float32),
        target=np.zeros(max_unit_rows * n_targets, dtype=np.float32),
        weight=np.zeros(max_unit_rows, dtype=np.float32),
        dense_grad=np.zeros(n_dense, dtype=np.float32),
        slot_feature=np.zeros(capacity, dtype=np.int32),
        slot_position=np.zeros(capacity, dtype=np.int64),
        slot_grad=np.zeros((capacity, width), dtype=np.float32),
        slot_scale=np.zeros(capacity, dtype=np.float32),
        hash_slots=np.full(hash_capacity, -1, dtype=np.int32),
        rank_by_label=np.zeros(max_unit_rows, dtype=np.int64),
        rank_group_end=np.zeros(max_unit_rows, dtype=np.int64),
        rank_partners=np.zeros(max_unit_rows + 1, dtype=np.int64),
        rank_by_score=np.zeros(max_unit_rows, dtype=np.int64),
        rank_position=np.zeros(max_unit_rows, dtype=np.int64),
        batch_rows=np.zeros(n_batch_rows, dtype=np.int64),
        batch_has_gradient=np.zeros(n_batch_rows, dtype=np.bool_),
        batch_buffer=np.zeros(batch_buffer_length(layout, n_batch_rows) if batched_fields else 1,
                              dtype=np.float32),
    )




@numba.njit(nogil=True, cache=True, inline="always")
def _unit_nnz(indptr, unit_bounds, unit):
    """Non-zeros of work unit ``unit`` (a row when ``unit_bounds`` is empty)."""
    if unit_bounds.shape[0] == 0:
        return indptr[unit + 1] - indptr[unit]
    return indptr[unit_bounds[unit + 1]] - indptr[unit_bounds[unit]]


def _make_train_blocks(input_kind, rules, loss):
    """The epoch kernel's source for one input-layer kind, optimizer and unit loss.

    The three arguments are free variables of the returned function, which
    Numba compiles as constants: it prunes the branches of the other input
    kinds and losses before it inlines the helpers, and inlines the
    optimizer's functions from its module (``rules.input_rows``) and no
    other.  One variant compiles in a fraction of the time of a kernel
    holding them all, and a fit compiles only the variant it runs.  Numba's
    cache keys each variant by its free variables pickled (the module by its
    name), so they must pickle the same in every process: a compiled
    function does not (Numba pickles it with a per-process id, and every new
    process would miss the cache), hence a loss code rather than the loss's
    function.

    Parameters
    ----------
    input_kind : int
        ``network.INPUT_SUM``, ``INPUT_FACTORIZATION`` or ``INPUT_FIELDS``.
    rules : module
        The optimizer's, from ``optimizers.OPTIMIZER_RULES``.
    loss : int
        A built-in loss code, whose function alone the kernel inlines;
        ``objectives.CALLBACK_LOSS``: the user's callback;
        ``objectives.QUERY_LOSSES``: units are queries scored by a built-in
        ranking loss (``ranking.query_loss``); or ``objectives.ANY_LOSS``:
        the fit's loss, built in or callback, chosen at run time
        (``objectives.unit_loss``).
    """

    def _train_blocks(indptr, indices, data, targets, sample_weight, unit_bounds, block_bounds, block_order,
                      input_table, dense_params, dense_state, layout, config, loss_callback, scratch,
                      first_step, step_stride, stats):
        """Train on the units of the given blocks, in order (one thread's share of an epoch).

        Parameters
        ----------
        indptr : int64[::1]; indices : int32[::1]; data : float32[::1]
            The CSR matrix (read only; never written).
        targets : float32[:, ::1], shape (n_rows, n_targets)
        sample_weight : float32[::1], shape (n_rows,)
        unit_bounds : int64[::1]
            Row ranges of the units, or empty when each row is a unit.
        block_bounds : int64[::1]
            Unit ranges of the blocks.
        block_order : int64[::1]
            The blocks this thread visits, in order.
        input_table, dense_params, dense_state : float32 arrays
            Shared parameters and optimizer state; updated in place, lock-free.
        layout : NetworkLayout
        config : TrainConfig
        loss_callback : FunctionType(LOSS_SIGNATURE)
            Called by the callback variant (``loss == CALLBACK_LOSS``); the
            others ignore it.
        scratch : ThreadScratch
            This thread's buffers.
        first_step, step_stride : int
            This thread's optimizer steps are numbered ``first_step``,
            ``first_step + step_stride``, ... (threads interleave the global
            count used by learning-rate schedules and Adam).
        stats : float64[::1], length N_STATS; written
            Summed weighted loss, summed weight, steps taken, status, and the
            unit that failed.
        """
        sizes = layout.layer_sizes
        n_layers = sizes.shape[0]
        h0 = sizes[0]
        n_linear = layout.input_spec[1]
        activation = config.activation
        width = layout.input_spec[SPEC_TABLE_WIDTH]
        column_role = layout.column_role
        first_field_vector = 1 if layout.bottom_sizes.shape[0] > 0 else 0
        n_outputs = config.n_outputs
        n_targets = config.n_targets
        output_offset = layout.activation_offsets[n_layers - 1]
        rows_are_units = unit_bounds.shape[0] == 0
        batch_size = config.batch_size
        # Unpacked once: every access to a tuple's array field costs reference counting.
        activations = scratch.activations
        deltas = scratch.deltas
        input_deltas = scratch.input_deltas
        input_sums = scratch.input_sums
        nonzero_grad = scratch.nonzero_grad
        vector_grad = scratch.vector_grad
        pred = scratch.pred
        grad = scratch.grad
        target = scratch.target
        weight = scratch.weight
        dense_grad = scratch.dense_grad
        slot_feature = scratch.slot_feature
        slot_position = scratch.slot_position
        slot_grad = scratch.slot_grad
        slot_scale = scratch.slot_scale
        hash_slots = scratch.hash_slots
        rank_by_label = scratch.rank_by_label
        rank_group_end = scratch.rank_group_end
        rank_partners = scratch.rank_partners
        rank_by_score = scratch.rank_by_score
        rank_position = scratch.rank_position
        capacity = slot_feature.shape[0]
        loss_sum = 0.0
        weight_sum = 0.0
        step = first_step
        n_steps = 0
        batch_count = 0
        n_slots = 0
        for p in range(dense_grad.shape[0]):
            dense_grad[p] = 0.0
        stats[STAT_STATUS] = STATUS_OK
        n_blocks = block_order.shape[0]
        for b in range(n_blocks):
            block = block_order[b]
            last_unit = block_bounds[block + 1] - 1
            block_row_stop = last_unit + 1 if rows_are_units else unit_bounds[last_unit + 1]
            for unit in range(block_bounds[block], block_bounds[block + 1]):
                if rows_are_units:
                    row_start = unit
                    row_stop = unit + 1
                else:
                    row_start = unit_bounds[unit]
                    row_stop = unit_bounds[unit + 1]
                n_rows = row_stop - row_start
                ahead = row_start + PREFETCH_ROWS_AHEAD
                if ahead < block_row_stop:
                    prefetch_row_features(indptr, indices, ahead, input_table)
                for r in range(n_rows):
                    row = row_start + r
                    # The forward pass, dispatched on the input layer's kind
                    # here in the kernel (as in kernels._make_predict_rows):
                    # pruned before inlining, the other kinds are never copied in.
                    if input_kind == INPUT_FACTORIZATION:
                        factorization_input_layer(indptr, indices, data, row, input_table, dense_params, h0,
                                                  n_linear, activations, r, input_sums)
                    elif input_kind == INPUT_FIELDS:
                        fields_input_layer(indptr, indices, data, row, input_table, dense_params, layout,
                                           activation, activations, r, input_sums)
                    else:
                        sum_input_layer(indptr, indices, data, row, input_table, dense_params, h0,
                                        activations, r)
                    dense_layers_forward(dense_params, layout, activation, activations, r,
                                         input_kind == INPUT_SUM)
                    if input_kind == INPUT_FACTORIZATION:
                        add_linear_term(layout, activations, r, input_sums, n_linear)
                    for o in range(n_outputs):
                        pred[r * n_outputs + o] = activations[r, output_offset + o]
                    for t in range(n_targets):
                        target[r * n_targets + t] = targets[row, t]
                    weight[r] = sample_weight[row]
                    weight_sum += sample_weight[row]
                if loss == QUERY_LOSSES:
                    value = query_loss(config.loss, pred, target, weight, grad, n_rows, config.max_pairs,
                                       unit_seed(config.seed, unit), rank_by_label, rank_group_end,
                                       rank_partners, rank_by_score, rank_position)
                elif loss == CALLBACK_LOSS:
                    value = callback_loss(loss_callback, pred, target, weight, grad, n_rows, n_outputs,
                                          n_targets)
                elif loss == ANY_LOSS:
                    value = unit_loss(config.loss, config.use_callback, loss_callback, pred, target,
                                      weight, grad, n_rows, n_outputs, n_targets, config.huber_delta)
                else:
                    # ``loss`` is a constant: Numba prunes ``builtin_loss``'s
                    # dispatch and inlines that loss's function alone.
                    value = builtin_loss(loss, pred, target, weight, grad, n_rows, n_outputs, n_targets,
                                         config.huber_delta)
                if not math.isfinite(value):
                    stats[STAT_STATUS] = STATUS_NONFINITE_LOSS
                    stats[STAT_BAD_UNIT] = unit
                    return
                loss_sum += value
                has_gradient = False
                for o in range(n_rows * n_outputs):
                    g = grad[o]
                    if not math.isfinite(g):
                        stats[STAT_STATUS] = STATUS_NONFINITE_GRADIENT
                        stats[STAT_BAD_UNIT] = unit
                        return
                    if g != 0.0:
                        has_gradient = True
                if has_gradient:
                    for r in range(n_rows):
                        backward_row(input_kind, activations, r, dense_params, dense_grad, layout,
                                     activation, grad, r * n_outputs,
                                     deltas, input_deltas)
                    if input_kind == INPUT_FACTORIZATION:
                        # Each non-zero's table row has its own gradient (it
                        # depends on the row's weights): computed, then applied
                        # or accumulated like the sum layer's.
                        rate = rules.step_rate(config, step)
                        for r in range(n_rows):
                            row = row_start + r
                            for p in range(indptr[row], indptr[row + 1]):
                                factorization_nonzero_gradient(input_table, indices[p], data[p], input_sums,
                                                               r, input_deltas, grad, r * n_outputs, h0,
                                                               n_linear, nonzero_grad)
                                if batch_size == 1:
                                    rules.input_rows(input_table, indices, data, p, p + 1, width,
                                                      nonzero_grad, 0, rate, step, config)
                                else:
                                    n_slots = accumulate_input_gradient(
                                        hash_slots, slot_feature, slot_position, slot_grad, n_slots,
                                        indices[p], data[p], nonzero_grad, 0, width)
                    elif input_kind == INPUT_FIELDS:
                        # A field's table rows get x_j times the gradient of its
                        # pooled embedding; dense columns live in the bottom MLP.
                        rate = rules.step_rate(config, step)
                        for r in range(n_rows):
                            row = row_start + r
                            fields_backward(input_sums, r, dense_params, dense_grad, layout,
                                            activation, input_deltas, vector_grad, deltas)
                            for p in range(indptr[row], indptr[row + 1]):
                                field = column_role[indices[p]]
                                if field < 0:
                                    continue
                                if batch_size == 1:
                                    rules.input_rows(input_table, indices, data, p, p + 1, width,
                                                      vector_grad, first_field_vector + field, rate, step,
                                                      config)
                                else:
                                    n_slots = accumulate_input_gradient(
                                        hash_slots, slot_feature, slot_position, slot_grad, n_slots,
                                        indices[p], data[p], vector_grad, first_field_vector + field, width)
                    elif batch_size == 1:
                        rate = rules.step_rate(config, step)
                        for r in range(n_rows):
                            row = row_start + r
                            rules.input_rows(input_table, indices, data, indptr[row],
                                              indptr[row + 1], h0, input_deltas, r, rate, step, config)
                    else:
                        for r in range(n_rows):
                            row = row_start + r
                            for p in range(indptr[row], indptr[row + 1]):
                                n_slots = accumulate_input_gradient(hash_slots, slot_feature, slot_position,
                                                                    slot_grad, n_slots, indices[p], data[p],
                                                                    input_deltas, r, h0)
                batch_count += 1
                # Apply the batch when it is full, at the end of the share, or
                # early when the next unit's features could overflow the
                # mini-batch table.  (One call site: each is another inlined
                # copy of the step to compile.)
                next_unit = unit + 1
                if next_unit == block_bounds[block + 1]:
                    next_unit = block_bounds[block_order[b + 1]] if b + 1 < n_blocks else -1
                if (batch_count == batch_size or next_unit < 0
                        or n_slots + _unit_nnz(indptr, unit_bounds, next_unit) > capacity):
                    apply_step(rules, input_table, dense_params, dense_state, layout, config, dense_grad,
                               hash_slots, slot_feature, slot_position, slot_grad, slot_scale, n_slots,
                               batch_count, step)
                    step += step_stride
                    n_steps += 1
                    batch_count = 0
                    n_slots = 0
        stats[STAT_LOSS] = loss_sum
        stats[STAT_WEIGHT] = weight_sum
        stats[STAT_UPDATES] = n_steps

    return _train_blocks


def _train_blocks_signature():
    config_type = numba.typeof(make_train_config(**{name: 0 for name in TrainConfig._fields}))
    scratch_type = numba.typeof(make_thread_scratch(make_layout([1]), 1, 1, 1, 1, 2))
    return types.void(
        READONLY_INT64_1D, READONLY_INT32_1D, READONLY_FLOAT_1D,
        READONLY_FLOAT_2D, READONLY_FLOAT_1D,
        READONLY_INT64_1D, READONLY_INT64_1D, READONLY_INT64_1D,
        FLOAT_2D, FLOAT_1D, FLOAT_1D,
        LAYOUT_TYPE, config_type, LOSS_FUNCTION_TYPE, scratch_type,
        types.int64, types.int64, FLOAT64_1D,
    )


_OPTIMIZER_NAMES = {code: name for name, code in OPTIMIZER_CODES.items()}
_TRAIN_BLOCKS_VARIANTS = {}


def train_blocks_kernel(input_kind, optimizer, loss):
    """The epoch kernel for one input-layer kind, optimizer and unit loss (see ``_make_train_blocks``).

    Parameters
    ----------
    input_kind, optimizer : int
        Codes, as in ``network`` and ``optimizers``.
    loss : int
        As ``epoch_kernel_loss`` gives it.

    Returns
    -------
    KernelOnFirstUse
        Made once per variant; it compiles, or loads from Numba's cache, on
        first use.
    """
    variant = (int(input_kind), int(optimizer), int(loss))
    kernel = _TRAIN_BLOCKS_VARIANTS.get(variant)
    if kernel is None:
        kernel = _TRAIN_BLOCKS_VARIANTS.setdefault(variant, KernelOnFirstUse(
            _make_train_blocks(variant[0], OPTIMIZER_RULES[variant[1]], variant[2]), _train_blocks_signature,
            name=f"_train_blocks[{INPUT_KIND_NAMES[variant[0]]}, {_OPTIMIZER_NAMES[variant[1]]}, "
                 f"{KERNEL_LOSS_NAMES[variant[2]]}]"))
    return kernel


def epoch_kernel_loss(input_kind, loss, use_callback):
    """The ``loss`` of the epoch kernel variant a fit runs (see ``train_blocks_kernel``).

    Sum layers have a variant per loss: their kernel is the smallest, so
    the loss code is a large share of it, and they train the linear and MLP
    models whose first fit should compile fast.  Factorization and fields
    layers choose the loss at run time (``objectives.ANY_LOSS``): the loss
    is a small share of their kernels, and a variant per loss would multiply
    the minutes that compiling every kernel takes.
    """
    if int(input_kind) != INPUT_SUM:
        return ANY_LOSS
    if use_callback:
        return CALLBACK_LOSS
    if loss >= FIRST_QUERY_LOSS:
        return QUERY_LOSSES
    return int(loss)


# Every variant a fit can ask for, made now so that ``load_all_kernels``
# knows them: each optimizer with each loss over sum layers (and the ranker's
# query losses), and with any loss over the other kinds.
for _optimizer in _OPTIMIZER_NAMES:
    for _loss in KERNEL_LOSS_NAMES:
        if _loss != ANY_LOSS:
            train_blocks_kernel(INPUT_SUM, _optimizer, _loss)
    for _input_kind in (INPUT_FACTORIZATION, INPUT_FIELDS):
        train_blocks_kernel(_input_kind, _optimizer, ANY_LOSS)


def _train_fields_batches_signature():
    train_blocks_arguments = _train_blocks_signature().args
    return types.void(*train_blocks_arguments[:5], *train_blocks_arguments[6:])


# The batched fields epoch of each optimizer: the same arguments as the epoch
# kernel's but ``unit_bounds`` (every row is a unit).
_FIELDS_BATCHES_VARIANTS = {
    optimizer: KernelOnFirstUse(make_train_fields_batches(OPTIMIZER_RULES[optimizer]),
                                _train_fields_batches_signature, name=f"_train_fields_batches[{name}]")
    for optimizer, name in _OPTIMIZER_NAMES.items()
}


def shuffled_block_order(rng, blocks, blocks_per_window):
    """A random visiting order of ``blocks`` that stays within one window at a time.

    ``blocks`` (sorted block ids) is cut into windows of ``blocks_per_window``
    consecutive entries; the windows come in a random order and the blocks of
    each window in a random order.  A thread's share of the order
    (``run_epoch`` splits it into contiguous shares) thus reads X one window
    after another.

    Parameters
    ----------
    rng : numpy.random.Generator
    blocks : int64 ndarray
    blocks_per_window : int or None
        ``None``, or at least ``blocks.size``, gives ``rng.permutation(blocks)``
        (one window).

    Returns
    -------
    order : int64 ndarray, a permutation of ``blocks``
    """
    if blocks_per_window is None or blocks.size <= blocks_per_window:
        return rng.permutation(blocks)
    n_windows = -(-blocks.size // blocks_per_window)
    window_rank = rng.permutation(n_windows)
    window_of_block = np.arange(blocks.size) // blocks_per_window
    order = np.lexsort((rng.random(blocks.size), window_rank[window_of_block]))
    return blocks[order]


EpochResult = namedtuple("EpochResult", ["loss_sum", "weight_sum", "n_steps", "status", "bad_unit"])


def run_epoch(csr, targets, sample_weight, unit_bounds, block_bounds, block_order, network,
              layout, config, loss_callback, scratches, first_step):
    """Run one epoch over the blocks in ``block_order`` with ``len(scratches)`` threads.

    Parameters
    ----------
    csr : tuple (indptr int64, indices int32, data float32)
    targets, sample_weight, unit_bounds, block_bounds : arrays
        As for ``train_blocks``.
    block_order : int64 ndarray
        Every block of the epoch once, in visiting order; thread ``t`` takes
        the ``t``-th of ``len(scratches)`` contiguous shares.
    network : tuple (input_table, dense_params, dense_state)
    layout : NetworkLayout
    config : TrainConfig
    loss_callback : compiled function of LOSS_SIGNATURE or None
    scratches : list of ThreadScratch
        One per thread.
    first_step : int
        Global optimizer steps taken before this epoch.

    Returns
    -------
    EpochResult
        Loss and weight summed over threads, steps taken, and the first
        failure status (with its unit) if a thread stopped early.
    """
    n_threads = len(scratches)
    input_table, dense_params, dense_state = network
    check_network_arrays(layout, input_table, dense_params, dense_state, int(config.optimizer))
    indptr, indices, data = engine_csr(csr, input_table.shape[0])
    _check_units(indptr.shape[0] - 1, targets, sample_weight, unit_bounds, block_bounds, block_order)
    shares = np.array_split(np.ascontiguousarray(block_order, dtype=np.int64), n_threads)
    stats = np.zeros((n_threads, N_STATS), dtype=np.float64)
    callback = no_loss_callback.dispatcher if loss_callback is None else loss_callback
    layout = readonly_layout(layout)
    batched_fields = uses_batched_fields(layout, int(config.batch_size), unit_bounds.size == 0)
    if batched_fields:
        kernel = _FIELDS_BATCHES_VARIANTS[int(config.optimizer)].dispatcher

        def work(t):
            kernel(indptr, indices, data, targets, sample_weight, block_bounds, shares[t],
                   input_table, dense_params, dense_state, layout, config, callback, scratches[t],
                   first_step + 1 + t, n_threads, stats[t])
    else:
        input_kind = layout.input_spec[SPEC_KIND]
        kernel = train_blocks_kernel(input_kind, config.optimizer,
                                     epoch_kernel_loss(input_kind, config.loss, config.use_callback)).dispatcher

        def work(t):
            kernel(indptr, indices, data, targets, sample_weight, unit_bounds, block_bounds, shares[t],
                   input_table, dense_params, dense_state, layout, config, callback, scratches[t],
                   first_step + 1 + t, n_threads, stats[t])

    if batched_fields:
        # Each Hogwild thread is one core's worth of work: a BLAS pool of
        # its own per matrix product would oversubscribe the cores.
        with threadpool_limits(limits=1, user_api="blas"):
            run_in_threads(work, n_threads)
    else:
        run_in_threads(work, n_threads)
    failed = np.flatnonzero(stats[:, STAT_STATUS] != STATUS_OK)
    status, bad_unit = STATUS_OK, -1
    if failed.size:
        status = int(stats[failed[0], STAT_STATUS])
        bad_unit = int(stats[failed[0], STAT_BAD_UNIT])
    else:
        # Every row current at the epoch's end: coefficients, validation
        # scores and pickles never depend on when a row was last touched.
        bring_rows_current(input_table, table_width(layout), first_step + int(stats[:, STAT_UPDATES].sum()),
                           config, n_threads)
    return EpochResult(float(stats[:, STAT_LOSS].sum()), float(stats[:, STAT_WEIGHT].sum()),
                       int(stats[:, STAT_UPDATES].sum()), status, bad_unit)


def engine_csr(csr, n_columns, n_rows=None):
    """The ``(indptr, indices, data)`` a kernel may index a table of ``n_columns`` rows with.

    A ``CheckedCSR`` within ``n_columns`` is used as it is (O(1)); any other
    tuple of arrays gets ``check_csr``'s full O(nnz) pass, so that no caller
    can make a kernel read or write outside the table.
    """
    if not (isinstance(csr, CheckedCSR) and csr.n_columns <= n_columns):
        csr = check_csr(*csr[:3], n_columns, n_rows=n_rows)[0]
    elif n_rows is not None and csr.indptr.shape[0] != n_rows + 1:
        raise ValueError(f"indptr has {csr.indptr.shape[0]} entries for {n_rows} rows.")
    return csr.arrays


def check_network_arrays(layout, input_table, dense_params, dense_state=None, optimizer=None):
    """Refuse network arrays that disagree with ``layout`` (or the optimizer), in O(layers).

    The kernels index ``input_table``, ``dense_params`` and ``dense_state``
    by the layout's sizes and offsets without bounds checks; a truncated or
    edited model, or a state from another optimizer, must fail here instead.

    Parameters
    ----------
    layout : NetworkLayout
    input_table : float32 ndarray of shape (n_features, width)
    dense_params : float32 ndarray
    dense_state : float32 ndarray, default=None
        Checked with ``optimizer`` (training only).
    optimizer : int, default=None
        Its code; training needs the table's state columns and stamp.

    Raises
    ------
    ValueError
    """
    width = table_width(layout)
    for name, array, ndim in (("input_table", input_table, 2), ("dense_params", dense_params, 1),
                              ("dense_state", dense_state, 1)):
        if array is None:
            continue
        if not (isinstance(array, np.ndarray) and array.ndim == ndim and array.dtype == np.float32
                and array.flags.c_contiguous):
            raise ValueError(f"the network's {name} must be a C-contiguous float32 array of {ndim} "
                             f"dimension(s), got {getattr(array, 'dtype', type(array))} of shape "
                             f"{np.shape(array)}.")
    sizes = layout.layer_sizes.tolist()
    if min(sizes) < 1 or width < 1:
        raise ValueError(f"the network's layer sizes {sizes} and table width {width} must be positive.")
    n_dense = n_dense_params(layout)
    if dense_params.shape[0] != n_dense:
        raise ValueError(f"the network's dense_params holds {dense_params.shape[0]} values; its layer "
                         f"sizes {sizes} need {n_dense}.")
    for weights, biases, chain in ((layout.weight_offsets.tolist(), layout.bias_offsets.tolist(), sizes),
                                   (layout.bottom_weight_offsets.tolist(), layout.bottom_bias_offsets.tolist(),
                                    layout.bottom_sizes.tolist())):
        if len(weights) < len(chain) or len(biases) < len(chain):
            raise ValueError("the network's layout has fewer offsets than layers.")
        for layer in range(1, len(chain)):
            if (not 0 <= weights[layer] <= n_dense - chain[layer - 1] * chain[layer]
                    or not 0 <= biases[layer] <= n_dense - chain[layer]):
                raise ValueError(f"the network's layout places layer {layer} outside its {n_dense} dense "
                                 f"parameters.")
    need = width if optimizer is None else width + input_state_width(optimizer, width)
    if input_table.shape[1] < need or (optimizer is not None and input_table.shape[1] != need):
        raise ValueError(
            f"the network's input_table has {input_table.shape[1]} columns; its layer sizes"
            f"{'' if optimizer is None else ' and optimizer'} need {need}.")
    if layout.input_spec[SPEC_KIND] == INPUT_FIELDS and layout.column_role.shape[0] != input_table.shape[0]:
        raise ValueError(f"the network's field map covers {layout.column_role.shape[0]} columns but its "
                         f"input_table has {input_table.shape[0]} rows.")
    if dense_state is not None and dense_state.shape[0] != dense_state_width(optimizer) * n_dense:
        raise ValueError(f"the network's dense_state holds {dense_state.shape[0]} values; the optimizer "
                         f"needs {dense_state_width(optimizer) * n_dense}.")


def _check_units(n_rows, targets, sample_weight, unit_bounds, block_bounds, block_order):
    """O(units) checks that every row and unit index ``train_blocks`` derives is in range."""
    if targets.ndim != 2 or targets.shape[0] != n_rows or sample_weight.shape != (n_rows,):
        raise ValueError(f"{n_rows} rows need targets of {n_rows} rows and {n_rows} sample weights, got "
                         f"{targets.shape} and {sample_weight.shape}.")
    if unit_bounds.shape[0]:
        if unit_bounds[0] != 0 or unit_bounds[-1] != n_rows or np.any(np.diff(unit_bounds) < 0):
            raise ValueError("unit_bounds must run from 0 to the row count, non-decreasing.")
        n_units = unit_bounds.shape[0] - 1
    else:
        n_units = n_rows
    if (block_bounds.shape[0] < 1 or block_bounds[0] < 0 or block_bounds[-1] > n_units
            or np.any(np.diff(block_bounds) < 0)):
        raise ValueError(f"block_bounds must lie in [0, {n_units}], non-decreasing.")
    n_blocks = block_bounds.shape[0] - 1
    if block_order.shape[0] and (block_order.min() < 0 or block_order.max() >= n_blocks):
        raise ValueError(f"block_order must name blocks in [0, {n_blocks}).")


def bring_rows_current(input_table, n_weights, step, config, n_threads=1):
    """Bring every input-table row up to global ``step``: the lazy penalty of every step it missed.

    See ``optimizers.regularization``.  With no penalty (``alpha == l1 ==
    0``) only the stamps move, so that a later fit with a penalty does not
    charge the steps trained without one; FTRL's catch-up (which recomputes
    the weights from the state, ``optimizers.ftrl``) runs either way.

    Parameters
    ----------
    input_table : float32[:, ::1], changed in place
    n_weights : int
        Weights per row (``network.table_width``).
    step : int
        Global optimizer steps taken so far.
    config : TrainConfig
    n_threads : int
    """
    if step > MAX_PENALTY_STEPS:
        raise ValueError(
            f"{step} optimizer steps exceed the {MAX_PENALTY_STEPS} a model can count; fit with a "
            f"larger batch_size, or fewer epochs per model.")
    stamps = input_table.view(np.int32)
    if not (config.alpha > 0.0 or config.l1 > 0.0) and int(config.optimizer) not in CATCH_UP_WITHOUT_PENALTY:
        stamps[:, -1] = step
        return
    kernel = CATCH_UP_ROWS[int(config.optimizer)]
    n_rows = input_table.shape[0]
    # Sequential and cheap next to an epoch: threads only for large tables.
    n_threads = max(1, min(n_threads, n_rows // 65536))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(np.int64)

    def work(t):
        kernel(input_table, bounds[t], bounds[t + 1], n_weights, np.int64(step), config)

    if n_threads == 1:
        work(0)
    else:
        run_in_threads(work, n_threads)


def run_in_threads(work, n_threads):
    """Call ``work(t)`` for ``t`` in ``range(n_threads)``, in parallel threads.

    One thread runs in the caller's thread, with no thread started.  The first
    exception raised by any call is re-raised here after all have finished.
    """
    if n_threads == 1:
        work(0)
        return
    errors = [None] * n_threads

    def guarded(t):
        try:
            work(t)
        except BaseException as exc:  # re-raised in the caller below
            errors[t] = exc

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in range(1, n_threads)]
    for thread in threads:
        thread.start()
    guarded(0)
    for thread in threads:
        thread.join()
    for exc in errors:
        if exc is not None:
            raise exc


# Rows below which predict stays on the calling thread: starting threads costs
# more than the work (and single-row serving must stay cheap).
MIN_ROWS_PER_PREDICT_THREAD = 4096


def predict_outputs(csr, n_rows, input_table, dense_params, layout, activation, n_threads):
    """Network outputs for every row of a CSR matrix, sharded over threads.

    Returns
    -------
    out : ndarray of float32, shape (n_rows, n_outputs)
    """
    check_network_arrays(layout, input_table, dense_params)
    indptr, indices, data = engine_csr(csr, input_table.shape[0], n_rows)
    n_outputs = int(layout.layer_sizes[-1])
    out = np.empty((n_rows, n_outputs), dtype=np.float32)
    n_threads = max(1, min(n_threads, n_rows // MIN_ROWS_PER_PREDICT_THREAD))
    bounds = [0, n_rows] if n_threads == 1 else np.linspace(0, n_rows, n_threads + 1).astype(np.int64)
    layout = readonly_layout(layout)
    kernel = predict_rows_kernel(layout.input_spec[SPEC_KIND]).dispatcher

    def work(t):
        kernel(indptr, indices, data, bounds[t], bounds[t + 1], input_table, dense_params,
               layout, activation, out)

    run_in_threads(work, n_threads)
    return out
