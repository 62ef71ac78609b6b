"""The hashing trick for columnar data: values of named columns to feature indices.

A categorical value ``v`` of column ``c`` becomes feature
``h(c, v) mod n_features`` with value 1; a numeric column ``c`` becomes
feature ``h(c) mod n_features`` holding the number.  ``h`` is 64-bit FNV-1a
over the column name, continued over the value's bytes (a string's UTF-8,
an integer's 8 little-endian bytes), then mixed by SplitMix64's finaliser
so that the low bits used by the modulus are well spread.  It is fixed and
platform independent: the same file gives the same features in every
process and on every machine, which a model trained on hashed features needs
at prediction time.
"""

import numba
import numpy as np

from .._engine.compilation import KernelOnFirstUse

__all__ = ["column_seed", "hash_bytes", "hash_integers", "hash_name"]

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


def column_seed(name):
    """FNV-1a hash of a column's name (the seed of its values' hashes), as a Python int."""
    state = _FNV_OFFSET
    for byte in str(name).encode("utf-8"):
        state = ((state ^ byte) * _FNV_PRIME) & _MASK64
    return state


def _mix(state):
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    state = state ^ (state >> np.uint64(30))
    state = state * np.uint64(0xBF58476D1CE4E5B9)
    state = state ^ (state >> np.uint64(27))
    state = state * np.uint64(0x94D049BB133111EB)
    return state ^ (state >> np.uint64(31))


def _fnv_bytes(offsets, data, seed, out):
    """FNV-1a of each byte string ``data[offsets[i]:offsets[i + 1]]``, started from ``seed``.

    Parameters
    ----------
    offsets : int64[::1], shape (n + 1,)
    data : uint8[::1]
    seed : uint64
    out : uint64[::1], shape (n,); written
    """
    prime = numba.uint64(_FNV_PRIME)
    for i in range(out.shape[0]):
        state = seed
        for p in range(offsets[i], offsets[i + 1]):
            state = (state ^ numba.uint64(data[p])) * prime
        out[i] = state


_fnv_bytes_kernel = KernelOnFirstUse(
    _fnv_bytes,
    lambda: numba.void(numba.types.Array(numba.int64, 1, "C", readonly=True),
                       numba.types.Array(numba.uint8, 1, "C", readonly=True),
                       numba.uint64, numba.types.Array(numba.uint64, 1, "C")),
)


def hash_bytes(offsets, data, seed, n_features):
    """Feature index of each byte string (e.g. an Arrow string array's buffers).

    Parameters
    ----------
    offsets : ndarray of int64, shape (n + 1,)
        String ``i`` is ``data[offsets[i]:offsets[i + 1]]``.
    data : ndarray of uint8
    seed : int
        ``column_seed`` of the column.
    n_features : int

    Returns
    -------
    features : ndarray of int32, shape (n,)
    """
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    _fnv_bytes_kernel(np.ascontiguousarray(offsets, dtype=np.int64),
                      np.ascontiguousarray(data, dtype=np.uint8), np.uint64(seed), out)
    return (_mix(out) % np.uint64(n_features)).astype(np.int32)


def hash_integers(values, seed, n_features):
    """Feature index of each 64-bit integer value (FNV-1a over its 8 little-endian bytes).

    Parameters
    ----------
    values : ndarray of integers (or of booleans, as 0 and 1)
    seed : int
        ``column_seed`` of the column.
    n_features : int

    Returns
    -------
    features : ndarray of int32
    """
    as_bytes = np.ascontiguousarray(values, dtype="<i8").view(np.uint8)
    offsets = np.arange(0, as_bytes.size + 1, 8, dtype=np.int64)
    return hash_bytes(offsets, as_bytes, seed, n_features)


def hash_name(name, n_features):
    """Feature index of a numeric column ``name``."""
    state = _mix(np.array([column_seed(name)], dtype=np.uint64))
    return int(state[0] % np.uint64(n_features))
