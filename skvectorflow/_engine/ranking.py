"""Ranking losses of one query, computed without allocation.

A query is one work unit: its documents' scores (``pred``), graded relevance
labels (``target``) and sample weights arrive together, and the loss writes
the gradient of every score.  Three losses are built in:

*pairwise* (RankNet)
    ``log(1 + exp(-(s_i - s_j)))`` for each pair with ``label_i > label_j``.
*lambdarank*
    The same pair loss weighted by ``|delta NDCG_ij|``, the change of the
    query's NDCG if documents ``i`` and ``j`` swapped places in the current
    ranking (gain ``2**label - 1``, discount ``1 / log2(1 + position)``, over
    the whole list).
*softmax* (listwise cross-entropy, ListNet's top-one form)
    ``-sum_i q_i log softmax(s)_i`` against the label distribution
    ``q_i = 2**label_i / sum_j 2**label_j``, the softmax of the labels in
    base 2: each grade doubles a document's share, as it doubles NDCG's
    gain ``2**label - 1`` plus one, and a document of grade 0 keeps a share
    instead of being pushed towards minus infinity.

Scale.  Pair losses are averaged over the query's pairs (weighted by
``|delta NDCG|`` for lambdarank) and the softmax loss is per query; each is
then multiplied by the number of documents and by the query's weight (the
mean of its rows' weights).  An epoch's summed loss divided by the summed row
weights is thus a per-document average, and a query of many documents
counts for as much as that many documents, as in pointwise training.

Queries with one document, or whose labels are all equal, have no ordering
to learn: their loss and gradient are zero.

Pair sampling.  The pairs with different labels are numbered without being
listed: with the documents sorted by decreasing label, document at sorted
position ``p`` pairs with every document after the end of its label group.
A prefix sum of those counts decodes pair number ``u`` in O(log n).  When a
query has more than ``max_pairs`` pairs, ``max_pairs`` numbers are drawn
uniformly (with replacement) by a SplitMix64 generator seeded from the
epoch's seed and the unit index, so a run does not depend on which thread
trains which query.
"""

import math

import numba
import numpy as np

from .objectives import RANK_LAMBDARANK, RANK_SOFTMAX

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SHIFT_30 = np.uint64(30)
_SHIFT_27 = np.uint64(27)
_SHIFT_31 = np.uint64(31)
_SHIFT_11 = np.uint64(11)
_UNIT_INTERVAL = 1.0 / 9007199254740992.0  # 2**-53


@numba.njit(nogil=True, cache=True, inline="always")
def _mix(z):
    """SplitMix64's output function."""
    z = (z ^ (z >> _SHIFT_30)) * _MIX_1
    z = (z ^ (z >> _SHIFT_27)) * _MIX_2
    return z ^ (z >> _SHIFT_31)


@numba.njit(nogil=True, cache=True, inline="always")
def unit_seed(epoch_seed, unit):
    """Generator state of one unit: a function of the epoch's seed and the unit alone."""
    return _mix(np.uint64(epoch_seed) + _GOLDEN_GAMMA * np.uint64(unit + 1))


@numba.njit(nogil=True, cache=True, inline="always")
def _draw_below(state, bound):
    """Advance SplitMix64; return the new state and a uniform integer in ``[0, bound)``."""
    state = state + _GOLDEN_GAMMA
    uniform = np.float64(_mix(state) >> _SHIFT_11) * _UNIT_INTERVAL
    return state, min(np.int64(uniform * bound), bound - 1)


@numba.njit(nogil=True, cache=True, inline="always")
def _before(keys, a, b):
    """Whether document ``a`` sorts before ``b``: larger key first, then smaller index."""
    if keys[a] != keys[b]:
        return keys[a] > keys[b]
    return a < b


@numba.njit(nogil=True, cache=True)
def _sift_down(order, keys, start, stop):
    root = start
    while True:
        child = 2 * root + 1
        if child >= stop:
            return
        if child + 1 < stop and _before(keys, order[child], order[child + 1]):
            child += 1
        if _before(keys, order[root], order[child]):
            order[root], order[child] = order[child], order[root]
            root = child
        else:
            return


@numba.njit(nogil=True, cache=True)
def sort_by_decreasing_key(order, keys, n):
    """Fill ``order[:n]`` with ``0..n-1`` sorted by decreasing ``keys`` (ties: index order).

    An in-place heap sort: O(n log n), no allocation, deterministic.
    """
    for i in range(n):
        order[i] = i
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(order, keys, start, n)
    # The heap's root is the document that sorts last: move it to the end.
    for stop in range(n - 1, 0, -1):
        order[0], order[stop] = order[stop], order[0]
        _sift_down(order, keys, 0, stop)


@numba.njit(nogil=True, cache=True, inline="always")
def _gain(label):
    return math.pow(2.0, label) - 1.0


@numba.njit(nogil=True, cache=True, inline="always")
def _discount(position):
    return 1.0 / math.log2(position + 2.0)


@numba.njit(nogil=True, cache=True)
def _softmax_loss(scores, labels, grad, n, scale):
    # Both distributions are shifted by their largest exponent, so neither
    # overflows whatever the scores and labels.
    largest_score = scores[0]
    largest_label = labels[0]
    for i in range(n):
        largest_score = max(largest_score, scores[i])
        largest_label = max(largest_label, labels[i])
    score_norm = 0.0
    label_norm = 0.0
    for i in range(n):
        score_norm += math.exp(scores[i] - largest_score)
        label_norm += math.pow(2.0, labels[i] - largest_label)
    log_norm = largest_score + math.log(score_norm)
    loss = 0.0
    for i in range(n):
        share = math.pow(2.0, labels[i] - largest_label) / label_norm
        loss += share * (log_norm - scores[i])
        grad[i] = scale * (math.exp(scores[i] - log_norm) - share)
    return scale * loss


@numba.njit(nogil=True, cache=True)
def query_loss(code, scores, labels, weights, grad, n, max_pairs, seed, by_label, group_end,
               partners, by_score, position):
    """Weighted loss of one query and its gradient with respect to the scores.

    Parameters
    ----------
    code : int
        ``RANK_PAIRWISE``, ``RANK_LAMBDARANK`` or ``RANK_SOFTMAX``.
    scores, labels, weights : float32[::1], length >= n
        The query's documents.
    grad : float32[::1], length >= n; written
    n : int
        Documents in the query.
    max_pairs : int
        Pairs drawn when the query has more pairs than this (0: all pairs).
    seed : uint64
        The unit's generator state (see ``unit_seed``).
    by_label, group_end, partners, by_score, position : int64[::1]
        Scratch of length >= n (``partners``: n + 1).

    Returns
    -------
    loss : float
    """
    for i in range(n):
        grad[i] = 0.0
    if n < 2:
        return 0.0
    query_weight = 0.0
    varies = False
    for i in range(n):
        query_weight += weights[i]
        varies = varies or labels[i] != labels[0]
    query_weight /= n
    if not varies or query_weight == 0.0:
        return 0.0
    scale = query_weight * n
    if code == RANK_SOFTMAX:
        return _softmax_loss(scores, labels, grad, n, scale)

    # Documents by decreasing label; the end of each one's label group; and
    # partners[p]: the pairs numbered before those of sorted position p.
    sort_by_decreasing_key(by_label, labels, n)
    end = n
    for p in range(n - 1, -1, -1):
        if p < n - 1 and labels[by_label[p]] != labels[by_label[p + 1]]:
            end = p + 1
        group_end[p] = end
    partners[0] = 0
    for p in range(n):
        partners[p + 1] = partners[p] + (n - group_end[p])
    n_pairs = partners[n]

    ideal_dcg = 0.0
    if code == RANK_LAMBDARANK:
        for p in range(n):
            ideal_dcg += _gain(labels[by_label[p]]) * _discount(p)
        sort_by_decreasing_key(by_score, scores, n)
        for p in range(n):
            position[by_score[p]] = p

    sampled = max_pairs > 0 and n_pairs > max_pairs
    n_draws = max_pairs if sampled else n_pairs
    state = seed
    loss = 0.0
    total_pair_weight = 0.0
    p = 0
    for draw in range(n_draws):
        if sampled:
            state, u = _draw_below(state, n_pairs)
            # The sorted position whose pairs include number u.
            low, high = 0, n - 1
            while low < high:
                middle = (low + high + 1) // 2
                if partners[middle] <= u:
                    low = middle
                else:
                    high = middle - 1
            p = low
        else:
            u = draw
            while partners[p + 1] <= u:
                p += 1
        better = by_label[p]
        worse = by_label[group_end[p] + (u - partners[p])]
        margin = scores[better] - scores[worse]
        if code == RANK_LAMBDARANK:
            pair_weight = (abs(_gain(labels[better]) - _gain(labels[worse]))
                           * abs(_discount(position[better]) - _discount(position[worse]))
                           / ideal_dcg)
        else:
            pair_weight = 1.0
        # log(1 + exp(-margin)) and its slope, without overflow.
        if margin > 0.0:
            pair_loss = math.log1p(math.exp(-margin))
            slope = math.exp(-margin) / (1.0 + math.exp(-margin))
        else:
            pair_loss = -margin + math.log1p(math.exp(margin))
            slope = 1.0 / (1.0 + math.exp(margin))
        loss += pair_weight * pair_loss
        grad[better] -= pair_weight * slope
        grad[worse] += pair_weight * slope
        total_pair_weight += pair_weight
    if total_pair_weight <= 0.0:
        for i in range(n):
            grad[i] = 0.0
        return 0.0
    factor = scale / total_pair_weight
    for i in range(n):
        grad[i] *= factor
    return loss * factor
