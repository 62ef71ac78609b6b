"""Weighted pair counts of Harrell's concordance index in O(n log n).

A pair of rows ``(i, j)`` is *comparable* when row ``i`` had the event and
row ``j`` is known to have outlived it: ``time[j] > time[i]``, or
``time[j] == time[i]`` with ``j`` censored (a censored row was still at risk
at its time; this is also scikit-survival's rule).  A comparable pair is
*concordant* when the model predicts the shorter survival for ``i``
(``predicted[i] < predicted[j]``), *tied* when the predictions are equal, and
*discordant* otherwise.  Each pair counts ``weight[i] * weight[j]``, so an
integer weight counts like repeating the row.

Rows are visited from the latest time to the earliest while a Fenwick tree
over prediction ranks holds the weight of the rows seen so far; every event
row then reads its concordant, tied and discordant weights from the tree in
O(log n), instead of scanning all the rows that outlived it.
"""

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def _add(tree, rank, value):
    position = rank + 1
    while position < tree.shape[0]:
        tree[position] += value
        position += position & -position


@numba.njit(nogil=True, cache=True)
def _weight_below(tree, rank):
    """Summed weight of the rows added with a prediction rank below ``rank``."""
    total = 0.0
    position = rank
    while position > 0:
        total += tree[position]
        position -= position & -position
    return total


@numba.njit(nogil=True, cache=True)
def concordant_pair_weights(time_order, time, event, prediction_rank, n_ranks, weight):
    """Summed weights of the concordant, tied and discordant comparable pairs.

    Parameters
    ----------
    time_order : int64[::1]
        Row indices sorted by ascending ``time``.
    time : float64[::1]
    event : bool[::1]
    prediction_rank : int64[::1]
        Dense rank of each row's prediction (equal predictions, equal rank;
        a higher prediction means a longer predicted survival).
    n_ranks : int
        Number of distinct predictions.
    weight : float64[::1]

    Returns
    -------
    concordant, tied, discordant : float
    """
    n_rows = time_order.shape[0]
    tree = np.zeros(n_ranks + 1, dtype=np.float64)
    weight_at_rank = np.zeros(n_ranks, dtype=np.float64)
    added_weight = 0.0
    concordant = 0.0
    tied = 0.0
    discordant = 0.0
    group_stop = n_rows
    while group_stop > 0:
        # The rows sharing the latest time not yet visited: order[group_start:group_stop].
        group_time = time[time_order[group_stop - 1]]
        group_start = group_stop - 1
        while group_start > 0 and time[time_order[group_start - 1]] == group_time:
            group_start -= 1
        # Censored rows of the group outlive its events: add them first.
        for k in range(group_start, group_stop):
            row = time_order[k]
            if not event[row]:
                _add(tree, prediction_rank[row], weight[row])
                weight_at_rank[prediction_rank[row]] += weight[row]
                added_weight += weight[row]
        for k in range(group_start, group_stop):
            row = time_order[k]
            if event[row]:
                rank = prediction_rank[row]
                below = _weight_below(tree, rank)
                same = weight_at_rank[rank]
                above = added_weight - below - same
                concordant += weight[row] * above
                tied += weight[row] * same
                discordant += weight[row] * below
        for k in range(group_start, group_stop):
            row = time_order[k]
            if event[row]:
                _add(tree, prediction_rank[row], weight[row])
                weight_at_rank[prediction_rank[row]] += weight[row]
                added_weight += weight[row]
        group_stop = group_start
    return concordant, tied, discordant
