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

import numpy as np

from .._engine.hashing import FNV_OFFSET, FNV_PRIME, fnv1a_byte_strings

__all__ = ["column_seed", "hash_bytes", "hash_integers", "hash_name"]

_MASK64 = (1 << 64) - 1


def column_seed(name):
    """FNV-1a hash of a column's name (the seed of its values' hashes), as a Python int."""
    state = FNV_OFFSET
    for byte in str(name).encode("utf-8"):
        state = ((state ^ byte) * FNV_PRIME) & _MASK64
    return state


def _mix(state):
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    state = state ^ (state >> np.uint64(30))
    state = state * np.uint64(0xBF58476D1CE4E5B9)
    state = state ^ (state >> np.uint64(27))
    state = state * np.uint64(0x94D049BB133111EB)
    return state ^ (state >> np.uint64(31))


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
    fnv1a_byte_strings(np.ascontiguousarray(offsets, dtype=np.int64),
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
