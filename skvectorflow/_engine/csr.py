"""Checks of a CSR matrix's structure, compiled, in O(nnz) and without copies."""

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
