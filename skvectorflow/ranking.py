"""Learning to rank on sparse data: SparseMLPRanker and the NDCG it is scored by.

A ranker learns a score per row (document) such that, within each query,
more relevant documents score higher.  Rows carry a query id ``qid``; the
engine trains one query at a time: it runs the query's rows forward, the
loss sees all their scores and relevance labels together, and the gradient
flows back into each row.  Queries are shuffled (in blocks) and shared
among the Hogwild threads like rows are for the other estimators.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, _num_samples, column_or_1d

from ._base import (FITTED_ATTRIBUTES_DOC, NETWORK_PARAMETERS_DOC, TRAINING_PARAMETERS_DOC,
                    BaseSparseMLP)
from ._engine import objectives

__all__ = ["SparseMLPRanker", "mean_ndcg", "group_by_query"]

RANKING_LOSSES = {
    "pairwise": objectives.RANK_PAIRWISE,
    "lambdarank": objectives.RANK_LAMBDARANK,
    "softmax": objectives.RANK_SOFTMAX,
}


def _check_qid(qid, n_samples, method):
    if qid is None:
        raise ValueError(
            f"SparseMLPRanker.{method} requires qid, one query id per row of X (e.g. "
            f"{method}(X, y, qid=qid)). In a GridSearchCV or Pipeline, enable metadata routing "
            f"(sklearn.set_config(enable_metadata_routing=True)) so that qid reaches it."
        )
    given = qid
    qid = np.asarray(qid)
    if qid.ndim != 1:
        qid = column_or_1d(qid, warn=False)
    if qid.dtype.kind == "O" or (qid.dtype.kind in "US" and not isinstance(given, np.ndarray)):
        # NumPy turns [1, "1"] into two equal strings, and str() of an object
        # array does the same: ids of mixed types would merge queries.
        _check_qid_types(given if qid.dtype.kind != "O" else qid)
    if qid.shape[0] != n_samples:
        raise ValueError(f"qid has {qid.shape[0]} values but X has {n_samples} rows.")
    if qid.dtype.kind == "f" and np.isnan(qid).any():
        raise ValueError("qid contains NaN; every row needs a query id.")
    if qid.dtype.kind == "O":
        qid = qid.astype(str)
    return qid


def _qid_type(value):
    """The kind of a query id, as far as telling ids apart goes."""
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, (bytes, np.bytes_)):
        return "bytes"
    if isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        return "number"
    return type(value).__name__


def _check_qid_types(values):
    """Raise if query ids mix types (``1`` and ``"1"``), which would merge their queries."""
    if not isinstance(values, list):
        values = np.asarray(values, dtype=object).ravel()
    kinds = {}
    for value in values:
        kinds.setdefault(_qid_type(value), value)
        if len(kinds) > 1:
            shown = ", ".join(f"{kind} ({example!r})" for kind, example in kinds.items())
            raise ValueError(
                f"qid mixes query ids of different types: {shown}. Ids that print alike, "
                f"such as 1 and '1', would be merged into one query; pass qid of one type "
                f"(all numbers or all strings).")


def group_by_query(qid):
    """Row order that makes every query contiguous, and the queries' row ranges.

    Rows that already are grouped (each query's rows adjacent, in any order
    of queries) are kept as they are.  Otherwise queries are put in
    increasing ``qid`` order, the rows of a query in their input order (a
    stable sort by ``qid``): rows shuffled and then grouped give the same
    arrangement as grouping them with ``np.argsort(qid, kind="stable")``.

    Parameters
    ----------
    qid : array-like of shape (n_samples,)
        Query id of each row (integers or strings).

    Returns
    -------
    order : ndarray of int64, shape (n_samples,) or None
        Rows in grouped order; None when the rows already are grouped.
    bounds : ndarray of int64, shape (n_queries + 1,)
        Query ``q`` is rows ``bounds[q]:bounds[q + 1]`` of the grouped rows.

    Examples
    --------
    >>> from skvectorflow.ranking import group_by_query
    >>> order, bounds = group_by_query([7, 3, 7, 3, 9])
    >>> order.tolist(), bounds.tolist()
    ([1, 3, 0, 2, 4], [0, 2, 4, 5])
    """
    qid = np.asarray(qid)
    if qid.size == 0:
        return None, np.zeros(1, dtype=np.int64)
    run_starts = np.flatnonzero(qid[1:] != qid[:-1]) + 1
    _, inverse = np.unique(qid, return_inverse=True)
    inverse = inverse.ravel()
    n_queries = int(inverse.max()) + 1
    if run_starts.size == n_queries - 1:  # one run of rows per query
        return None, np.concatenate([[0], run_starts, [qid.size]]).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=n_queries))])
    return np.argsort(inverse, kind="stable").astype(np.int64), bounds.astype(np.int64)


def mean_ndcg(y_true, y_score, qid, *, k=10, sample_weight=None):
    """Mean NDCG@k over queries.

    For each query, documents are ranked by decreasing score; the DCG@k is
    ``sum_{position < k} (2**label - 1) / log2(position + 2)`` and the NDCG@k
    its ratio to the DCG@k of the ideal ranking.  Documents with equal scores
    share their positions' discounts equally (the expected DCG of a random
    order among them, as :func:`sklearn.metrics.ndcg_score` does), so a
    constant model scores what a random ranking would.

    Queries whose labels are all equal (including one-document queries) are
    left out: every ranking of them is equally good, so they say nothing
    about the model.  Queries of any size mix freely.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Graded relevance, non-negative.
    y_score : array-like of shape (n_samples,)
        Predicted scores.
    qid : array-like of shape (n_samples,)
        Query id of each row; rows of a query need not be adjacent.
    k : int or None, default=10
        Cut-off; None ranks the whole list.
    sample_weight : array-like of shape (n_samples,), default=None
        A query counts with the mean weight of its rows.

    Returns
    -------
    ndcg : float
        In [0, 1]; NaN with an ``UndefinedMetricWarning`` when no query has
        two different labels.

    Examples
    --------
    >>> from skvectorflow.ranking import mean_ndcg
    >>> mean_ndcg([2, 0, 1, 0, 1], [0.9, 0.1, 0.5, 0.3, 0.2], qid=[1, 1, 1, 2, 2])
    0.8154648767857288
    """
    labels = np.asarray(column_or_1d(y_true, warn=False), dtype=np.float64)
    scores = np.asarray(column_or_1d(y_score, warn=False), dtype=np.float64)
    qid = _check_qid(qid, labels.shape[0], "score")
    if scores.shape[0] != labels.shape[0]:
        raise ValueError(f"y_true has {labels.shape[0]} values but y_score has {scores.shape[0]}.")
    _check_labels(labels)
    if np.isnan(scores).any():
        raise ValueError("y_score contains NaN.")
    if k is not None and (not isinstance(k, Integral) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}.")
    weight = _check_sample_weight(sample_weight, labels, dtype=np.float64, ensure_non_negative=True)
    order, bounds = group_by_query(qid)
    if order is not None:
        labels, scores, weight = labels[order], scores[order], weight[order]
    n_queries = bounds.size - 1
    query = np.repeat(np.arange(n_queries), np.diff(bounds))
    position = np.arange(labels.size) - bounds[query]
    cutoff = np.inf if k is None else k
    gain = np.exp2(labels) - 1.0

    def discounts(positions):
        return np.where(positions < cutoff, 1.0 / np.log2(positions + 2.0), 0.0)

    # Ideal DCG: labels in decreasing order within each query.
    ideal = np.lexsort((-labels, query))
    ideal_dcg = np.bincount(query, weights=gain[ideal] * discounts(position), minlength=n_queries)
    # DCG of the scores, ties sharing their discounts.
    ranked = np.lexsort((-scores, query))
    ranked_scores = scores[ranked]
    tie_start = np.ones(labels.size, dtype=bool)
    tie_start[1:] = (query[1:] != query[:-1]) | (ranked_scores[1:] != ranked_scores[:-1])
    tie_starts = np.flatnonzero(tie_start)
    tie_sizes = np.diff(np.append(tie_starts, labels.size))
    mean_gain = np.add.reduceat(gain[ranked], tie_starts) / tie_sizes
    discount_sum = np.add.reduceat(discounts(position), tie_starts)
    dcg = np.bincount(query[tie_starts], weights=mean_gain * discount_sum, minlength=n_queries)

    varies = (np.maximum.reduceat(labels, bounds[:-1]) > np.minimum.reduceat(labels, bounds[:-1])
              if n_queries else np.zeros(0, dtype=bool))
    query_weight = np.add.reduceat(weight, bounds[:-1]) / np.diff(bounds) if n_queries else weight[:0]
    used = varies & (query_weight > 0)
    if not used.any():
        warnings.warn(
            "NDCG is undefined: no query has documents with different labels.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    return float(np.average(dcg[used] / ideal_dcg[used], weights=query_weight[used]))


def _check_labels(labels):
    if not np.all(np.isfinite(labels)):
        raise ValueError("Relevance labels y must be finite; y contains NaN or infinity.")
    if np.any(labels < 0):
        raise ValueError("Relevance labels y must be non-negative; y has negative values.")
    if np.any(labels > 64):
        raise ValueError(
            "Relevance labels y must be at most 64 (the NDCG gain is 2**label - 1); "
            "use graded levels such as 0-4."
        )


_RANKER_LOSS_CALLBACK_PARAMETER = """\
    loss_callback : callable or str, default=None
        A custom loss of one query, ``f(scores, labels, weights, grad) -> loss``,
        compiled with Numba at ``fit``: ``scores`` holds the network outputs
        of the query's documents, ``labels`` their relevance, ``weights``
        their sample weights, and ``grad`` is to be filled with the gradient
        of the returned loss with respect to each score (see
        :mod:`skvectorflow.losses` for the contract).  It replaces ``loss``.

"""


class SparseMLPRanker(BaseSparseMLP):
    __doc__ = f"""Learning to rank with linear models and shallow nets on sparse data.

    Scores every row (document) so that, within each query, more relevant
    documents score higher.  Training visits one query at a time: the
    query's documents go forward together, the ranking loss sees their
    scores and labels, and the gradient flows back into each document's
    row.  Queries are shuffled in blocks and shared among Hogwild threads.

    Parameters
    ----------
    loss : {{'pairwise', 'lambdarank', 'softmax'}}, default='pairwise'
        ``'pairwise'``: RankNet, the logistic loss of the score difference
        of each pair of documents with different labels.  ``'lambdarank'``:
        the same pairs, each weighted by ``|delta NDCG|``, the change of the
        query's NDCG if the two documents swapped places.  ``'softmax'``:
        cross-entropy between the softmax of the scores and the softmax
        of the labels in base 2, ``2**label / sum(2**label)`` (listwise).
        ``'pairwise'`` is the default because it ranked best in every
        comparison the project ran (see the benchmarks in the docs): the
        other two concentrate the gradient on the top grades and learn
        less from each query.
{NETWORK_PARAMETERS_DOC}{_RANKER_LOSS_CALLBACK_PARAMETER}{TRAINING_PARAMETERS_DOC}
    max_pairs_per_query : int or None, default=10_000
        Largest number of pairs a pair loss uses per query and epoch; a
        query with more pairs uses this many, drawn uniformly with
        replacement each epoch (seeded by ``random_state``), so a query of
        ``n`` documents costs O(n log n + max_pairs_per_query) instead of
        O(n**2).  None uses every pair.

    eval_at : int, default=10
        Cut-off ``k`` of the NDCG@k reported by ``score`` and used by early
        stopping.

    Attributes
    ----------
{FITTED_ATTRIBUTES_DOC}
    See Also
    --------
    mean_ndcg : The metric of ``score``.
    skvectorflow.datasets.make_sparse_ranking : Synthetic ranking data.

    Notes
    -----
    *Queries.*  ``qid`` gives each row's query; rows of a query need not be
    adjacent or sorted.  Rows already grouped by query are used as they are,
    without a copy of X; otherwise X is copied once, grouped by a stable sort
    on ``qid`` (see :func:`group_by_query`), so shuffled rows train exactly
    as the same rows grouped by ``np.argsort(qid, kind="stable")``.

    *Uninformative queries.*  Queries of one document, and queries whose
    documents all have the same label, contribute no loss and no gradient
    (there is no pair to order) and are left out of the NDCG; fitting warns
    when every query is like that.

    *Weights.*  ``sample_weight`` is per row; a query counts with the mean
    weight of its rows (give the rows of a query the same weight, as
    XGBoost and LightGBM take one weight per query).

    *Loss scale.*  Each query's loss is its mean pair loss (or its
    cross-entropy) times its number of documents, so ``loss_curve_`` is a
    per-document average and a long query weighs as much as that many
    documents.

    *Model selection.*  ``fit`` and ``score`` request ``qid`` by default:
    with ``sklearn.set_config(enable_metadata_routing=True)``,
    ``GridSearchCV(ranker, grid, cv=GroupKFold()).fit(X, y, qid=qid, groups=qid)``
    splits by query and hands each fit and score its slice of ``qid``.

    Examples
    --------
    >>> from skvectorflow import SparseMLPRanker
    >>> from skvectorflow.datasets import make_sparse_ranking
    >>> X, y, qid = make_sparse_ranking(n_queries=200, docs_per_query=20,
    ...                                 n_features=1000, random_state=0)
    >>> ranker = SparseMLPRanker(max_iter=5, random_state=0).fit(X, y, qid=qid)
    >>> ranker.predict(X[:3]).shape
    (3,)
    >>> bool(ranker.score(X, y, qid=qid) > 0.6)
    True
    """

    _parameter_constraints = {
        **BaseSparseMLP._parameter_constraints,
        "loss": [StrOptions(set(RANKING_LOSSES))],
        "max_pairs_per_query": [Interval(Integral, 1, None, closed="left"), None],
        "eval_at": [Interval(Integral, 1, None, closed="left")],
    }

    __metadata_request__fit = {"qid": True}
    __metadata_request__partial_fit = {"qid": True}
    __metadata_request__score = {"qid": True}

    def __init__(
        self,
        loss="pairwise",
        *,
        hidden_layer_sizes=(),
        activation="relu",
        loss_callback=None,
        optimizer="adagrad",
        alpha=1e-4,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        shuffle_window_size=1 << 20,
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        ftrl_beta=1.0,
        max_pairs_per_query=10_000,
        eval_at=10,
        verbose=0,
        n_jobs=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss_callback = loss_callback
        self.optimizer = optimizer
        self.alpha = alpha
        self.l1 = l1
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.shuffle_block_size = shuffle_block_size
        self.shuffle_window_size = shuffle_window_size
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.ftrl_beta = ftrl_beta
        self.max_pairs_per_query = max_pairs_per_query
        self.eval_at = eval_at
        self.verbose = verbose
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, qid=None, sample_weight=None):
        """Fit the ranker.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Documents; float32 CSR with int32 indices is used without a copy
            when its rows are grouped by query.
        y : array-like of shape (n_samples,)
            Graded relevance of each document (non-negative, e.g. 0-4).
        qid : array-like of shape (n_samples,)
            Query id of each row (required).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a query counts with the mean of its rows'.

        Returns
        -------
        self : SparseMLPRanker
        """
        return self._fit(X, y, sample_weight, incremental=False, qid=qid)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, qid=None, sample_weight=None):
        """Run one epoch over the queries of X, starting from the current model if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        qid : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : SparseMLPRanker
        """
        return self._fit(X, y, sample_weight, incremental=True, qid=qid)

    def predict(self, X):
        """Score of each row; within a query, higher means ranked earlier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._raw_outputs(X)[:, 0].astype(np.float64)

    def score(self, X, y, qid=None, sample_weight=None):
        """Mean NDCG@``eval_at`` of ``predict(X)`` over the queries.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        qid : array-like of shape (n_samples,)
            Query id of each row (required).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        ndcg : float
            See :func:`mean_ndcg`.
        """
        qid = _check_qid(qid, _num_samples(X), "score")
        return mean_ndcg(y, self.predict(X), qid, k=self.eval_at, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # ---- subclass hooks ----
    def _encode_targets(self, y, first_call, classes=None):
        if y is None:
            raise ValueError("SparseMLPRanker requires y to be passed, but the target y is None.")
        labels = np.asarray(column_or_1d(y, warn=True), dtype=np.float64)
        _check_labels(labels)
        if first_call:
            self.n_outputs_ = 1
        return np.ascontiguousarray(labels.reshape(-1, 1), dtype=np.float32)

    def _group_units(self, X, targets, sample_weight, qid):
        qid = _check_qid(qid, X.shape[0], "fit")
        order, bounds = group_by_query(qid)
        if order is not None:
            X, targets, sample_weight = X[order], targets[order], sample_weight[order]
        labels = targets[:, 0]
        starts = bounds[:-1]
        informative = (np.diff(bounds) > 1) & (
            np.maximum.reduceat(labels, starts) > np.minimum.reduceat(labels, starts))
        if not informative.any():
            warnings.warn(
                f"None of the {starts.size} queries has documents with different labels, so there "
                f"is nothing to rank: the model will not learn. Check y and qid.",
                UserWarning,
                stacklevel=5,
            )
        return X, targets, sample_weight, bounds

    def _loss_code(self):
        return RANKING_LOSSES[self.loss]

    def _max_pairs_per_query(self):
        return 0 if self.max_pairs_per_query is None else self.max_pairs_per_query

    def _initial_outputs(self, targets, sample_weight, compiled_callback, n_outputs):
        # Rankings do not change when every score shifts: no bias to fit.
        return np.zeros(n_outputs, dtype=np.float32)

    def _validation_score(self, outputs, targets, sample_weight, unit_bounds):
        qid = np.repeat(np.arange(unit_bounds.size - 1), np.diff(unit_bounds))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            score = mean_ndcg(targets[:, 0], outputs[:, 0], qid, k=self.eval_at,
                              sample_weight=sample_weight)
        return 0.0 if np.isnan(score) else score
