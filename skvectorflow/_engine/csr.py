"""Checks and sizes of a CSR matrix's structure, in O(nnz) and without copies.

They read the arrays once, in order, and allocate nothing of their size, so
they suit matrices memory-mapped from files larger than memory.
"""

import numba
import numpy as np

from .compilation import KernelOnFirstUse
from .network import READONLY_INT32_1D, READONLY_INT64_1D

# Rows up to this long are checked by insertion sort in a fixed buffer.
_SORT_BUFFER = 256


def _has_duplicate_columns(indptr, indices):
    """Whether any row of a CSR matrix holds the same column twice.

    Parameters
    ----------
    indptr : int64[::1]
    indices : int32[::1]

    Returns
    -------
    bool

    Rows with sorted indices are checked by comparing neighbours; unsorted
    rows are sorted in a scratch buffer (insertion sort for short rows).
    """
    buffer = np.empty(_SORT_BUFFER, dtype=np.int32)
    for row in range(indptr.shape[0] - 1):
        start = indptr[row]
        stop = indptr[row + 1]
        is_sorted = True
        for p in range(start + 1, stop):
            if indices[p] == indices[p - 1]:
                return True
            if indices[p] < indices[p - 1]:
                is_sorted = False
        if is_sorted:
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
                return True
    return False


has_duplicate_columns = KernelOnFirstUse(
    _has_duplicate_columns,
    lambda: numba.boolean(READONLY_INT64_1D, READONLY_INT32_1D),
)


# Status codes of ``first_invalid_entry``.
CSR_VALID = 0
CSR_INDPTR_DECREASES = 1
CSR_INDEX_OUT_OF_RANGE = 2


def _first_invalid_entry(indptr, indices, n_features):
    """The first place where a CSR matrix's structure is broken.

    Parameters
    ----------
    indptr : int64[::1]
        Assumed to start at 0 and end at ``indices.shape[0]`` (checked by the
        caller, in O(1)).
    indices : int32[::1]
    n_features : int64

    Returns
    -------
    status : int64
        ``CSR_VALID``, ``CSR_INDPTR_DECREASES`` (then ``position`` is the row
        whose ``indptr`` entry is below the previous one) or
        ``CSR_INDEX_OUT_OF_RANGE`` (then ``position`` is the offending entry
        of ``indices``: negative or ``>= n_features``).
    position : int64
    """
    for row in range(1, indptr.shape[0]):
        if indptr[row] < indptr[row - 1]:
            return CSR_INDPTR_DECREASES, row
    for p in range(indices.shape[0]):
        column = indices[p]
        if column < 0 or column >= n_features:
            return CSR_INDEX_OUT_OF_RANGE, p
    return CSR_VALID, 0


first_invalid_entry = KernelOnFirstUse(
    _first_invalid_entry,
    lambda: numba.types.UniTuple(numba.int64, 2)(READONLY_INT64_1D, READONLY_INT32_1D, numba.int64),
)


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
