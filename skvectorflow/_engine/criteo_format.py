"""Compiled parsing of the Criteo display-advertising text format into CSR arrays.

A line is ``label``, ``n_dense`` integer counts and ``n_fields`` categorical
tokens, tab-separated; an empty field is a missing value.  The columns of the
CSR matrix it becomes are laid out as

``[0, n_dense)``
    the counts, transformed by ``sign(v) * log1p(|v|)``; a missing or zero
    count is no entry;
``[n_dense + f * 2**hash_bits, n_dense + (f + 1) * 2**hash_bits)``
    categorical field ``f``: the token is hashed (FNV-1a, seeded by ``f``)
    to one column of the field's range, with value 1.  A missing token is the
    empty token, hashed like any other, so "missing" is its own category.

Every row thus has exactly ``n_fields`` categorical entries, and its indices
are sorted.  The kernels read a byte buffer of whole lines and write into
preallocated arrays (no allocation per line); the caller streams the file in
chunks and reports errors with their file line numbers.
"""

import math

import numba
import numpy as np

from .compilation import KernelOnFirstUse
from .hashing import FNV_OFFSET, FNV_PRIME, fnv1a_extend
from .network import FLOAT_1D, INT32_1D, INT64_1D

_FNV_OFFSET = np.uint64(FNV_OFFSET)
_FNV_PRIME = np.uint64(FNV_PRIME)
_TAB = 9
_NEWLINE = 10
_CARRIAGE_RETURN = 13

# Status codes of ``parse_criteo_lines`` (``status[0]``); ``status[1]`` is the
# 0-based line of the buffer that failed, ``status[2]`` its 1-based column.
PARSE_OK = 0
PARSE_WRONG_FIELD_COUNT = 1
PARSE_BAD_LABEL = 2
PARSE_BAD_INTEGER = 3


@numba.njit(nogil=True, cache=True)
def hash_token(buffer, start, stop, seed):
    """FNV-1a hash of ``buffer[start:stop]`` (uint8), seeded by ``seed``, as uint64.

    The seed is mixed in as eight leading bytes, so each field gets an
    independent hash of the same token.
    """
    h = _FNV_OFFSET
    s = np.uint64(seed)
    for _ in range(8):
        h = (h ^ (s & np.uint64(255))) * _FNV_PRIME
        s = s >> np.uint64(8)
    h = fnv1a_extend(h, buffer, start, stop)
    return h ^ (h >> np.uint64(29))


@numba.njit(nogil=True, cache=True)
def hash_bucket(buffer, start, stop, seed, mask):
    """Column offset in ``[0, mask]`` of a token hashed with ``seed`` (mask = 2**bits - 1)."""
    return np.int64(hash_token(buffer, start, stop, seed) & np.uint64(mask))


def _hash_tokens(buffer, offsets, seed, mask, out):
    """Bucket of every token ``buffer[offsets[i]:offsets[i + 1]]`` into ``out[i]``."""
    for i in range(out.shape[0]):
        out[i] = hash_bucket(buffer, offsets[i], offsets[i + 1], seed, mask)


hash_tokens = KernelOnFirstUse(
    _hash_tokens,
    lambda: numba.void(numba.types.Array(numba.uint8, 1, "C", readonly=True), INT64_1D, numba.int64,
                       numba.int64, INT64_1D),
)


def _parse_criteo_lines(buffer, n_dense, n_fields, hash_bits, max_rows, indptr, indices, data,
                        labels, status):
    """Parse whole lines of ``buffer`` into CSR arrays; return ``(rows, bytes consumed)``.

    Parameters
    ----------
    buffer : uint8[::1]
        Text; only lines ending in a newline are parsed, unless the buffer's
        last line has none (the end of the file), which is parsed too.
    n_dense, n_fields, hash_bits : int
    max_rows : int
        Stop after this many rows.
    indptr : int64[::1], length >= max_rows + 1; ``indptr[0]`` must be 0
    indices : int32[::1]; data : float32[::1]
        Length >= ``max_rows * (n_dense + n_fields)``.
    labels : float32[::1], length >= max_rows
    status : int64[::1], length 3; written (see the PARSE_* codes)

    Empty lines are skipped.  On an error, parsing stops at the failing line.
    """
    status[0] = PARSE_OK
    n_columns = 1 + n_dense + n_fields
    mask = (1 << hash_bits) - 1
    n = buffer.shape[0]
    row = 0
    nnz = 0
    position = 0
    line = 0
    while position < n and row < max_rows:
        line_end = position
        while line_end < n and buffer[line_end] != _NEWLINE:
            line_end += 1
        next_position = line_end + 1
        content_end = line_end
        if content_end > position and buffer[content_end - 1] == _CARRIAGE_RETURN:
            content_end -= 1
        if content_end == position:
            position = next_position
            line += 1
            continue
        # Count the fields first, so a shifted line is reported as such rather
        # than as a bad value in whatever column the shift lands on.
        n_tabs = 0
        for p in range(position, content_end):
            if buffer[p] == _TAB:
                n_tabs += 1
        if n_tabs != n_columns - 1:
            status[0] = PARSE_WRONG_FIELD_COUNT
            status[1] = line
            status[2] = 0
            return row, position
        column = 0
        start = position
        failed = False
        while column < n_columns:
            stop = start
            while stop < content_end and buffer[stop] != _TAB:
                stop += 1
            if column == 0:
                if stop - start != 1 or (buffer[start] != 48 and buffer[start] != 49):
                    status[0] = PARSE_BAD_LABEL
                    failed = True
                    break
                labels[row] = buffer[start] - 48
            elif column <= n_dense:
                if stop > start:
                    negative = buffer[start] == 45
                    p = start + 1 if negative else start
                    if p == stop:
                        status[0] = PARSE_BAD_INTEGER
                        failed = True
                        break
                    value = 0.0
                    while p < stop:
                        digit = buffer[p] - 48
                        if digit < 0 or digit > 9:
                            status[0] = PARSE_BAD_INTEGER
                            failed = True
                            break
                        value = value * 10.0 + digit
                        p += 1
                    if failed:
                        break
                    if value != 0.0:
                        transformed = math.log1p(value)
                        indices[nnz] = column - 1
                        data[nnz] = -transformed if negative else transformed
                        nnz += 1
            else:
                field = column - 1 - n_dense
                indices[nnz] = n_dense + (field << hash_bits) + hash_bucket(buffer, start, stop,
                                                                            field, mask)
                data[nnz] = 1.0
                nnz += 1
            column += 1
            if stop >= content_end:
                break
            start = stop + 1
        if failed:
            status[1] = line
            status[2] = column + 1
            return row, position
        indptr[row + 1] = nnz
        row += 1
        line += 1
        position = next_position
    return row, min(position, n)


parse_criteo_lines = KernelOnFirstUse(
    _parse_criteo_lines,
    lambda: numba.types.UniTuple(numba.int64, 2)(
        numba.types.Array(numba.uint8, 1, "C", readonly=True), numba.int64, numba.int64,
        numba.int64, numba.int64, INT64_1D, INT32_1D, FLOAT_1D, FLOAT_1D, INT64_1D),
)


_INT32_MAX = np.iinfo(np.int32).max


def _count_categories(indices, n_dense, counts):
    """Add one to ``counts[c - n_dense]`` for every categorical column ``c`` in ``indices``.

    ``counts`` is the flattened ``(n_fields, 2**hash_bits)`` table of rows per
    hashed column, in the column order of the parsed matrix, so a column's
    offset past the dense ones is its place in the table.  Counts stop at
    the int32 maximum rather than wrap.
    """
    for i in range(indices.shape[0]):
        offset = indices[i] - n_dense
        if offset >= 0 and counts[offset] < _INT32_MAX:
            counts[offset] += 1


count_categories = KernelOnFirstUse(
    _count_categories,
    lambda: numba.void(INT32_1D, numba.int64, INT32_1D),
)


def _fold_infrequent(indices, n_dense, hash_bits, counts, threshold, infrequent_bucket):
    """Move every categorical column with ``counts < threshold`` to its field's infrequent bucket.

    ``infrequent_bucket[f]`` is field ``f``'s infrequent column within the
    field (-1: the field has none, and then no column of it is below the
    threshold).  Columns stay in their field's range, so sorted rows stay
    sorted.
    """
    for i in range(indices.shape[0]):
        offset = indices[i] - n_dense
        if offset >= 0 and counts[offset] < threshold:
            field = offset >> hash_bits
            indices[i] = n_dense + (field << hash_bits) + infrequent_bucket[field]


fold_infrequent = KernelOnFirstUse(
    _fold_infrequent,
    lambda: numba.void(INT32_1D, numba.int64, numba.int64,
                       numba.types.Array(numba.int32, 1, "C", readonly=True), numba.int64,
                       INT64_1D),
)
