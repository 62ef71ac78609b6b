"""L1's proximal step, shared by every optimizer (L2 is a term of each gradient)."""

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, inline="always")
def soft_threshold(weight, threshold):
    """``weight`` moved ``threshold`` towards 0, stopping at 0."""
    if weight > threshold:
        return weight - threshold
    if weight < -threshold:
        return weight + threshold
    return 0.0


@numba.njit(nogil=True, cache=True, inline="always")
def dense_penalties(config, penalised):
    """L2 and L1 strengths of a dense segment, as float32: zeros for a bias (``penalised`` False)."""
    if penalised:
        return np.float32(config.alpha), np.float32(config.l1)
    return np.float32(0.0), np.float32(0.0)
