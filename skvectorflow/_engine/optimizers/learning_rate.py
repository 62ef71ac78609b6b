"""Learning-rate schedules, shared by every optimizer."""

import math

import numba

CONSTANT = 0
INVSCALING = 1
LEARNING_RATE_CODES = {"constant": CONSTANT, "invscaling": INVSCALING}


@numba.njit(nogil=True, cache=True, inline="always")
def scheduled_rate(config, step):
    """The schedule's learning rate at global update ``step`` (1-based).

    ``constant``: ``learning_rate_init``; ``invscaling``:
    ``learning_rate_init / step ** power_t``.
    """
    rate = config.learning_rate
    if config.learning_rate_schedule == INVSCALING:
        rate = rate / math.pow(float(step), config.power_t)
    return rate

