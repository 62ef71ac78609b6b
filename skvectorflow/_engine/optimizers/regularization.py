"""L1's proximal step, shared by every optimizer (L2 is a term of each gradient)."""

import numba


@numba.njit(nogil=True, cache=True, inline="always")
def soft_threshold(weight, threshold):
    """``weight`` moved ``threshold`` towards 0, stopping at 0."""
    if weight > threshold:
        return weight - threshold
    if weight < -threshold:
        return weight + threshold
    return 0.0
