"""DLRM's epoch with matrix-matrix dense layers: a mini-batch of rows at a time per thread.

The row-by-row epoch (``hogwild._train_blocks``) runs every dense layer as a
matrix-vector product per row and only averages the gradients of a batch.
For a fields input layer (``network.INPUT_FIELDS``) with ``batch_size > 1``
this kernel runs the same arithmetic batch-wide, so the MLPs become
BLAS-sized work:

1. per row (sparse): the dense columns and the pooled embedding of each field
   into the batch's matrices;
2. the bottom MLP as ``(n x h_in) @ (h_in x h_out)`` products;
3. the interaction batch-wide: the vectors are stored in tiles of
   ``ROW_TILE`` rows, ``(tile, vector, d, row)``, and the interaction's output
   transposed, ``(h0, row)``, so each pairwise dot product is a loop over
   rows, which LLVM vectorises (a dot product of ``d`` values is a
   sequential sum it may not reorder); a tile's vectors and their gradients
   stay in the L2 cache, where a whole batch of 1024 rows would not;
4. the top MLP as matrix products (its first layer reads the transposed
   interaction), the loss per row;
5. backward likewise: ``dW = A.T @ dZ`` once per batch and
   ``dA = dZ @ W.T``; the interaction's gradient batch-wide, then each row's
   field vectors summed per table row in the mini-batch hash table
   (``minibatch``);
6. one optimizer step (``minibatch.apply_step``): dense parameters once,
   each touched table row once (row-wise AdaGrad or any other rule).

Rows are batched in the order the row-by-row epoch visits them and every
row of a batch sees the parameters as they were at its start, so both epochs
take the same steps up to float32 rounding (the sum order differs).  A batch
is closed early if its non-zeros could overflow the hash table (at most 2**20
features; ``hogwild.make_thread_scratch`` sizes the batch matrices by it):
only then do the two epochs group rows differently.

``np.dot`` on contiguous float32 matrices calls BLAS (scipy's ``sgemm``).  Each
thread's batch matrices are views into one flat buffer made once per fit
(``batch_buffer``, sized by ``batch_buffer_length``); a shorter last batch
uses the leading rows of each.
"""

import math

import numba
import numpy as np

from .epoch_stats import (
    STAT_BAD_UNIT,
    STAT_LOSS,
    STAT_STATUS,
    STAT_UPDATES,
    STAT_WEIGHT,
    STATUS_NONFINITE_GRADIENT,
    STATUS_NONFINITE_LOSS,
    STATUS_OK,
)
from .kernels import LOGISTIC, RELU, TANH, activation_derivative
from .minibatch import accumulate_input_gradient, apply_step
from .network import INTERACTION_DOT, SPEC_INTERACTION, SPEC_N_FIELDS, SPEC_TABLE_WIDTH
from .objectives import unit_loss
from .prefetch import PREFETCH_ROWS_AHEAD, prefetch_row_features

# Rows per tile of the interaction's vectors: 64 rows of 27 vectors of 16
# floats are 110 kB, so a tile and its gradients stay in L2.
ROW_TILE = 64


def batch_buffer_length(layout, batch_size):
    """Floats of one thread's batch matrices for ``batch_size`` rows.

    Per row: the bottom MLP's layers (the dense columns first), the
    interaction vectors and their gradients, the top MLP's layers, and two
    back-propagation buffers as wide as the widest layer.
    """
    d = int(layout.input_spec[SPEC_TABLE_WIDTH])
    bottom = layout.bottom_sizes
    n_vectors = int(layout.input_spec[SPEC_N_FIELDS]) + int(bottom.size > 0)
    widest = int(max(np.max(layout.layer_sizes), np.max(bottom, initial=1)))
    per_row = int(np.sum(bottom)) + int(np.sum(layout.layer_sizes)) + 2 * widest
    return batch_size * per_row + 2 * _tiled(batch_size) * n_vectors * d


@numba.njit(nogil=True, cache=True, inline="always")
def _tiled(n_rows):
    """``n_rows`` rounded up to whole tiles."""
    return (n_rows + ROW_TILE - 1) // ROW_TILE * ROW_TILE


@numba.njit(nogil=True, cache=True, inline="always")
def _matrix(buffer, start, n_rows, n_columns):
    """``buffer[start:]`` as a C-contiguous ``(n_rows, n_columns)`` matrix (a view)."""
    return buffer[start : start + n_rows * n_columns].reshape(n_rows, n_columns)


@numba.njit(nogil=True, cache=True, inline="always")
def _vectors(buffer, start, n_tiles, n_vectors, d):
    """``buffer[start:]`` as a C-contiguous ``(n_tiles, n_vectors, d, ROW_TILE)`` array (a view)."""
    return buffer[start : start + n_tiles * n_vectors * d * ROW_TILE].reshape(n_tiles, n_vectors, d, ROW_TILE)


# The element-wise helpers below index slices from 0: with an offset added at
# run time, Numba's negative-index wraparound puts a select in every access and
# LLVM no longer vectorises the loop (about 10x slower on these matrices).


@numba.njit(nogil=True, cache=True, inline="always")
def _add_bias_and_activate(values, n_rows, n_columns, params, bias_start, code, activated):
    bias = params[bias_start : bias_start + n_columns]
    if not activated:
        code = -1
    for r in range(n_rows):
        row = values[r]
        # The hidden activations of kernels.activate, on a matrix; the branch
        # is outside the loop so that each loop vectorises.
        if code == RELU:
            for o in range(n_columns):
                row[o] = max(np.float32(0.0), row[o] + bias[o])
        elif code == TANH:
            for o in range(n_columns):
                row[o] = math.tanh(row[o] + bias[o])
        elif code == LOGISTIC:
            for o in range(n_columns):
                row[o] = 1.0 / (1.0 + math.exp(-(row[o] + bias[o])))
        else:
            for o in range(n_columns):
                row[o] += bias[o]


@numba.njit(nogil=True, cache=True, inline="always")
def _sum_rows_into(values, n_rows, n_columns, out, out_start):
    """``out[out_start + o] = sum_r values[r, o]`` (a bias gradient, written once per batch)."""
    total = out[out_start : out_start + n_columns]
    for o in range(n_columns):
        total[o] = 0.0
    for r in range(n_rows):
        for o in range(n_columns):
            total[o] += values[r, o]


@numba.njit(nogil=True, cache=True, inline="always")
def _scale_by_derivative(deltas, outputs, n_rows, n_columns, code):
    if code == RELU:
        for r in range(n_rows):
            for o in range(n_columns):
                if not outputs[r, o] > 0.0:
                    deltas[r, o] = 0.0
    else:
        for r in range(n_rows):
            for o in range(n_columns):
                deltas[r, o] *= activation_derivative(code, outputs[r, o])


def make_train_fields_batches(rules):
    """The batched fields epoch's source for one optimizer (its module, ``optimizers.OPTIMIZER_RULES``).

    ``rules`` is a free variable of the returned function, a compile-time
    constant: the kernel inlines that optimizer's step only (see
    ``hogwild._make_train_blocks``).
    """

    def train_fields_batches(indptr, indices, data, targets, sample_weight, block_bounds, block_order,
                             input_table, dense_params, dense_state, layout, config, loss_callback, scratch,
                             first_step, step_stride, stats):
        """Train on the rows of the given blocks, ``len(scratch.batch_rows)`` rows a step (at most).

        The arguments are the epoch kernel's (``hogwild.train_blocks_kernel``) but ``unit_bounds``:
        every row is a unit.  ``scratch`` must come from
        ``hogwild.make_thread_scratch`` for a layout and batch size that
        ``hogwild.uses_batched_fields``; hogwild compiles this function with that
        signature.  Dense gradients are written (not accumulated) once per batch
        into ``scratch.dense_grad``, which ``apply_step`` leaves at zero.
        """
        # Unpacked once: every access to a tuple's array field costs reference counting.
        pred = scratch.pred
        grad = scratch.grad
        target = scratch.target
        weight = scratch.weight
        dense_grad = scratch.dense_grad
        vector_grad = scratch.vector_grad
        slot_feature = scratch.slot_feature
        slot_position = scratch.slot_position
        slot_grad = scratch.slot_grad
        slot_scale = scratch.slot_scale
        hash_slots = scratch.hash_slots
        batch_rows = scratch.batch_rows
        batch_has_gradient = scratch.batch_has_gradient
        buffer = scratch.batch_buffer
        spec = layout.input_spec
        d = spec[SPEC_TABLE_WIDTH]
        n_fields = spec[SPEC_N_FIELDS]
        dot_interaction = spec[SPEC_INTERACTION] == INTERACTION_DOT
        sizes = layout.layer_sizes
        n_layers = sizes.shape[0]
        h0 = sizes[0]
        bottom = layout.bottom_sizes
        n_bottom = bottom.shape[0]
        has_bottom = n_bottom > 0
        first_field = 1 if has_bottom else 0
        n_vectors = n_fields + first_field
        n_dense = bottom[0] if has_bottom else 0
        role = layout.column_role
        activation = config.activation
        n_outputs = config.n_outputs
        n_targets = config.n_targets
        capacity = batch_rows.shape[0]
        table_capacity = slot_feature.shape[0]
        # Where each batch matrix starts in ``buffer`` (``capacity`` rows each).
        bottom_total = 0
        for layer in range(n_bottom):
            bottom_total += bottom[layer]
        top_total = 0
        widest = 1
        for layer in range(n_layers):
            top_total += sizes[layer]
            widest = max(widest, sizes[layer])
        for layer in range(n_bottom):
            widest = max(widest, bottom[layer])
        vectors_start = capacity * bottom_total
        top_start = vectors_start + _tiled(capacity) * n_vectors * d
        delta_starts = (top_start + capacity * top_total, top_start + capacity * (top_total + widest))
        vector_grads_start = top_start + capacity * (top_total + 2 * widest)
        bottom_offsets = layout.bottom_activation_offsets
        top_offsets = layout.activation_offsets
        loss_sum = 0.0
        weight_sum = 0.0
        step = first_step
        n_steps = 0
        n_rows = 0
        batch_nnz = 0
        n_blocks = block_order.shape[0]
        b = 0
        unit = block_bounds[block_order[0]] if n_blocks > 0 else 0
        stats[STAT_STATUS] = STATUS_OK
        while True:
            # Collect the next row, or close the batch: it is full, the rows ran
            # out, or the next row's non-zeros could overflow the hash table.
            row = -1
            while b < n_blocks:
                if unit < block_bounds[block_order[b] + 1]:
                    row = unit
                    break
                b += 1
                if b < n_blocks:
                    unit = block_bounds[block_order[b]]
            row_nnz = indptr[row + 1] - indptr[row] if row >= 0 else 0
            if row >= 0 and n_rows < capacity and (n_rows == 0 or batch_nnz + row_nnz <= table_capacity):
                batch_rows[n_rows] = row
                n_rows += 1
                batch_nnz += row_nnz
                unit += 1
                continue
            if n_rows == 0:
                break
            n = n_rows

            # 1. Dense columns and pooled embeddings, per row.
            dense_values = _matrix(buffer, 0, n, max(n_dense, 1))
            n_tiles = _tiled(n) // ROW_TILE
            vectors = _vectors(buffer, vectors_start, n_tiles, n_vectors, d)
            for t in range(n_tiles):
                for a in range(n_vectors):
                    for c in range(d):
                        for i in range(ROW_TILE):
                            vectors[t, a, c, i] = 0.0
            for r in range(n):
                if r + PREFETCH_ROWS_AHEAD < n:
                    prefetch_row_features(indptr, indices, batch_rows[r + PREFETCH_ROWS_AHEAD], input_table)
                row = batch_rows[r]
                for c in range(n_dense):
                    dense_values[r, c] = 0.0
                for p in range(indptr[row], indptr[row + 1]):
                    feature = indices[p]
                    x = data[p]
                    field = role[feature]
                    if field < 0:
                        dense_values[r, -1 - field] += x
                    else:
                        vector = first_field + field
                        for c in range(d):
                            vectors[r // ROW_TILE, vector, c, r % ROW_TILE] += x * input_table[feature, c]

            # 2. The bottom MLP, every layer activated; its output is vector 0.
            for layer in range(1, n_bottom):
                n_in = bottom[layer - 1]
                n_out = bottom[layer]
                inputs = _matrix(buffer, capacity * bottom_offsets[layer - 1], n, n_in)
                outputs = _matrix(buffer, capacity * bottom_offsets[layer], n, n_out)
                np.dot(inputs, _matrix(dense_params, layout.bottom_weight_offsets[layer], n_in, n_out), outputs)
                _add_bias_and_activate(outputs, n, n_out, dense_params, layout.bottom_bias_offsets[layer],
                                       activation, True)
            if has_bottom:
                bottom_out = _matrix(buffer, capacity * bottom_offsets[n_bottom - 1], n, d)
                for r in range(n):
                    for c in range(d):
                        vectors[r // ROW_TILE, 0, c, r % ROW_TILE] = bottom_out[r, c]

            # 3. The interaction, transposed (layer 0 of the top, not activated).
            interaction = _matrix(buffer, top_start, h0, n)
            for c in range(h0):
                bias = dense_params[c]
                for r in range(n):
                    interaction[c, r] = bias
            # Per tile, each output row's columns of the tile as a view indexed
            # from 0 (see _add_bias_and_activate); its loop over rows vectorises.
            for t in range(n_tiles):
                first = t * ROW_TILE
                m = min(ROW_TILE, n - first)
                if dot_interaction:
                    position = 0
                    if has_bottom:
                        for c in range(d):
                            out = interaction[c, first : first + m]
                            for i in range(m):
                                out[i] += vectors[t, 0, c, i]
                        position = d
                    for a in range(1, n_vectors):
                        for b_vector in range(a):
                            out = interaction[position, first : first + m]
                            for c in range(d):
                                for i in range(m):
                                    out[i] += vectors[t, a, c, i] * vectors[t, b_vector, c, i]
                            position += 1
                else:
                    for a in range(n_vectors):
                        for c in range(d):
                            out = interaction[a * d + c, first : first + m]
                            for i in range(m):
                                out[i] += vectors[t, a, c, i]

            # 4. The top MLP; the output layer is linear.
            for layer in range(1, n_layers):
                n_in = sizes[layer - 1]
                n_out = sizes[layer]
                outputs = _matrix(buffer, top_start + capacity * top_offsets[layer], n, n_out)
                weights = _matrix(dense_params, layout.weight_offsets[layer], n_in, n_out)
                if layer == 1:
                    np.dot(interaction.T, weights, outputs)
                else:
                    np.dot(_matrix(buffer, top_start + capacity * top_offsets[layer - 1], n, n_in), weights, outputs)
                _add_bias_and_activate(outputs, n, n_out, dense_params, layout.bias_offsets[layer],
                                       activation, layer < n_layers - 1)

            # The loss, per row; its gradient is the top's first delta matrix.
            network_out = _matrix(buffer, top_start + capacity * top_offsets[n_layers - 1], n, n_outputs)
            current = 0
            deltas = _matrix(buffer, delta_starts[current], n, n_outputs)
            for r in range(n):
                row = batch_rows[r]
                for o in range(n_outputs):
                    pred[o] = network_out[r, o]
                for t in range(n_targets):
                    target[t] = targets[row, t]
                weight[0] = sample_weight[row]
                weight_sum += sample_weight[row]
                loss = unit_loss(config.loss, config.use_callback, loss_callback, pred, target, weight, grad,
                                 1, n_outputs, n_targets, config.huber_delta)
                if not math.isfinite(loss):
                    stats[STAT_STATUS] = STATUS_NONFINITE_LOSS
                    stats[STAT_BAD_UNIT] = row
                    return
                loss_sum += loss
                batch_has_gradient[r] = False
                for o in range(n_outputs):
                    g = grad[o]
                    if not math.isfinite(g):
                        stats[STAT_STATUS] = STATUS_NONFINITE_GRADIENT
                        stats[STAT_BAD_UNIT] = row
                        return
                    deltas[r, o] = g
                    if g != 0.0:
                        batch_has_gradient[r] = True

            # 5. Backward through the top MLP: dW = A.T @ dZ, dA = dZ @ W.T; for
            # the first layer, whose input is the transposed interaction,
            # dW = I @ dZ and dI = W @ dZ.T (transposed too).
            for layer in range(n_layers - 1, 0, -1):
                n_in = sizes[layer - 1]
                n_out = sizes[layer]
                weights = _matrix(dense_params, layout.weight_offsets[layer], n_in, n_out)
                weight_grad = _matrix(dense_grad, layout.weight_offsets[layer], n_in, n_out)
                _sum_rows_into(deltas, n, n_out, dense_grad, layout.bias_offsets[layer])
                if layer == 1:
                    np.dot(interaction, deltas, weight_grad)
                    np.dot(weights, deltas.T, _matrix(buffer, delta_starts[1 - current], n_in, n))
                else:
                    inputs = _matrix(buffer, top_start + capacity * top_offsets[layer - 1], n, n_in)
                    np.dot(inputs.T, deltas, weight_grad)
                    back = _matrix(buffer, delta_starts[1 - current], n, n_in)
                    np.dot(deltas, weights.T, back)
                    _scale_by_derivative(back, inputs, n, n_in, activation)
                    deltas = back
                current = 1 - current
            interaction_grad = _matrix(buffer, delta_starts[current], h0, n)
            for c in range(h0):
                total = np.float32(0.0)
                for r in range(n):
                    total += interaction_grad[c, r]
                dense_grad[c] = total

            # The interaction's gradient, batch-wide like its forward pass.
            vector_grads = _vectors(buffer, vector_grads_start, n_tiles, n_vectors, d)
            for t in range(n_tiles):
                first = t * ROW_TILE
                m = min(ROW_TILE, n - first)
                for a in range(n_vectors):
                    for c in range(d):
                        for i in range(m):
                            vector_grads[t, a, c, i] = 0.0
                if dot_interaction:
                    position = 0
                    if has_bottom:
                        for c in range(d):
                            grad_in = interaction_grad[c, first : first + m]
                            for i in range(m):
                                vector_grads[t, 0, c, i] = grad_in[i]
                        position = d
                    for a in range(1, n_vectors):
                        for b_vector in range(a):
                            grad_in = interaction_grad[position, first : first + m]
                            for c in range(d):
                                for i in range(m):
                                    vector_grads[t, a, c, i] += grad_in[i] * vectors[t, b_vector, c, i]
                                    vector_grads[t, b_vector, c, i] += grad_in[i] * vectors[t, a, c, i]
                            position += 1
                else:
                    for a in range(n_vectors):
                        for c in range(d):
                            grad_in = interaction_grad[a * d + c, first : first + m]
                            for i in range(m):
                                vector_grads[t, a, c, i] = grad_in[i]
            bottom_deltas = _matrix(buffer, delta_starts[1 - current], n, max(d, 1))
            if has_bottom:
                for r in range(n):
                    for c in range(d):
                        t = r // ROW_TILE
                        i = r % ROW_TILE
                        bottom_deltas[r, c] = vector_grads[t, 0, c, i] * activation_derivative(activation,
                                                                                             vectors[t, 0, c, i])

            # Each field's table rows get x_j times their pooled vector's
            # gradient, summed per table row.
            n_slots = 0
            for r in range(n):
                if not batch_has_gradient[r]:
                    continue  # as the row-by-row epoch: no slot for a row without gradient
                for a in range(first_field, n_vectors):
                    for c in range(d):
                        vector_grad[a, c] = vector_grads[r // ROW_TILE, a, c, r % ROW_TILE]
                row = batch_rows[r]
                for p in range(indptr[row], indptr[row + 1]):
                    field = role[indices[p]]
                    if field >= 0:
                        n_slots = accumulate_input_gradient(hash_slots, slot_feature, slot_position, slot_grad,
                                                            n_slots, indices[p], data[p], vector_grad,
                                                            first_field + field, d)

            # Backward through the bottom MLP.
            deltas = bottom_deltas
            current = 1 - current
            for layer in range(n_bottom - 1, 0, -1):
                n_in = bottom[layer - 1]
                n_out = bottom[layer]
                inputs = _matrix(buffer, capacity * bottom_offsets[layer - 1], n, n_in)
                weights = _matrix(dense_params, layout.bottom_weight_offsets[layer], n_in, n_out)
                np.dot(inputs.T, deltas, _matrix(dense_grad, layout.bottom_weight_offsets[layer], n_in, n_out))
                _sum_rows_into(deltas, n, n_out, dense_grad, layout.bottom_bias_offsets[layer])
                if layer > 1:
                    back = _matrix(buffer, delta_starts[1 - current], n, n_in)
                    np.dot(deltas, weights.T, back)
                    _scale_by_derivative(back, inputs, n, n_in, activation)
                    current = 1 - current
                    deltas = back

            # 6. One optimizer step for the batch (it zeroes dense_grad).
            apply_step(rules, input_table, dense_params, dense_state, layout, config, dense_grad,
                       hash_slots, slot_feature, slot_position, slot_grad, slot_scale, n_slots, n, step)
            step += step_stride
            n_steps += 1
            n_rows = 0
            batch_nnz = 0
        stats[STAT_LOSS] = loss_sum
        stats[STAT_WEIGHT] = weight_sum
        stats[STAT_UPDATES] = n_steps

    return train_fields_batches
