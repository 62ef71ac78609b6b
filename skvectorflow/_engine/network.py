"""Parameter layout of a network: a sparse input layer followed by dense layers.

A network with ``layer_sizes = (h0, h1, ..., n_outputs)`` is stored in three
arrays that every engine kernel receives:

``input_table`` : float32, shape ``(n_features, h0 + input_state_width)``
    Row ``j`` holds the ``h0`` input-layer weights of feature ``j`` in columns
    ``[0, h0)``, followed by that row's optimizer state (AdaGrad accumulators,
    Adam moments, or nothing for plain SGD).  A row's weights and its state are
    adjacent, so a sparse update touches one small contiguous region of memory:
    the input layer is memory-latency bound, and cache lines touched per
    non-zero decide its speed.  With ``hidden_layer_sizes=()`` the input layer
    *is* the linear model and ``h0 == n_outputs``.

``dense_params`` : float32, shape ``(n_dense_params,)``
    The input layer's bias, then for each dense layer ``l >= 1`` its weight
    matrix ``W_l`` of shape ``(h_{l-1}, h_l)`` (row-major) and its bias ``b_l``.

``dense_state`` : float32, shape ``(dense_state_width * n_dense_params,)``
    Optimizer state of ``dense_params``, one block of ``n_dense_params`` values
    per state variable.

The input layer comes in three kinds (``input_spec[SPEC_KIND]``):

``INPUT_SUM``
    the embedding sum above, ``z0 = b0 + sum_k x_k * W0[j_k]``; a table row is
    ``h0`` weights wide.
``INPUT_FACTORIZATION``
    a factorization machine's pairwise term, in the bi-interaction form of
    He and Chua's neural FM: a table row is ``[w_j (n_linear) | v_j (h0)]``,
    layer 0 outputs ``z0_c = b0_c + 1/2 ((sum_k x_k v_kc)**2 - sum_k (x_k v_kc)**2)``,
    which sums ``x_j x_k v_jc v_kc`` over the pairs ``j < k`` of the row's
    non-zeros in O(nnz * h0), and the linear term ``sum_k x_k w_k`` (one per
    output, ``n_linear = n_outputs``) is added to the network's outputs.

``INPUT_FIELDS``
    DLRM's input (Naumov et al. 2019).  A field map (``column_role``) puts each
    column in a categorical field or among the dense columns.  Each field's
    non-zeros are pooled, ``e_f = sum_{k in f} x_k E[j_k]`` (a table row is an
    embedding of ``d`` weights); the dense columns go through the *bottom
    MLP* (``bottom_sizes = (n_dense, ..., d)``, every layer activated), whose
    output ``e_dense`` joins the vectors.  Layer 0 outputs their interaction:
    ``[e_dense, <e_a, e_b> for every pair a > b]`` (``INTERACTION_DOT``) or
    the vectors concatenated (``INTERACTION_CAT``); the dense layers that
    follow are the *top MLP*.  The bottom MLP's parameters follow the top's in
    ``dense_params``.

``NetworkLayout`` holds the integer offsets that locate each layer inside
these arrays and inside a row of the activation scratch buffer.  Every array is
addressable by feature id, so a distributed trainer can hand a worker just the
rows of ``input_table`` its data touches.

This module is also the one home of the array types the kernels are compiled
for: float32 values, int32 column indices, int64 row pointers and counters.
"""

from collections import namedtuple

import numba
import numpy as np
from numba import types

# Array types of the compiled kernels (one signature per kernel).  Inputs are
# declared read-only: such a signature accepts writable arrays, read-only
# arrays and read-only memory maps alike, so joblib's memmapped X works.
FLOAT_1D = types.Array(types.float32, 1, "C")
FLOAT_2D = types.Array(types.float32, 2, "C")
FLOAT64_1D = types.Array(types.float64, 1, "C")
INT32_1D = types.Array(types.int32, 1, "C")
INT64_1D = types.Array(types.int64, 1, "C")
READONLY_FLOAT_1D = types.Array(types.float32, 1, "C", readonly=True)
READONLY_FLOAT_2D = types.Array(types.float32, 2, "C", readonly=True)
READONLY_INT32_1D = types.Array(types.int32, 1, "C", readonly=True)
READONLY_INT64_1D = types.Array(types.int64, 1, "C", readonly=True)

INPUT_SUM = 0
INPUT_FACTORIZATION = 1
INPUT_FIELDS = 2
INTERACTION_DOT = 0
INTERACTION_CAT = 1

# Entries of ``NetworkLayout.input_spec``.
SPEC_KIND = 0
SPEC_N_LINEAR = 1  # linear weights at the start of a table row (factorization)
SPEC_TABLE_WIDTH = 2  # weights per table row, before the optimizer state
SPEC_N_FIELDS = 3
SPEC_N_DENSE = 4
SPEC_INTERACTION = 5
SPEC_SCRATCH_WIDTH = 6  # per-row input-layer scratch (``input_sums``)
SPEC_LENGTH = 7

NetworkLayout = namedtuple(
    "NetworkLayout",
    ["layer_sizes", "weight_offsets", "bias_offsets", "activation_offsets", "input_spec",
     "bottom_sizes", "bottom_weight_offsets", "bottom_bias_offsets", "bottom_activation_offsets",
     "column_role"],
)
NetworkLayout.__doc__ = """Integer offsets of each layer (all int64 arrays of length n_layers).

layer_sizes : widths ``(h0, ..., n_outputs)``; layer 0 is the sparse input layer.
weight_offsets : start of ``W_l`` in ``dense_params`` (entry 0 unused: ``W_0``
    is ``input_table``).
bias_offsets : start of ``b_l`` in ``dense_params``.
activation_offsets : start of layer ``l``'s outputs in a row of the activation
    scratch buffer, whose width is ``sum(layer_sizes)``.
input_spec : the input layer's description, indexed by the ``SPEC_*`` constants.
bottom_sizes, bottom_weight_offsets, bottom_bias_offsets : the bottom MLP of an
    ``INPUT_FIELDS`` layer, as the first four for the top (empty otherwise).
bottom_activation_offsets : start of bottom layer ``l``'s outputs in a row of
    the input scratch (layer 0 is the dense columns' values).
column_role : per column of X, its field (``>= 0``) or ``-1 - position`` among
    the dense columns (``INPUT_FIELDS`` only; empty otherwise).
"""


def make_layout(layer_sizes, input_kind=INPUT_SUM, field_of_column=None, bottom_hidden=None,
                embedding_dim=0, interaction=INTERACTION_DOT):
    """Offsets of every layer for the given widths.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(h0, h1, ..., n_outputs)``: the input layer's width first, the
        output layer's last.  One entry means a linear model.
    input_kind : {INPUT_SUM, INPUT_FACTORIZATION, INPUT_FIELDS}
        With ``INPUT_FACTORIZATION``, ``h0`` is the number of factors, and
        there must be at least one more layer (the outputs).  With
        ``INPUT_FIELDS``, ``layer_sizes`` are the top MLP's widths after the
        interaction (whose width is derived: pass any ``h0``).
    field_of_column : int array, optional
        ``INPUT_FIELDS``: field of each column, ``-1`` for dense columns
        (validated by the caller).
    bottom_hidden : sequence of int or None
        ``INPUT_FIELDS``: hidden widths of the bottom MLP (its output has
        ``embedding_dim`` units); None when there are no dense columns.
    embedding_dim : int
    interaction : {INTERACTION_DOT, INTERACTION_CAT}

    Returns
    -------
    layout : NetworkLayout
    """
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    if sizes.ndim != 1 or sizes.size < 1 or np.any(sizes < 1):
        raise ValueError(f"layer sizes must be positive integers, got {layer_sizes!r}")
    input_spec = np.zeros(SPEC_LENGTH, dtype=np.int64)
    input_spec[SPEC_KIND] = input_kind
    empty = np.zeros(0, dtype=np.int64)
    bottom = (empty, empty, empty, empty)
    column_role = empty
    if input_kind == INPUT_FIELDS:
        roles = np.asarray(field_of_column, dtype=np.int64)
        n_fields = int(roles.max()) + 1 if roles.size and roles.max() >= 0 else 0
        dense = roles < 0
        n_dense = int(dense.sum())
        column_role = roles.copy()
        column_role[dense] = -1 - np.arange(n_dense)
        has_bottom = bottom_hidden is not None
        n_vectors = n_fields + int(has_bottom)
        if interaction == INTERACTION_DOT:
            top_input = (embedding_dim if has_bottom else 0) + n_vectors * (n_vectors - 1) // 2
        else:
            top_input = n_vectors * embedding_dim
        if top_input < 1:
            raise ValueError("the interaction of a single field has no terms; add fields or dense columns")
        sizes = np.concatenate([[top_input], sizes[1:]]).astype(np.int64)
        input_spec[SPEC_TABLE_WIDTH] = embedding_dim
        input_spec[SPEC_N_FIELDS] = n_fields
        input_spec[SPEC_N_DENSE] = n_dense
        input_spec[SPEC_INTERACTION] = interaction
        bottom_sizes = (np.array([n_dense, *bottom_hidden, embedding_dim], dtype=np.int64)
                        if has_bottom else empty)
        input_spec[SPEC_SCRATCH_WIDTH] = int(bottom_sizes.sum()) + n_fields * embedding_dim
    elif input_kind == INPUT_FACTORIZATION:
        if sizes.size < 2:
            raise ValueError("a factorization input layer needs an output layer after it")
        input_spec[SPEC_N_LINEAR] = sizes[-1]
        input_spec[SPEC_TABLE_WIDTH] = sizes[-1] + sizes[0]
        input_spec[SPEC_SCRATCH_WIDTH] = sizes[-1] + sizes[0]
    elif input_kind == INPUT_SUM:
        input_spec[SPEC_TABLE_WIDTH] = sizes[0]
        input_spec[SPEC_SCRATCH_WIDTH] = 1
    else:
        raise ValueError(f"unknown input kind {input_kind!r}")
    weight_offsets, bias_offsets, end = _chain_offsets(sizes, sizes[0])
    if input_kind == INPUT_FIELDS and bottom_sizes.size:
        bottom_weights, bottom_biases, _ = _chain_offsets(bottom_sizes, end)
        bottom_activations = np.concatenate([[0], np.cumsum(bottom_sizes)[:-1]]).astype(np.int64)
        bottom = (bottom_sizes, bottom_weights, bottom_biases, bottom_activations)
    activation_offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return readonly_layout(NetworkLayout(sizes, weight_offsets, bias_offsets, activation_offsets,
                                         input_spec, *bottom, column_role))


def _chain_offsets(sizes, start):
    """Weight and bias offsets of a chain of dense layers whose parameters begin at ``start``."""
    n_layers = sizes.size
    weight_offsets = np.zeros(n_layers, dtype=np.int64)
    bias_offsets = np.zeros(n_layers, dtype=np.int64)
    offset = int(start)
    for layer in range(1, n_layers):
        weight_offsets[layer] = offset
        offset += sizes[layer - 1] * sizes[layer]
        bias_offsets[layer] = offset
        offset += sizes[layer]
    return weight_offsets, bias_offsets, offset


def table_width(layout):
    """Weights per input-table row (before its optimizer state)."""
    return int(layout.input_spec[SPEC_TABLE_WIDTH])


def readonly_layout(layout):
    """``layout`` with read-only views of its arrays: the one type the kernels are compiled for.

    Layouts come back writable from a pickle and read-only from a joblib
    memory map; passing views normalises both without copying.
    """
    if not any(array.flags.writeable for array in layout):
        return layout
    views = []
    for array in layout:
        view = np.asarray(array, dtype=np.int64).view()
        view.flags.writeable = False
        views.append(view)
    return NetworkLayout(*views)


def n_dense_params(layout):
    """Length of ``dense_params`` for ``layout``."""
    # Plain Python over a handful of layers: every predict call checks it.
    sizes = layout.layer_sizes.tolist()
    bottom = layout.bottom_sizes.tolist()
    return (sizes[0] + sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(sizes[1:])
            + sum(a * b for a, b in zip(bottom[:-1], bottom[1:])) + sum(bottom[1:]))


def init_network(layout, n_features, input_state_width, dense_state_width, fan_in, rng):
    """Allocate and initialise the parameters of a network.

    Input-layer weights of a linear model (and a factorization machine's
    linear weights) start at zero (the problem is
    convex and zero is the sparse-friendly start).  Otherwise every weight
    matrix is drawn from Glorot's uniform distribution; for the input layer the
    fan-in is the typical number of non-zeros in a row, not ``n_features``,
    because only that many rows of the table contribute to a unit's output.
    Biases and optimizer state start at zero.

    Parameters
    ----------
    layout : NetworkLayout
    n_features : int
    input_state_width : int
        Optimizer-state columns per input-table row.
    dense_state_width : int
        Optimizer-state values per dense parameter.
    fan_in : float
        Typical number of non-zeros in a row.
    rng : numpy.random.Generator

    Returns
    -------
    input_table : ndarray of float32, shape (n_features, h0 + input_state_width)
    dense_params : ndarray of float32, shape (n_dense_params,)
    dense_state : ndarray of float32, shape (dense_state_width * n_dense_params,)
    """
    sizes = layout.layer_sizes
    h0 = int(sizes[0])
    kind = layout.input_spec[SPEC_KIND]
    n_linear = int(layout.input_spec[SPEC_N_LINEAR])
    width = table_width(layout)
    input_table = np.zeros((n_features, width + input_state_width), dtype=np.float32)
    if kind == INPUT_FACTORIZATION:
        # Pairwise terms start small (x_j x_k <v_j, v_k> summed over ~fan_in**2 / 2
        # pairs): each factor has variance 1 / (h0 * fan_in).
        bound = np.float32(np.sqrt(3.0 / (h0 * max(fan_in, 1.0))))
    elif kind == INPUT_FIELDS:
        # Each pooled embedding (one value per field, usually) starts with
        # entries of variance 1 / (3 d), so dot products start near zero.
        bound = np.float32(np.sqrt(1.0 / width))
    else:
        bound = np.float32(np.sqrt(6.0 / (max(fan_in, 1.0) + h0)))
    if sizes.size > 1:
        # Drawn in place by a compiled counter-based generator: numpy's draws
        # need a temporary per chunk and took ~0.6 s for a 2**20-row
        # DLRM table, more than an epoch of the small configuration.
        # Linear weights (factorization machines) start at zero.
        fill_uniform_columns(input_table, n_linear, width, bound,
                             np.uint64(rng.integers(0, 2**63 - 1, dtype=np.int64)))
    n_dense = n_dense_params(layout)
    dense_params = np.zeros(n_dense, dtype=np.float32)
    for chain_sizes, chain_offsets in ((sizes, layout.weight_offsets),
                                       (layout.bottom_sizes, layout.bottom_weight_offsets)):
        for layer in range(1, chain_sizes.size):
            n_in, n_out = int(chain_sizes[layer - 1]), int(chain_sizes[layer])
            bound = np.sqrt(6.0 / (n_in + n_out))
            start = int(chain_offsets[layer])
            dense_params[start : start + n_in * n_out] = rng.uniform(
                -bound, bound, size=n_in * n_out
            )
    if kind == INPUT_FACTORIZATION and sizes.size == 2:
        # No hidden layer: the output layer starts by summing the pairwise
        # terms, which is the classic factorization machine.
        start = int(layout.weight_offsets[1])
        dense_params[start : start + h0 * int(sizes[1])] = 1.0
    dense_state = np.zeros(dense_state_width * n_dense, dtype=np.float32)
    return input_table, dense_params, dense_state


@numba.njit(nogil=True, cache=True)
def fill_uniform_columns(table, start, stop, bound, seed):
    """``table[:, start:stop]`` drawn uniformly from ``[-bound, bound)`` in place.

    Entry ``(i, j)`` is SplitMix64 of ``seed`` and the entry's position, so
    the result depends only on ``seed`` and the table's shape.
    """
    golden = np.uint64(0x9E3779B97F4A7C15)
    to_unit = np.float32(2.0**-24)
    two = np.float32(2.0)
    one = np.float32(1.0)
    bound = np.float32(bound)
    width = np.uint64(table.shape[1])
    for i in range(table.shape[0]):
        row = table[i]
        for j in range(start, stop):
            z = seed + (np.uint64(i) * width + np.uint64(j) + np.uint64(1)) * golden
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            unit = np.float32(z >> np.uint64(40)) * to_unit
            row[j] = (two * unit - one) * bound


def layer_views(layout, input_table, dense_params):
    """Weight matrices and bias vectors of each layer, as views.

    Returns
    -------
    coefs : list of ndarray
        ``coefs[0]`` is ``input_table[:, :table_width]`` (a strided view: for a
        factorization layer, the linear weights then the factors), then each
        dense layer's ``(h_{l-1}, h_l)`` matrix.
    intercepts : list of ndarray
        Each layer's bias vector.
    """
    sizes = layout.layer_sizes
    h0 = int(sizes[0])
    coefs = [input_table[:, :table_width(layout)]]
    intercepts = [dense_params[:h0]]
    for layer in range(1, sizes.size):
        n_in, n_out = int(sizes[layer - 1]), int(sizes[layer])
        w0 = int(layout.weight_offsets[layer])
        b0 = int(layout.bias_offsets[layer])
        coefs.append(dense_params[w0 : w0 + n_in * n_out].reshape(n_in, n_out))
        intercepts.append(dense_params[b0 : b0 + n_out])
    return coefs, intercepts
