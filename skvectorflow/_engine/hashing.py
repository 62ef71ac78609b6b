"""FNV-1a hashes of byte strings, compiled: the hashing trick's inner loop.

``fnv1a_extend`` is the one FNV-1a loop of the engine: this module's
kernel and the Criteo parser (``criteo_format``) both hash through it.

Contract: ``fnv1a_byte_strings`` reads the strings (an Arrow-style
offsets + bytes pair) once, in order, and writes one 64-bit hash per string
into ``out``; it allocates nothing.  The arithmetic wraps modulo 2**64, so
the result is the same on every platform.
"""

import numba
import numpy as np

from .compilation import KernelOnFirstUse

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_PRIME = np.uint64(FNV_PRIME)


@numba.njit(nogil=True, cache=True, inline="always")
def fnv1a_extend(state, data, start, stop):
    """FNV-1a ``state`` (uint64) continued over the bytes ``data[start:stop]``."""
    for p in range(start, stop):
        state = (state ^ np.uint64(data[p])) * _PRIME
    return state


def _fnv1a_byte_strings(offsets, data, seed, out):
    """FNV-1a of each byte string ``data[offsets[i]:offsets[i + 1]]``, started from ``seed``.

    Parameters
    ----------
    offsets : int64[::1], shape (n + 1,)
    data : uint8[::1]
    seed : uint64
        The state to start from (FNV's offset basis, or the hash of a prefix).
    out : uint64[::1], shape (n,); written

    .. math::

        h \\leftarrow (h \\oplus b) \\cdot 1099511628211 \\bmod 2^{64}
        \\quad \\text{for each byte } b
    """
    for i in range(out.shape[0]):
        out[i] = fnv1a_extend(seed, data, offsets[i], offsets[i + 1])


fnv1a_byte_strings = KernelOnFirstUse(
    _fnv1a_byte_strings,
    lambda: numba.void(numba.types.Array(numba.int64, 1, "C", readonly=True),
                       numba.types.Array(numba.uint8, 1, "C", readonly=True),
                       numba.uint64, numba.types.Array(numba.uint64, 1, "C")),
)
