"""Layout of the ``stats`` array each thread of an epoch fills, and its status codes.

Shared by the epoch kernels (``hogwild``, ``fields_batch``) and read by the
caller, which raises on a status other than ``STATUS_OK``.
"""

# Layout of the per-thread ``stats`` array returned by an epoch.
STAT_LOSS = 0
STAT_WEIGHT = 1
STAT_UPDATES = 2
STAT_STATUS = 3
STAT_BAD_UNIT = 4
N_STATS = 5
STATUS_OK = 0
STATUS_NONFINITE_LOSS = 1
STATUS_NONFINITE_GRADIENT = 2
