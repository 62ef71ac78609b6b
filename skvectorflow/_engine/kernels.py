"""Forward, backward and predict kernels for one row, with no allocation.

A row of a CSR matrix enters the sparse input layer as a gather over its
non-zeros, ``z0 = b0 + sum_k x_k * W0[j_k]``; dense layers follow as
matrix-vector products.  Hidden layers apply the network's activation; the
output layer is linear (the estimator applies its link function).

Activation derivatives are written in terms of the activation's *output*
``a`` (relu: ``a > 0``; tanh: ``1 - a**2``), so pre-activations are never
stored.  Activations of a unit's rows live in a per-thread scratch buffer
``activations[row_in_unit, activation_offsets[l] + i]``.

A factorization input layer (``network.INPUT_FACTORIZATION``) computes the
bi-interaction vector instead of the sum, keeps the row's sums
``[sum_k x_k w_k | sum_k x_k v_k]`` in a per-slot scratch row (``input_sums``)
for its backward pass, and adds the linear term to the outputs; its layer 0
is not activated (the bi-interaction vector is already non-linear in x).

The input layer's backward pass stops at ``delta0`` (the gradient with respect
to ``z0``): the caller turns it into sparse updates of the touched rows
``W0[j_k] -= step * x_k * delta0``, so its cost is proportional to the row's
non-zeros, never to ``n_features``.
"""

import math

import numba
import numpy as np

from .compilation import KernelOnFirstUse
from .prefetch import PREFETCH_ROWS_AHEAD, prefetch_row_weights
from .network import FLOAT_2D, INPUT_FACTORIZATION, INPUT_FIELDS, INPUT_SUM, INTERACTION_DOT
from .network import READONLY_FLOAT_1D, READONLY_FLOAT_2D, READONLY_INT32_1D, READONLY_INT64_1D
from .network import SPEC_INTERACTION, SPEC_N_FIELDS, SPEC_SCRATCH_WIDTH
from .network import SPEC_TABLE_WIDTH, NetworkLayout, readonly_layout

IDENTITY = 0
RELU = 1
TANH = 2
LOGISTIC = 3
ACTIVATION_CODES = {"identity": IDENTITY, "relu": RELU, "tanh": TANH, "logistic": LOGISTIC}


@numba.njit(nogil=True, cache=True, inline="always")
def activate(code, values, slot, start, stop):
    """Apply activation ``code`` in place to ``values[slot, start:stop]``."""
    if code == RELU:
        for i in range(start, stop):
            if values[slot, i] < 0.0:
                values[slot, i] = 0.0
    elif code == TANH:
        for i in range(start, stop):
            values[slot, i] = math.tanh(values[slot, i])
    elif code == LOGISTIC:
        for i in range(start, stop):
            values[slot, i] = 1.0 / (1.0 + math.exp(-values[slot, i]))


@numba.njit(nogil=True, cache=True, inline="always")
def activation_derivative(code, output):
    """Derivative of activation ``code`` at the point whose output is ``output``."""
    if code == RELU:
        return 1.0 if output > 0.0 else 0.0
    if code == TANH:
        return 1.0 - output * output
    if code == LOGISTIC:
        return output * (1.0 - output)
    return 1.0


@numba.njit(nogil=True, cache=True, inline="always")
def factorization_input_layer(indptr, indices, data, row, input_table, dense_params, h0, n_linear,
                              out, slot, input_sums):
    """Bi-interaction vector of one row into ``out[slot, :h0]``, and its sums into ``input_sums[slot]``.

    ``out[slot, c] = b0_c + (s_c**2 - sum_k (x_k v_kc)**2) / 2`` with
    ``s_c = sum_k x_k v_kc``; ``input_sums[slot] = [sum_k x_k w_k (n_linear) | s (h0)]``.
    """
    for c in range(n_linear + h0):
        input_sums[slot, c] = 0.0
    for c in range(h0):
        out[slot, c] = 0.0  # the sum of squares, until the end
    for p in range(indptr[row], indptr[row + 1]):
        feature = indices[p]
        x = data[p]
        for o in range(n_linear):
            input_sums[slot, o] += x * input_table[feature, o]
        for c in range(h0):
            xv = x * input_table[feature, n_linear + c]
            input_sums[slot, n_linear + c] += xv
            out[slot, c] += xv * xv
    for c in range(h0):
        total = input_sums[slot, n_linear + c]
        out[slot, c] = dense_params[c] + 0.5 * (total * total - out[slot, c])


@numba.njit(nogil=True, cache=True, inline="always")
def factorization_nonzero_gradient(input_table, feature, x, input_sums, slot, delta0, output_grad,
                                   output_start, h0, n_linear, out_row):
    """Gradient of a table row for one non-zero ``x`` of feature ``feature``, divided by ``x``.

    Writes ``[dL/dout (n_linear) | delta0_c * (s_c - x v_c) (h0)]`` into
    ``out_row[0]``; the caller scales it by ``x`` in the update (the same
    contract as the sum layer's ``x * delta0``).
    """
    for o in range(n_linear):
        out_row[0, o] = output_grad[output_start + o]
    for c in range(h0):
        out_row[0, n_linear + c] = delta0[slot, c] * (
            input_sums[slot, n_linear + c] - x * input_table[feature, n_linear + c])


@numba.njit(nogil=True, cache=True, inline="always")
def field_vector_start(layout, vector):
    """Start of interaction vector ``vector`` in a row of a fields layer's scratch.

    With a bottom MLP, vector 0 is its output and vector ``f + 1`` field
    ``f``'s pooled embedding; without, vector ``f`` is field ``f``'s.
    """
    bottom = layout.bottom_sizes
    n_bottom = bottom.shape[0]
    pooled_start = 0
    for layer in range(n_bottom):
        pooled_start += bottom[layer]
    if n_bottom == 0:
        return pooled_start + vector * layout.input_spec[SPEC_TABLE_WIDTH]
    if vector == 0:
        return layout.bottom_activation_offsets[n_bottom - 1]
    return pooled_start + (vector - 1) * layout.input_spec[SPEC_TABLE_WIDTH]


@numba.njit(nogil=True, cache=True, inline="always")
def fields_input_layer(indptr, indices, data, row, input_table, dense_params, layout, activation,
                       out, slot, scratch):
    """DLRM's input for one row: pooling, bottom MLP and interaction into ``out[slot, :h0]``.

    ``scratch[slot]`` receives the dense columns' values, every bottom layer's
    outputs and the pooled embeddings (kept for the backward pass).
    """
    d = layout.input_spec[SPEC_TABLE_WIDTH]
    bottom = layout.bottom_sizes
    n_bottom = bottom.shape[0]
    n_vectors = layout.input_spec[SPEC_N_FIELDS] + (1 if n_bottom > 0 else 0)
    for c in range(layout.input_spec[SPEC_SCRATCH_WIDTH]):
        scratch[slot, c] = 0.0
    pooled_start = field_vector_start(layout, 1 if n_bottom > 0 else 0)
    role = layout.column_role
    for p in range(indptr[row], indptr[row + 1]):
        feature = indices[p]
        x = data[p]
        field = role[feature]
        if field < 0:
            scratch[slot, -1 - field] += x
        else:
            start = pooled_start + field * d
            for c in range(d):
                scratch[slot, start + c] += x * input_table[feature, c]
    for layer in range(1, n_bottom):
        n_in = bottom[layer - 1]
        n_out = bottom[layer]
        a_in = layout.bottom_activation_offsets[layer - 1]
        a_out = layout.bottom_activation_offsets[layer]
        w0 = layout.bottom_weight_offsets[layer]
        b0 = layout.bottom_bias_offsets[layer]
        for o in range(n_out):
            scratch[slot, a_out + o] = dense_params[b0 + o]
        for i in range(n_in):
            a = scratch[slot, a_in + i]
            if a != 0.0:
                w_row = w0 + i * n_out
                for o in range(n_out):
                    scratch[slot, a_out + o] += a * dense_params[w_row + o]
        activate(activation, scratch, slot, a_out, a_out + n_out)
    h0 = layout.layer_sizes[0]
    for c in range(h0):
        out[slot, c] = dense_params[c]
    if layout.input_spec[SPEC_INTERACTION] == INTERACTION_DOT:
        position = 0
        if n_bottom > 0:
            start = field_vector_start(layout, 0)
            for c in range(d):
                out[slot, c] += scratch[slot, start + c]
            position = d
        for a in range(1, n_vectors):
            start_a = field_vector_start(layout, a)
            for b in range(a):
                start_b = field_vector_start(layout, b)
                dot = 0.0
                for c in range(d):
                    dot += scratch[slot, start_a + c] * scratch[slot, start_b + c]
                out[slot, position] += dot
                position += 1
    else:
        for a in range(n_vectors):
            start_a = field_vector_start(layout, a)
            for c in range(d):
                out[slot, a * d + c] += scratch[slot, start_a + c]


@numba.njit(nogil=True, cache=True, inline="always")
def fields_backward(scratch, slot, dense_params, dense_grad, layout, activation, delta0, vector_grad,
                    deltas):
    """Back-propagate ``delta0[slot]`` through DLRM's interaction and bottom MLP.

    Writes the gradient of every interaction vector into ``vector_grad``
    (shape ``(n_vectors, d)``; a field's row is the gradient of its pooled
    embedding, so table row ``j`` of that field gets ``x_j`` times it) and
    accumulates the bottom MLP's parameter gradients into ``dense_grad``.
    """
    d = layout.input_spec[SPEC_TABLE_WIDTH]
    bottom = layout.bottom_sizes
    n_bottom = bottom.shape[0]
    n_vectors = layout.input_spec[SPEC_N_FIELDS] + (1 if n_bottom > 0 else 0)
    if layout.input_spec[SPEC_INTERACTION] == INTERACTION_DOT:
        for a in range(n_vectors):
            for c in range(d):
                vector_grad[a, c] = 0.0
        position = 0
        if n_bottom > 0:
            for c in range(d):
                vector_grad[0, c] = delta0[slot, c]
            position = d
        for a in range(1, n_vectors):
            start_a = field_vector_start(layout, a)
            for b in range(a):
                start_b = field_vector_start(layout, b)
                g = delta0[slot, position]
                if g != 0.0:
                    for c in range(d):
                        vector_grad[a, c] += g * scratch[slot, start_b + c]
                        vector_grad[b, c] += g * scratch[slot, start_a + c]
                position += 1
    else:
        for a in range(n_vectors):
            for c in range(d):
                vector_grad[a, c] = delta0[slot, a * d + c]
    if n_bottom == 0:
        return
    current = 0
    last = n_bottom - 1
    a_last = layout.bottom_activation_offsets[last]
    for c in range(d):
        deltas[current, c] = vector_grad[0, c] * activation_derivative(activation, scratch[slot, a_last + c])
    for layer in range(last, 0, -1):
        n_in = bottom[layer - 1]
        n_out = bottom[layer]
        a_in = layout.bottom_activation_offsets[layer - 1]
        w0 = layout.bottom_weight_offsets[layer]
        b0 = layout.bottom_bias_offsets[layer]
        nxt = 1 - current
        for o in range(n_out):
            dense_grad[b0 + o] += deltas[current, o]
        for i in range(n_in):
            a = scratch[slot, a_in + i]
            w_row = w0 + i * n_out
            back = 0.0
            for o in range(n_out):
                dense_grad[w_row + o] += a * deltas[current, o]
                back += dense_params[w_row + o] * deltas[current, o]
            if layer > 1:
                deltas[nxt, i] = back * activation_derivative(activation, a)
        current = nxt


@numba.njit(nogil=True, cache=True, inline="always")
def one_unit_sum(indptr, indices, data, row, input_table, bias):
    """``bias + sum_p data[p] * input_table[indices[p], 0]`` over CSR row ``row``.

    A sum layer of one unit (a linear model with one output), the sum kept in
    a register: ``sum_input_layer``'s general loop re-reads it from memory on
    every non-zero.
    """
    z = bias
    for p in range(indptr[row], indptr[row + 1]):
        z += data[p] * input_table[indices[p], 0]
    return z


@numba.njit(nogil=True, cache=True, inline="always")
def sum_input_layer(indptr, indices, data, row, input_table, dense_params, h0, out, slot):
    """The sum layer's pre-activation ``b0 + sum_k x_k W0[j_k]`` of one row into ``out[slot, :h0]``."""
    if h0 == 1:
        out[slot, 0] = one_unit_sum(indptr, indices, data, row, input_table, dense_params[0])
        return
    for c in range(h0):
        out[slot, c] = dense_params[c]
    for p in range(indptr[row], indptr[row + 1]):
        feature = indices[p]
        x = data[p]
        for c in range(h0):
            out[slot, c] += x * input_table[feature, c]


@numba.njit(nogil=True, cache=True, inline="always")
def dense_layers_forward(dense_params, layout, activation, out, slot, activate_input):
    """Layers 1, 2, ... of one row, from layer 0's output in ``out[slot]``.

    ``activate_input`` applies the hidden activation to layer 0 first (the
    sum layer's; interaction layers are not activated).  The last layer is
    linear.
    """
    sizes = layout.layer_sizes
    n_layers = sizes.shape[0]
    for layer in range(1, n_layers):
        n_in = sizes[layer - 1]
        n_out = sizes[layer]
        a_in = layout.activation_offsets[layer - 1]
        a_out = layout.activation_offsets[layer]
        b0 = layout.bias_offsets[layer]
        w0 = layout.weight_offsets[layer]
        # Each layer activates its input, so that ``activate`` has one call
        # site: every inlined copy is more code to compile.
        if layer > 1 or activate_input:
            activate(activation, out, slot, a_in, a_in + n_in)
        for o in range(n_out):
            out[slot, a_out + o] = dense_params[b0 + o]
        for i in range(n_in):
            a = out[slot, a_in + i]
            if a != 0.0:
                w_row = w0 + i * n_out
                for o in range(n_out):
                    out[slot, a_out + o] += a * dense_params[w_row + o]


@numba.njit(nogil=True, cache=True, inline="always")
def add_linear_term(layout, out, slot, input_sums, n_linear):
    """A factorization layer's linear term ``sum_k x_k w_k`` added to one row's outputs."""
    last = layout.activation_offsets[layout.layer_sizes.shape[0] - 1]
    for o in range(n_linear):
        out[slot, last + o] += input_sums[slot, o]


@numba.njit(nogil=True, cache=True, inline="always")
def backward_row(input_kind, activations, slot, dense_params, dense_grad, layout, activation, output_grad,
                 output_start, deltas, delta0):
    """Back-propagate one row's output gradient through the dense layers.

    Accumulates the gradient of every dense parameter (``+=``) into
    ``dense_grad`` and writes the gradient with respect to the input layer's
    pre-activation into ``delta0[slot]``; the input table is left to the
    caller.

    Parameters
    ----------
    input_kind : int
        ``layout.input_spec[SPEC_KIND]``, passed apart so that an epoch kernel
        specialised for one kind (``hogwild._make_train_blocks``) compiles
        only its branch.
    activations : float32[:, ::1], shape (n_slots, sum(layer_sizes))
        Row ``slot`` holds the row's layer outputs from the forward pass.
    slot : int
    dense_params : float32[::1]
    dense_grad : float32[::1], same length; accumulated
    layout : NetworkLayout
    activation : int
    output_grad : float32[::1]
        ``output_grad[output_start:][:n_outputs]`` is the gradient of the loss
        with respect to this row's network outputs.
    output_start : int
    deltas : float32[:, ::1], shape (2, max(layer_sizes))
        Scratch.
    delta0 : float32[:, ::1], shape (n_slots, h0); row ``slot`` written
    """
    sizes = layout.layer_sizes
    n_layers = sizes.shape[0]
    n_outputs = sizes[n_layers - 1]
    input_not_activated = input_kind != INPUT_SUM
    current = 0
    for o in range(n_outputs):
        deltas[current, o] = output_grad[output_start + o]
    for layer in range(n_layers - 1, 0, -1):
        n_in = sizes[layer - 1]
        n_out = sizes[layer]
        a_in = layout.activation_offsets[layer - 1]
        w0 = layout.weight_offsets[layer]
        b0 = layout.bias_offsets[layer]
        nxt = 1 - current
        for o in range(n_out):
            dense_grad[b0 + o] += deltas[current, o]
        for i in range(n_in):
            a = activations[slot, a_in + i]
            w_row = w0 + i * n_out
            back = 0.0
            for o in range(n_out):
                d = deltas[current, o]
                dense_grad[w_row + o] += a * d
                back += dense_params[w_row + o] * d
            if layer == 1 and input_not_activated:
                deltas[nxt, i] = back  # interaction layers are not activated
            else:
                deltas[nxt, i] = back * activation_derivative(activation, a)
        current = nxt
    h0 = sizes[0]
    for c in range(h0):
        delta0[slot, c] = deltas[current, c]
        dense_grad[c] += deltas[current, c]


def _make_predict_rows(input_kind):
    """The predict kernel's source for one input-layer kind (see ``hogwild._make_train_blocks``).

    ``input_kind`` is a free variable, compiled as a constant: each kind's
    kernel inlines its own input layer only.
    """

    def _predict_rows(indptr, indices, data, row_start, row_stop, input_table, dense_params, layout, activation,
                      out):
        """Network outputs of rows ``[row_start, row_stop)`` into ``out[row]``.

        Parameters
        ----------
        indptr : int64[::1]; indices : int32[::1]; data : float32[::1]
            The CSR matrix (read only).
        row_start, row_stop : int
        input_table : float32[:, ::1] (read only here)
        dense_params : float32[::1] (read only here)
        layout : NetworkLayout
        activation : int
        out : float32[:, ::1], shape (n_rows, n_outputs); rows in range are written

        Safe to call from many threads at once on disjoint row ranges of ``out``
        (or on different ``out`` arrays): it writes nothing else.  One scratch row
        is allocated per call, none per row.
        """
        sizes = layout.layer_sizes
        n_layers = sizes.shape[0]
        h0 = sizes[0]
        n_outputs = sizes[n_layers - 1]
        last = layout.activation_offsets[n_layers - 1]
        n_linear = layout.input_spec[1]
        scratch = np.empty((1, np.sum(sizes)), dtype=np.float32)
        input_sums = np.empty((1, layout.input_spec[SPEC_SCRATCH_WIDTH]), dtype=np.float32)
        n_weights = layout.input_spec[SPEC_TABLE_WIDTH]
        if input_kind == INPUT_SUM and n_layers == 1 and n_outputs == 1:
            # A linear model: its loop alone, without the per-row reads of
            # the layout (each an atomic reference count) and scratch.
            bias = dense_params[0]
            for row in range(row_start, row_stop):
                if row + PREFETCH_ROWS_AHEAD < row_stop:
                    prefetch_row_weights(indptr, indices, row + PREFETCH_ROWS_AHEAD, input_table, 1)
                out[row, 0] = one_unit_sum(indptr, indices, data, row, input_table, bias)
            return
        for row in range(row_start, row_stop):
            if row + PREFETCH_ROWS_AHEAD < row_stop:
                prefetch_row_weights(indptr, indices, row + PREFETCH_ROWS_AHEAD, input_table, n_weights)
            # The epoch kernel's forward pass, with the same dispatch on the
            # input layer's kind: it must sit in the kernel itself for Numba
            # to prune it before inlining.
            if input_kind == INPUT_FACTORIZATION:
                factorization_input_layer(indptr, indices, data, row, input_table, dense_params, h0, n_linear,
                                          scratch, 0, input_sums)
            elif input_kind == INPUT_FIELDS:
                fields_input_layer(indptr, indices, data, row, input_table, dense_params, layout, activation,
                                   scratch, 0, input_sums)
            else:
                sum_input_layer(indptr, indices, data, row, input_table, dense_params, h0, scratch, 0)
            dense_layers_forward(dense_params, layout, activation, scratch, 0, input_kind == INPUT_SUM)
            if input_kind == INPUT_FACTORIZATION:
                add_linear_term(layout, scratch, 0, input_sums, n_linear)
            for o in range(n_outputs):
                out[row, o] = scratch[0, last + o]

    return _predict_rows


LAYOUT_TYPE = numba.typeof(readonly_layout(NetworkLayout(*(np.zeros(1, np.int64),) * len(NetworkLayout._fields))))


def _predict_rows_signature():
    return numba.void(
        READONLY_INT64_1D,
        READONLY_INT32_1D,
        READONLY_FLOAT_1D,
        numba.int64,
        numba.int64,
        READONLY_FLOAT_2D,
        READONLY_FLOAT_1D,
        LAYOUT_TYPE,
        numba.int64,
        FLOAT_2D,
    )


INPUT_KIND_NAMES = {INPUT_SUM: "sum", INPUT_FACTORIZATION: "factorization", INPUT_FIELDS: "fields"}
_PREDICT_ROWS = {
    kind: KernelOnFirstUse(_make_predict_rows(kind), _predict_rows_signature, name=f"_predict_rows[{name}]")
    for kind, name in INPUT_KIND_NAMES.items()
}


def predict_rows_kernel(input_kind):
    """The predict kernel for input layers of kind ``input_kind`` (a ``KernelOnFirstUse``)."""
    return _PREDICT_ROWS[int(input_kind)]
