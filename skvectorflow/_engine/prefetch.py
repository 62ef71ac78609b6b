"""Software prefetch of input-table rows.

The input layer is memory-latency bound: every non-zero of a row reads and
writes one table row at a random address, and the core waits for each cache
miss in turn.  Asking for the table rows of a row a little ahead of the one
being computed overlaps those misses with useful work.  On the benchmark data
(2^20 features, 30 non-zeros per row) a bare AdaGrad loop went from 22 to
12-14 ns per non-zero when it prefetched one or two rows ahead.

Training reads and writes a row's weights and optimizer state, so it asks
for the whole row with intent to write.  Predict only reads the weights:
``prefetch_row_weights`` asks for their lines alone, with intent to read.
On the benchmark data, MLP(16) predict (32-float rows: 16 weights, 16 AdaGrad
accumulators) went from 35 to 17 ns per non-zero.

Numba has no prefetch function, so ``prefetch_table_row`` emits LLVM's
``llvm.prefetch`` intrinsic directly.  A prefetch is only a hint: it changes
no value and cannot fault, so a wrong address costs time, never correctness.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# How many rows ahead the training and predict loops prefetch.  One or two
# rows ahead were equally good (a row's misses take about as long as a row's
# arithmetic); four was slower (the lines start to be evicted before use).
PREFETCH_ROWS_AHEAD = 2

_LLVM_PREFETCH_FOR_READ = 0
_LLVM_PREFETCH_FOR_WRITE = 1
_LLVM_PREFETCH_KEEP_IN_ALL_CACHES = 3
_LLVM_PREFETCH_DATA_CACHE = 1


def _emit_prefetch(context, builder, array_type, array, row, column, intent):
    """Emit ``llvm.prefetch`` of the address of ``array[row, column]`` (``intent``: read or write)."""
    view = context.make_array(array_type)(context, builder, array)
    pointer = cgutils.get_item_pointer2(
        context, builder, data=view.data, shape=cgutils.unpack_tuple(builder, view.shape),
        strides=cgutils.unpack_tuple(builder, view.strides), layout=array_type.layout,
        inds=[row, column],
    )
    byte_pointer = ir.IntType(8).as_pointer()
    int32 = ir.IntType(32)
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
        "llvm.prefetch.p0i8",
    )
    builder.call(function, [
        builder.bitcast(pointer, byte_pointer),
        ir.Constant(int32, intent),
        ir.Constant(int32, _LLVM_PREFETCH_KEEP_IN_ALL_CACHES),
        ir.Constant(int32, _LLVM_PREFETCH_DATA_CACHE),
    ])


def _emit_row_prefetch(context, builder, array_type, array, row, width, intent):
    """Emit prefetches of ``array[row, 0]`` and ``array[row, width - 1]``: every line of the span.

    The span is at most two cache lines for the tables' rows (up to 32 float32).
    """
    last = builder.sub(width, context.get_constant(types.intp, 1))
    _emit_prefetch(context, builder, array_type, array, row, context.get_constant(types.intp, 0), intent)
    _emit_prefetch(context, builder, array_type, array, row, last, intent)


@intrinsic
def prefetch_table_row(typingctx, table, row):
    """Hint the CPU to fetch row ``row`` of a 2-d table (first and last element) for writing."""
    signature = types.void(table, row)

    def codegen(context, builder, sig, args):
        array, index = args
        index = context.cast(builder, index, sig.args[1], types.intp)
        view = context.make_array(sig.args[0])(context, builder, array)
        width = cgutils.unpack_tuple(builder, view.shape)[1]
        _emit_row_prefetch(context, builder, sig.args[0], array, index, width, _LLVM_PREFETCH_FOR_WRITE)
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(nogil=True, cache=True, inline="always")
def prefetch_row_features(indptr, indices, row, table):
    """Prefetch the table rows of every non-zero of CSR row ``row``."""
    for p in range(indptr[row], indptr[row + 1]):
        prefetch_table_row(table, indices[p])


@intrinsic
def prefetch_table_weights(typingctx, table, row, n_columns):
    """Hint the CPU to fetch the first ``n_columns`` of row ``row`` of a 2-d table, for reading.

    Predict reads a table row's weights, not the optimizer state stored after
    them: fetching only the weights' cache lines (one line for up to 16
    float32 weights) leaves the memory bandwidth and the cache to rows that
    are used.
    """
    signature = types.void(table, row, n_columns)

    def codegen(context, builder, sig, args):
        array, index, width = args
        index = context.cast(builder, index, sig.args[1], types.intp)
        width = context.cast(builder, width, sig.args[2], types.intp)
        _emit_row_prefetch(context, builder, sig.args[0], array, index, width, _LLVM_PREFETCH_FOR_READ)
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(nogil=True, cache=True, inline="always")
def prefetch_row_weights(indptr, indices, row, table, n_columns):
    """Prefetch, for reading, the first ``n_columns`` of the table row of every non-zero of CSR row ``row``."""
    for p in range(indptr[row], indptr[row + 1]):
        prefetch_table_weights(table, indices[p], n_columns)
