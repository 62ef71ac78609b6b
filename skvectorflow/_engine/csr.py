"""Checks and sizes of a CSR matrix's structure, in O(nnz) and without copies.

They read the arrays once, in order, and allocate nothing of their size, so
they suit matrices memory-mapped from files larger than memory.
"""

from collections import namedtuple

import numba
import numpy as np

from .compilation import KernelOnFirstUse
from .network import READONLY_INT64_1D

_MAX_INT32 = 2**31 - 1
_INT32, _INT64, _FLOAT32 = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.float32)

# Rows up to this long are checked by insertion sort in a fixed buffer.
_SORT_BUFFER = 256


# Status codes of ``inspect_csr``.
CSR_VALID = 0
CSR_INDPTR_DECREASES = 1
CSR_INDEX_OUT_OF_RANGE = 2
CSR_INDPTR_ENDS = 3  # indptr does not run from 0 to len(indices)

# Bits of ``inspect_csr``'s ``layout`` result.
CSR_HAS_DUPLICATES = 1  # some row holds a column twice
CSR_HAS_UNSORTED_ROWS = 2  # some row's columns are not increasing


def _inspect_csr(indptr, indices, n_features):
    """Verify a CSR matrix's structure and describe its column order, in one pass.

    Parameters
    ----------
    indptr : int64[::1]
        At least one entry (checked by the caller).
    indices : int32[::1] or int64[::1]
    n_features : int64

    Returns
    -------
    status : int64
        ``CSR_VALID``, ``CSR_INDPTR_ENDS`` (``indptr`` does not run from 0 to
        ``indices.shape[0]``), ``CSR_INDPTR_DECREASES`` (then ``position`` is the
        entry of ``indptr`` below the one before it) or
        ``CSR_INDEX_OUT_OF_RANGE`` (then ``position`` is the entry of
        ``indices`` that is negative or ``>= n_features``).
    position : int64
    layout : int64
        ``CSR_HAS_DUPLICATES | CSR_HAS_UNSORTED_ROWS`` bits, for valid input.

    Every index is range-checked before it is used, so that the sort of an
    unsorted row (insertion sort in a fixed buffer for short rows) only ever
    sees valid columns; rows are scanned for duplicates until one is found.
    """
    if indptr[0] != 0 or indptr[indptr.shape[0] - 1] != indices.shape[0]:
        return CSR_INDPTR_ENDS, 0, 0
    buffer = np.empty(_SORT_BUFFER, dtype=indices.dtype)
    layout = 0
    for row in range(indptr.shape[0] - 1):
        start = indptr[row]
        stop = indptr[row + 1]
        if stop < start:
            return CSR_INDPTR_DECREASES, row + 1, layout
        is_sorted = True
        for p in range(start, stop):
            column = indices[p]
            if column < 0 or column >= n_features:
                return CSR_INDEX_OUT_OF_RANGE, p, layout
            if p > start:
                if column == indices[p - 1]:
                    layout |= CSR_HAS_DUPLICATES
                elif column < indices[p - 1]:
                    is_sorted = False
        if is_sorted:
            continue
        layout |= CSR_HAS_UNSORTED_ROWS
        if layout & CSR_HAS_DUPLICATES:
            continue
        length = stop - start
        if length <= _SORT_BUFFER:
            for i in range(length):
                value = indices[start + i]
                k = i
                while k > 0 and buffer[k - 1] > value:
                    buffer[k] = buffer[k - 1]
                    k -= 1
                buffer[k] = value
            ordered = buffer[:length]
        else:
            ordered = np.sort(indices[start:stop])
        for i in range(1, length):
            if ordered[i] == ordered[i - 1]:
                layout |= CSR_HAS_DUPLICATES
                break
    return CSR_VALID, 0, layout


def _inspect_signature(index_type):
    return lambda: numba.types.UniTuple(numba.int64, 3)(
        READONLY_INT64_1D, numba.types.Array(index_type, 1, "C", readonly=True), numba.int64)


# One specialisation per index dtype: int64 indices are checked before they
# are narrowed, so that an index past 2**31 is an error, not another column.
_INSPECT_CSR = {
    np.dtype(np.int32): KernelOnFirstUse(_inspect_csr, _inspect_signature(numba.int32), "inspect_csr"),
    np.dtype(np.int64): KernelOnFirstUse(_inspect_csr, _inspect_signature(numba.int64), "inspect_csr_int64"),
}


def inspect_csr(indptr, indices, n_features):
    """``_inspect_csr`` compiled for the dtype of ``indices`` (int32 or int64)."""
    return _INSPECT_CSR[indices.dtype](indptr, indices, np.int64(n_features))


class CheckedCSR(namedtuple("CheckedCSR", "indptr indices data n_columns")):
    """The engine's CSR arrays, verified by ``check_csr`` to index ``[0, n_columns)``.

    Kernels take ``indptr`` (int64), ``indices`` (int32) and ``data``
    (float32), contiguous; ``run_epoch`` and ``predict_outputs`` verify
    plain ``(indptr, indices, data)`` tuples themselves and skip the O(nnz)
    pass for a ``CheckedCSR`` whose ``n_columns`` fits their table.
    """

    __slots__ = ()

    @property
    def arrays(self):
        """``(indptr, indices, data)``."""
        return self.indptr, self.indices, self.data


class CSRStructureError(ValueError):
    """A CSR matrix whose arrays are inconsistent (the message says where)."""


def check_csr(indptr, indices, data, n_columns, n_rows=None, name="X"):
    """Verify CSR arrays before any kernel reads them; the engine's only way in.

    O(1) checks of lengths and ends, then one compiled O(nnz) pass
    (``inspect_csr``).  Arrays are used without a copy when they already are
    contiguous with the engine's dtypes; strided views are made contiguous,
    ``indptr`` is widened to int64 and int64 ``indices`` are narrowed to
    int32, both only after they were checked.

    Parameters
    ----------
    indptr, indices, data : 1-d integer, integer and float32 arrays
    n_columns : int
        Indices must lie in ``[0, n_columns)``.
    n_rows : int, default=None
        The matrix's row count, when it has a shape to agree with.
    name : str, default="X"
        What error messages call the matrix.

    Returns
    -------
    csr : CheckedCSR
    layout : int
        ``CSR_HAS_DUPLICATES | CSR_HAS_UNSORTED_ROWS`` bits.

    Raises
    ------
    CSRStructureError
        Naming the array, entry and row that break the structure.
    """
    # The common case (scipy's own arrays) costs a few attribute reads: the
    # one-row predict path runs this on every call.
    try:
        kinds_ok = (type(indptr) is np.ndarray and type(indices) is np.ndarray and type(data) is np.ndarray
                    and indptr.ndim == 1 and indices.ndim == 1 and data.ndim == 1
                    and indptr.dtype.kind in "iu" and indices.dtype.kind in "iu")
    except AttributeError:
        kinds_ok = False
    if not kinds_ok:
        _check_array_kinds(indptr, indices, data, name)
    n_entries = indptr.shape[0]
    if n_rows is not None and n_entries != n_rows + 1:
        raise CSRStructureError(
            f"{name}.indptr has {n_entries} entries; a CSR matrix of {n_rows} rows needs {n_rows + 1}.")
    if n_entries < 1:
        raise CSRStructureError(f"{name}.indptr is empty; it needs one entry more than the rows.")
    if indices.shape[0] != data.shape[0]:
        raise CSRStructureError(f"{name}.indices has {indices.shape[0]} entries but {name}.data has "
                                f"{data.shape[0]}; they must be equally long.")
    if n_columns > _MAX_INT32:
        raise CSRStructureError(f"{name} has {n_columns} columns; int32 indices allow at most {_MAX_INT32}.")
    if indptr.dtype != _INT64 or not indptr.flags.c_contiguous:
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    kernel = _INSPECT_CSR.get(indices.dtype)
    if kernel is None:
        indices = indices.astype(np.int64)
        kernel = _INSPECT_CSR[indices.dtype]
    if not indices.flags.c_contiguous:
        indices = np.ascontiguousarray(indices)
    status, position, layout = kernel.dispatcher(indptr, indices, n_columns)
    if status == CSR_INDPTR_ENDS:
        raise CSRStructureError(
            f"{name}.indptr runs from {indptr[0]} to {indptr[-1]}; it must run from 0 to "
            f"{indices.shape[0]} (the number of stored entries).")
    if status == CSR_INDPTR_DECREASES:
        raise CSRStructureError(
            f"{name}.indptr[{position}] = {indptr[position]} is smaller than {name}.indptr[{position - 1}] = "
            f"{indptr[position - 1]} (row {position - 1} would have a negative length).")
    if status == CSR_INDEX_OUT_OF_RANGE:
        row = int(np.searchsorted(indptr, position, side="right")) - 1
        raise CSRStructureError(
            f"{name}.indices[{position}] (row {row}) is column {indices[position]}, outside "
            f"[0, {n_columns}).")
    if indices.dtype != _INT32:
        indices = indices.astype(np.int32)
    if data.dtype != _FLOAT32 or not data.flags.c_contiguous:
        data = np.ascontiguousarray(data, dtype=np.float32)
    return CheckedCSR(indptr, indices, data, n_columns), layout


def _check_array_kinds(indptr, indices, data, name):
    """1-d arrays, integer ``indptr`` and ``indices`` (O(1))."""
    for part, array in (("indptr", indptr), ("indices", indices), ("data", data)):
        if type(array) is not np.ndarray or array.ndim != 1:
            if not (isinstance(array, np.ndarray) and array.ndim == 1):
                raise CSRStructureError(f"{name}.{part} must be a 1-d array, got {type(array).__name__} "
                                        f"of shape {np.shape(array)}.")
        if part != "data" and array.dtype.kind not in "iu":
            raise CSRStructureError(f"{name}.{part} must hold integers, got dtype {array.dtype}.")


# Units whose sizes ``max_unit_nnz`` takes at once: its temporaries stay
# under 1 MB, however many rows (a fit's peak memory is X, the model and
# little else).
_UNITS_PER_CHUNK = 1 << 16


def max_unit_nnz(indptr, unit_bounds):
    """Largest number of non-zeros in one unit (0 for no units).

    NumPy over chunks of units rather than a compiled loop: every fit calls
    it, and a kernel would add its compilation to a first fit's.

    Parameters
    ----------
    indptr : int64[::1]
    unit_bounds : int64[::1]
        Row ranges of the units, or empty when every row is a unit.

    Returns
    -------
    int
    """
    rows_are_units = unit_bounds.shape[0] == 0
    n_units = (indptr.shape[0] if rows_are_units else unit_bounds.shape[0]) - 1
    largest = 0
    for start in range(0, n_units, _UNITS_PER_CHUNK):
        stop = min(start + _UNITS_PER_CHUNK, n_units) + 1
        edges = indptr[start:stop] if rows_are_units else indptr[unit_bounds[start:stop]]
        largest = max(largest, int(np.max(np.diff(edges))))
    return largest
