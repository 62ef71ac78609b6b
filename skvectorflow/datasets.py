r"""Synthetic sparse, high-dimensional data sets with a known teacher.

This module holds the generators used by the tests, the examples and the
benchmarks of skvectorflow:

- :func:`make_sparse_classification`: binary or multiclass labels;
- :func:`make_sparse_regression`: one or several real-valued targets;
- :func:`make_sparse_survival`: right-censored exponential event times;
- :func:`make_sparse_ranking`: queries of documents with graded relevance;
- :func:`make_criteo_like` and :func:`load_criteo` (from
  :mod:`skvectorflow.criteo`): click data with categorical fields, synthetic
  or read from the Criteo display-advertising format.

All draw the same kind of input. ``X`` is a canonical
:class:`scipy.sparse.csr_matrix` (float32 ``data``, int32 ``indices``,
sorted, no duplicates) that looks like a tf-idf or count matrix:

- every row has exactly ``nnz_per_row`` distinct columns, with positive
  log-normal values scaled to unit Euclidean norm;
- column popularity is heavy-tailed (Zipf-like): a random permutation of the
  columns gives each one a rank ``r`` (0 is the most popular), and a row
  draws its columns without replacement, one after the other, each draw
  picking rank ``r`` with probability proportional to

  .. math::

      p(r) = \int_r^{r + 1} (t + 10)^{-1.1} \, dt,

  so a few columns appear in a large share of the rows and most are rare.

The targets come from a hidden *teacher* with a linear part and a
non-linear part. Writing ``n_outputs`` for the number of scores (1 for
binary classification and for one regression target, ``n_classes`` or
``n_targets`` otherwise), the teacher draws

- ``W`` of shape ``(n_features, n_outputs)``, entries i.i.d. N(0, 1);
- ``U`` of shape ``(n_features, 8)``, zero except on the *head*: the
  ``h = min(1024, n_features)`` most popular columns, whose entries are
  i.i.d. N(0, 1 / m), where ``m`` is the share of all draws that fall in the
  head (``m = 1`` when the head is every column);
- ``V`` of shape ``(8, n_outputs)``, i.i.d. N(0, 1) with each column then
  scaled to unit norm;

(``W`` and ``U`` in float32) and scores a row ``x`` as

.. math::

    s(x) = \frac{x W + \lambda \, g(x U) V}{\sqrt{1 + \lambda^2}},
    \qquad
    g(z) = \frac{|z| - \sqrt{2 / \pi}}{\sqrt{1 - 2 / \pi}},

with ``lambda = nonlinearity``. Because the rows have unit norm, each
entry of ``x W`` is N(0, 1) over the teacher's draw, and each entry of
``x U`` has variance close to 1 on average over the rows; ``g`` centres and
scales ``|z|`` to mean 0 and variance 1, and so every score has variance
close to 1 whatever ``nonlinearity`` is. ``nonlinearity`` sets the share
``lambda**2 / (1 + lambda**2)`` of that variance that no linear model of
``x`` can explain. Since ``|z| = 2 relu(z) - z``, the whole teacher is a
ReLU network with 8 + 2 hidden units on the sparse input: an MLP with 16
hidden units can represent it exactly. The non-linear part lives on the
head because that is where an MLP can learn it: as in real click or text
data, interactions among frequent columns are estimable, whereas the long
tail is seen too rarely for more than one weight per column. (Spread over
all ``2**20`` columns instead, the same terms were out of reach of a
16-unit MLP trained for one epoch on a million rows.) The scores are
computed with sparse products (``X @ W``); ``X`` is never made dense.

Randomness. ``random_state`` may be an int, None, a
:class:`numpy.random.RandomState` or a :class:`numpy.random.Generator`
(see :func:`make_sparse_regression`). The generator is split into three
independent streams: one for the column ranking and the teacher, one for
the rows, one for the label and target noise. Hence the column ranking
depends only on ``random_state`` and ``n_features``, and the teacher only
on those and the number of outputs: not on ``n_samples``, ``nnz_per_row``,
``nonlinearity`` or ``noise``.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.utils import check_random_state

from .criteo import load_criteo, make_criteo_like
from .survival import make_survival_target

__all__ = [
    "load_criteo",
    "make_criteo_like",
    "make_sparse_classification",
    "make_sparse_ranking",
    "make_sparse_regression",
    "make_sparse_survival",
]

# Column popularity: p(rank) is proportional to the integral of
# (t + _ZIPF_OFFSET) ** -_ZIPF_EXPONENT over [rank, rank + 1).
_ZIPF_OFFSET = 10.0
_ZIPF_EXPONENT = 1.1

# Standard deviation of log(value) before the rows are normalised.
_VALUE_LOG_SIGMA = 0.5

# Hidden units of the teacher's non-linear part, and the number of most
# popular columns (the head) they read.
_N_TEACHER_HIDDEN = 8
_TEACHER_HEAD = 1024

# Classification logits are _LOGIT_SCALE * score (score variance ~ 1).
_LOGIT_SCALE = 2.5

# Bound on the number of candidate column draws held at once while sampling
# (each costs a few tens of bytes of temporaries).
_CHUNK_CANDIDATES = 1 << 21

# Rows whose columns are drawn with the Gumbel top-k method (dense rows)
# instead of by drawing with replacement and dropping repeats.
_GUMBEL_DENSITY = 1.0 / 8.0

_MAX_INT32 = np.iinfo(np.int32).max

# Moments of |z| for z ~ N(0, 1).
_ABS_NORMAL_MEAN = math.sqrt(2.0 / math.pi)
_ABS_NORMAL_STD = math.sqrt(1.0 - 2.0 / math.pi)


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def _check_int(name, value, minimum, maximum=None):
    """Return ``value`` as a Python int, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}."
        )
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    return value


def _check_nonnegative_real(name, value):
    """Return ``value`` as a finite float >= 0, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return value


def _check_generator(random_state):
    """Turn ``random_state`` into a :class:`numpy.random.Generator`.

    A Generator is used as is (and advanced); an int seeds a new
    ``np.random.default_rng``; None and a RandomState go through
    :func:`sklearn.utils.check_random_state` (None is NumPy's global
    RandomState, as everywhere in scikit-learn), from which 128 bits of seed
    are drawn.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(
            "random_state must be None, an int, a numpy.random.RandomState or "
            f"a numpy.random.Generator, got {random_state!r}."
        )
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}.")
        return np.random.default_rng(int(random_state))
    if random_state is None or isinstance(random_state, np.random.RandomState):
        legacy = check_random_state(random_state)
        seed = legacy.randint(2**32, size=4, dtype=np.uint64)
        return np.random.default_rng([int(s) for s in seed])
    raise TypeError(
        "random_state must be None, an int, a numpy.random.RandomState or a "
        f"numpy.random.Generator, got {random_state!r} of type "
        f"{type(random_state).__name__}."
    )


def _split_streams(rng, n_streams):
    """Derive ``n_streams`` independent Generators from one draw of ``rng``."""
    entropy = rng.integers(2**63, size=2, dtype=np.uint64)
    seq = np.random.SeedSequence([int(e) for e in entropy])
    return [np.random.default_rng(child) for child in seq.spawn(n_streams)]


# --------------------------------------------------------------------------
# Sparse input
# --------------------------------------------------------------------------


def _zipf_cdf_ends(n_features):
    """Return ``(a, b)``: the antiderivative terms at rank 0 and ``n_features``."""
    power = 1.0 - _ZIPF_EXPONENT
    return _ZIPF_OFFSET**power, (n_features + _ZIPF_OFFSET) ** power


def _draw_zipf_ranks(rng, n_features, shape):
    """Draw i.i.d. ranks with ``p(r)`` from the module docstring.

    Inverse-CDF sampling of the continuous density ``(t + c) ** -s`` on
    ``[0, n_features)``, floored: the floor has exactly the discrete ``p(r)``.

    Returns
    -------
    ranks : ndarray of shape ``shape``, dtype int64
    """
    a, b = _zipf_cdf_ends(n_features)
    u = rng.random(shape)
    u *= b - a
    u += a
    np.power(u, 1.0 / (1.0 - _ZIPF_EXPONENT), out=u)
    u -= _ZIPF_OFFSET
    ranks = u.astype(np.int64)
    np.clip(ranks, 0, n_features - 1, out=ranks)
    return ranks


def _zipf_log_weights(n_features):
    """Return ``log p(r)`` up to a constant, shape (n_features,), float64."""
    power = 1.0 - _ZIPF_EXPONENT
    edges = np.arange(n_features + 1, dtype=np.float64) + _ZIPF_OFFSET
    edges = edges**power
    return np.log(edges[:-1] - edges[1:])


def _first_distinct(candidates, k):
    """Keep, per row, the first ``k`` distinct values in draw order.

    Parameters
    ----------
    candidates : ndarray of shape (n_rows, m), dtype int64
        Non-negative values, each row in draw order.
    k : int
        Number of distinct values wanted per row.

    Returns
    -------
    complete : ndarray of shape (n_rows,), dtype bool
        Rows with at least ``k`` distinct values.
    keep : ndarray of shape (n_rows, m), dtype bool
        For complete rows, exactly ``k`` True entries: the first occurrence of
        each of the row's first ``k`` distinct values.
    """
    n_rows, m = candidates.shape
    shift = max(1, (m - 1).bit_length())
    # Sort (value, position) pairs packed in one integer: equal values end up
    # adjacent, in draw order, so the first of each run is its first draw.
    key = candidates << shift
    key |= np.arange(m, dtype=np.int64)
    if int(candidates.max(initial=0)) < (_MAX_INT32 >> shift):
        key = key.astype(np.int32)
    key.sort(axis=1)
    position = key & ((1 << shift) - 1)
    key >>= shift
    is_first = np.empty((n_rows, m), dtype=bool)
    is_first[:, 0] = True
    np.not_equal(key[:, 1:], key[:, :-1], out=is_first[:, 1:])
    keep = np.empty((n_rows, m), dtype=bool)
    np.put_along_axis(keep, position.astype(np.intp), is_first, axis=1)
    n_seen = np.cumsum(keep, axis=1, dtype=np.int32)
    complete = n_seen[:, -1] >= k
    keep &= n_seen <= k
    return complete, keep


def _sample_ranks_rejection(rng, n_rows, n_features, k):
    """Draw ``k`` distinct ranks per row by successive sampling.

    Draws ranks with replacement and keeps the first ``k`` distinct ones of
    each row; rows with too few distinct draws get more draws appended (never
    a fresh start, which would bias the rows), in rounds whose size doubles.
    The result is exactly sequential sampling without replacement.

    Returns
    -------
    ranks : ndarray of shape (n_rows, k), dtype int64, in draw order
    """
    out = np.empty((n_rows, k), dtype=np.int64)
    extra = max(4, -(-k // 4))
    pending = np.arange(n_rows)
    candidates = _draw_zipf_ranks(rng, n_features, (n_rows, k + extra))
    while pending.size:
        complete, keep = _first_distinct(candidates, k)
        if complete.any():
            done = pending[complete]
            out[done] = candidates[complete][keep[complete]].reshape(-1, k)
        incomplete = ~complete
        pending = pending[incomplete]
        if pending.size:
            extra *= 2
            more = _draw_zipf_ranks(rng, n_features, (pending.size, extra))
            candidates = np.concatenate([candidates[incomplete], more], axis=1)
    return out


def _sample_ranks_gumbel(rng, n_rows, n_features, k, log_weights):
    """Draw ``k`` distinct ranks per row with the Gumbel top-k trick.

    The ``k`` largest of ``log p(r) + Gumbel`` are a sample without
    replacement with the same law as successive sampling. Costs
    ``O(n_features)`` per row: used for dense rows only.

    Returns
    -------
    ranks : ndarray of shape (n_rows, k), dtype int64 (in no special order)
    """
    keys = rng.gumbel(size=(n_rows, n_features))
    keys += log_weights
    if k == n_features:
        top = np.broadcast_to(np.arange(n_features), (n_rows, n_features))
    else:
        top = np.argpartition(keys, n_features - k, axis=1)[:, n_features - k :]
    return top.astype(np.int64)


def _sample_ranks(rng, n_rows, n_features, k, method="auto"):
    """Draw ``k`` distinct Zipf ranks for each of ``n_rows`` rows.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_rows, n_features, k : int
        ``1 <= k <= n_features``.
    method : {"auto", "rejection", "gumbel"}
        Both methods give the same law (successive sampling without
        replacement); "auto" uses Gumbel top-k when ``k`` is more than
        1/8 of ``n_features``, rejection otherwise.

    Returns
    -------
    ranks : ndarray of shape (n_rows, k), dtype int64
    """
    if method == "auto":
        method = "gumbel" if k > _GUMBEL_DENSITY * n_features else "rejection"
    if method == "gumbel":
        log_weights = _zipf_log_weights(n_features)
        chunk = max(1, _CHUNK_CANDIDATES // n_features)
        parts = [
            _sample_ranks_gumbel(
                rng, min(chunk, n_rows - start), n_features, k, log_weights
            )
            for start in range(0, n_rows, chunk)
        ]
    elif method == "rejection":
        chunk = max(1, _CHUNK_CANDIDATES // (k + max(4, -(-k // 4))))
        parts = [
            _sample_ranks_rejection(rng, min(chunk, n_rows - start), n_features, k)
            for start in range(0, n_rows, chunk)
        ]
    else:
        raise ValueError(f"unknown method {method!r}")
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _make_sparse_input(rng, column_of_rank, n_samples, nnz_per_row):
    """Draw the input matrix.

    Parameters
    ----------
    rng : numpy.random.Generator
        The rows' stream.
    column_of_rank : ndarray of shape (n_features,), dtype int32
        ``column_of_rank[r]`` is the column with popularity rank ``r``.
    n_samples, nnz_per_row : int

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Canonical, float32 data, int32 indices, rows of unit L2 norm.
    """
    n_features = column_of_rank.shape[0]
    k = nnz_per_row
    nnz = n_samples * k
    indices = np.empty((n_samples, k), dtype=np.int32)
    chunk = max(1, _CHUNK_CANDIDATES // (2 * k))
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        ranks = _sample_ranks(rng, stop - start, n_features, k)
        block = indices[start:stop]
        np.take(column_of_rank, ranks, out=block)
        block.sort(axis=1)
    data = rng.standard_normal((n_samples, k), dtype=np.float32)
    data *= _VALUE_LOG_SIGMA
    np.exp(data, out=data)
    norms = np.sqrt(np.einsum("ij,ij->i", data, data))
    data /= norms[:, None]

    indptr_dtype = np.int32 if nnz <= _MAX_INT32 else np.int64
    indptr = np.arange(0, nnz + 1, k, dtype=indptr_dtype)
    X = sp.csr_matrix((n_samples, n_features), dtype=np.float32)
    # Assigned directly so that scipy does not upcast the int32 indices when
    # the int64 indptr is needed (more than 2**31 - 1 non-zeros).
    X.data = data.reshape(-1)
    X.indices = indices.reshape(-1)
    X.indptr = indptr
    X.has_sorted_indices = True
    X.has_canonical_format = True
    return X


# --------------------------------------------------------------------------
# Teacher
# --------------------------------------------------------------------------


def _draw_world(rng, n_features, n_outputs):
    """Draw the column ranking and the teacher's weights.

    Returns
    -------
    column_of_rank : ndarray of shape (n_features,), dtype int32
    weights : ndarray of shape (n_features, n_outputs + 8), dtype float32
        Columns ``[:n_outputs]`` are ``W``, the rest ``U`` (zero outside the
        head).
    mixing : ndarray of shape (8, n_outputs), dtype float64
        ``V``, with unit-norm columns.
    """
    column_of_rank = rng.permutation(n_features).astype(np.int32)
    weights = np.zeros((n_features, n_outputs + _N_TEACHER_HIDDEN), dtype=np.float32)
    weights[:, :n_outputs] = rng.standard_normal(
        (n_features, n_outputs), dtype=np.float32
    )
    n_head = min(_TEACHER_HEAD, n_features)
    a, b = _zipf_cdf_ends(n_features)
    head_mass = (a - (n_head + _ZIPF_OFFSET) ** (1.0 - _ZIPF_EXPONENT)) / (a - b)
    head = rng.standard_normal((n_head, _N_TEACHER_HIDDEN), dtype=np.float32)
    head *= np.float32(1.0 / math.sqrt(head_mass))
    weights[column_of_rank[:n_head], n_outputs:] = head
    mixing = rng.standard_normal((_N_TEACHER_HIDDEN, n_outputs))
    mixing /= np.linalg.norm(mixing, axis=0)
    return column_of_rank, weights, mixing


def _teacher_scores(X, weights, mixing, nonlinearity):
    """Score every row; see the module docstring for the formula.

    Returns
    -------
    scores : ndarray of shape (n_samples, n_outputs), dtype float64
    """
    n_outputs = mixing.shape[1]
    projections = X @ weights  # sparse x dense, float32
    scores = projections[:, :n_outputs].astype(np.float64)
    if nonlinearity > 0:
        hidden = np.abs(projections[:, n_outputs:], dtype=np.float64)
        hidden -= _ABS_NORMAL_MEAN
        hidden /= _ABS_NORMAL_STD
        scores += nonlinearity * (hidden @ mixing)
    scores /= math.sqrt(1.0 + nonlinearity**2)
    return scores


def _add_noise(rng, scores, noise):
    """Add ``noise * std(score) * N(0, 1)`` to each column of ``scores``."""
    if noise > 0:
        scale = noise * scores.std(axis=0)
        scores += scale * rng.standard_normal(scores.shape)
    return scores


def _check_common(n_samples, n_features, nnz_per_row, nonlinearity, noise):
    n_samples = _check_int("n_samples", n_samples, 1)
    n_features = _check_int("n_features", n_features, 1, _MAX_INT32)
    nnz_per_row = _check_int("nnz_per_row", nnz_per_row, 1)
    if nnz_per_row > n_features:
        raise ValueError(
            f"nnz_per_row must be <= n_features, got nnz_per_row={nnz_per_row} "
            f"and n_features={n_features}."
        )
    nonlinearity = _check_nonnegative_real("nonlinearity", nonlinearity)
    noise = _check_nonnegative_real("noise", noise)
    return n_samples, n_features, nnz_per_row, nonlinearity, noise


def _make_scored_input(
    n_samples, n_features, nnz_per_row, n_outputs, nonlinearity, noise, random_state
):
    """Shared body: returns ``(X, noisy scores, label stream)``."""
    rng = _check_generator(random_state)
    world_rng, rows_rng, label_rng = _split_streams(rng, 3)
    column_of_rank, weights, mixing = _draw_world(world_rng, n_features, n_outputs)
    X = _make_sparse_input(rows_rng, column_of_rank, n_samples, nnz_per_row)
    del column_of_rank
    scores = _teacher_scores(X, weights, mixing, nonlinearity)
    del weights
    scores = _add_noise(label_rng, scores, noise)
    return X, scores, label_rng


# --------------------------------------------------------------------------
# Public generators
# --------------------------------------------------------------------------


def make_sparse_classification(
    n_samples=10_000,
    n_features=2**16,
    nnz_per_row=30,
    n_classes=2,
    nonlinearity=0.5,
    noise=0.0,
    random_state=None,
):
    """Generate a sparse, high-dimensional classification problem.

    Rows look like tf-idf vectors (exactly ``nnz_per_row`` positive values,
    unit L2 norm, Zipf-like column popularity) and the labels come from a
    hidden teacher that is partly linear and partly non-linear, so that a
    small MLP can do better than a linear model. The module docstring gives
    the exact teacher.

    With two classes the label is drawn from Bernoulli(sigmoid(2.5 * s(x))),
    where the teacher score ``s(x)`` has variance close to 1; with more
    classes, one score per class and the label drawn from
    softmax(2.5 * s(x)) (the argmax of the logits plus Gumbel noise). The
    labels are therefore noisy: the teacher's own score has a ROC AUC of
    about 0.89 whatever ``nonlinearity`` is. On 1,000,000 rows with
    ``n_features=2**20``, ``nnz_per_row=30`` and the default
    ``nonlinearity``, one epoch of skvectorflow's per-row AdaGrad reached a
    held-out ROC AUC of about 0.80 with a linear logistic model and 0.81-0.82
    with a 16-unit ReLU MLP; further epochs over-fit the MLP, whose rare
    columns' input weights memorise their few rows.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows, at least 1.
    n_features : int, default=2**16
        Number of columns, between 1 and 2**31 - 1. The teacher holds
        ``n_features * (n_outputs + 8)`` float32 weights while generating
        (``n_outputs`` is 1 for two classes, else ``n_classes``).
    nnz_per_row : int, default=30
        Number of distinct non-zero columns in every row, between 1 and
        ``n_features``.
    n_classes : int, default=2
        Number of classes, at least 2.
    nonlinearity : float, default=0.5
        Weight ``lambda >= 0`` of the teacher's non-linear part relative to
        its linear part; ``lambda**2 / (1 + lambda**2)`` of the score's
        variance is out of reach of a linear model. 0 gives a purely linear
        (logistic) teacher.
    noise : float, default=0.0
        Standard deviation, in units of the score's standard deviation, of
        Gaussian noise added to each score before the labels are drawn.
        Adds label noise on top of the Bernoulli/softmax sampling.
    random_state : int, RandomState, Generator or None, default=None
        Source of randomness. An int seeds ``numpy.random.default_rng``; a
        Generator is used directly (and advanced); None and a RandomState
        go through :func:`sklearn.utils.check_random_state` (None is
        NumPy's global RandomState) and seed a Generator from it. Pass an
        int for reproducible output: the same int gives identical ``X``
        and ``y``.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Canonical CSR (sorted indices, no duplicates) with float32 ``data``,
        int32 ``indices`` and int32 ``indptr`` (int64 above 2**31 - 1
        non-zeros). Values are positive and each row has unit L2 norm.
    y : ndarray of shape (n_samples,), dtype int64
        Class labels in ``0, ..., n_classes - 1``.

    See Also
    --------
    make_sparse_regression : The same input with real-valued targets.
    sklearn.datasets.make_classification : Dense, low-dimensional analogue.

    Examples
    --------
    >>> from skvectorflow.datasets import make_sparse_classification
    >>> X, y = make_sparse_classification(
    ...     n_samples=1000, n_features=2**12, nnz_per_row=20, random_state=0
    ... )
    >>> X.shape, X.dtype, X.indices.dtype
    ((1000, 4096), dtype('float32'), dtype('int32'))
    >>> int(X.getnnz(axis=1).min()), int(X.getnnz(axis=1).max())
    (20, 20)
    >>> sorted(set(y.tolist()))
    [0, 1]
    """
    n_samples, n_features, nnz_per_row, nonlinearity, noise = _check_common(
        n_samples, n_features, nnz_per_row, nonlinearity, noise
    )
    n_classes = _check_int("n_classes", n_classes, 2)
    n_outputs = 1 if n_classes == 2 else n_classes
    X, scores, label_rng = _make_scored_input(
        n_samples, n_features, nnz_per_row, n_outputs, nonlinearity, noise, random_state
    )
    scores *= _LOGIT_SCALE
    if n_classes == 2:
        y = (label_rng.random(n_samples) < expit(scores[:, 0])).astype(np.int64)
    else:
        scores += label_rng.gumbel(size=scores.shape)
        y = np.argmax(scores, axis=1).astype(np.int64)
    return X, y


def make_sparse_regression(
    n_samples=10_000,
    n_features=2**16,
    nnz_per_row=30,
    n_targets=1,
    nonlinearity=0.5,
    noise=0.1,
    random_state=None,
):
    """Generate a sparse, high-dimensional regression problem.

    Rows look like tf-idf vectors (exactly ``nnz_per_row`` positive values,
    unit L2 norm, Zipf-like column popularity) and each target is a hidden
    teacher's score, partly linear and partly non-linear, plus Gaussian
    noise. The module docstring gives the exact teacher; its score has
    variance close to 1. With ``nonlinearity=0`` and ``noise=0`` the target
    is exactly linear in ``X``.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows, at least 1.
    n_features : int, default=2**16
        Number of columns, between 1 and 2**31 - 1. The teacher holds
        ``n_features * (n_targets + 8)`` float32 weights while generating.
    nnz_per_row : int, default=30
        Number of distinct non-zero columns in every row, between 1 and
        ``n_features``.
    n_targets : int, default=1
        Number of targets, at least 1. They share the teacher's hidden
        units but have their own linear weights and mixing.
    nonlinearity : float, default=0.5
        Weight ``lambda >= 0`` of the teacher's non-linear part relative to
        its linear part; ``lambda**2 / (1 + lambda**2)`` of the score's
        variance is out of reach of a linear model.
    noise : float, default=0.1
        Standard deviation of the added Gaussian noise, in units of the
        (empirical) standard deviation of each target's score: the target
        is ``s + noise * std(s) * N(0, 1)``.
    random_state : int, RandomState, Generator or None, default=None
        Source of randomness. An int seeds ``numpy.random.default_rng``; a
        Generator is used directly (and advanced); None and a RandomState
        go through :func:`sklearn.utils.check_random_state` (None is
        NumPy's global RandomState) and seed a Generator from it. Pass an
        int for reproducible output: the same int gives identical ``X``
        and ``y``.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Canonical CSR (sorted indices, no duplicates) with float32 ``data``,
        int32 ``indices`` and int32 ``indptr`` (int64 above 2**31 - 1
        non-zeros). Values are positive and each row has unit L2 norm.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets), dtype float64
        The targets; one-dimensional when ``n_targets == 1``.

    See Also
    --------
    make_sparse_classification : The same input with class labels.
    sklearn.datasets.make_regression : Dense, linear analogue.

    Examples
    --------
    >>> from skvectorflow.datasets import make_sparse_regression
    >>> X, y = make_sparse_regression(
    ...     n_samples=1000, n_features=2**12, n_targets=3, random_state=0
    ... )
    >>> X.shape, y.shape, y.dtype
    ((1000, 4096), (1000, 3), dtype('float64'))

    A purely linear, noiseless target is ``X @ w`` for some ``w``:

    >>> from sklearn.linear_model import Ridge
    >>> X, y = make_sparse_regression(
    ...     n_samples=5000, n_features=500, nonlinearity=0.0, noise=0.0,
    ...     random_state=0,
    ... )
    >>> bool(Ridge(alpha=1e-6).fit(X, y).score(X, y) > 0.999)
    True
    """
    n_samples, n_features, nnz_per_row, nonlinearity, noise = _check_common(
        n_samples, n_features, nnz_per_row, nonlinearity, noise
    )
    n_targets = _check_int("n_targets", n_targets, 1)
    X, scores, _ = _make_scored_input(
        n_samples, n_features, nnz_per_row, n_targets, nonlinearity, noise, random_state
    )
    y = scores[:, 0] if n_targets == 1 else scores
    return X, np.ascontiguousarray(y)


def make_sparse_survival(
    n_samples=10_000,
    n_features=2**16,
    nnz_per_row=30,
    nonlinearity=0.5,
    effect_size=1.0,
    baseline_rate=1.0 / 365.0,
    follow_up=365.0,
    random_state=None,
):
    """Generate a sparse, high-dimensional survival problem with right-censoring.

    The input is that of :func:`make_sparse_regression`. Each row has an
    exponential time to event whose log hazard rate is
    ``log(baseline_rate) + effect_size * s(x)``, with ``s`` the teacher's
    score (variance close to 1; see the module docstring). Rows enter the
    study at staggered dates: row ``i`` is followed for a time ``C_i`` drawn
    uniformly from ``(0, follow_up]``, and its event is observed if it comes
    first. The target records ``min(T_i, C_i)`` and whether ``T_i <= C_i``.
    With the defaults (times in days, a mean time to event of a year, up to
    a year of follow-up) about two thirds of the rows are censored.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows, at least 1.
    n_features : int, default=2**16
        Number of columns, between 1 and 2**31 - 1.
    nnz_per_row : int, default=30
        Number of distinct non-zero columns in every row.
    nonlinearity : float, default=0.5
        Weight of the teacher's non-linear part (see
        :func:`make_sparse_regression`).
    effect_size : float, default=1.0
        Standard deviation (about) of the log hazard rate across rows.
    baseline_rate : float, default=1/365
        Hazard rate of a row with score 0, events per unit of time.
    follow_up : float, default=365.0
        Longest follow-up time.
    random_state : int, RandomState, Generator or None, default=None
        As in :func:`make_sparse_regression`.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        As in :func:`make_sparse_regression`.
    y : structured ndarray of shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float64, positive), as made by
        :func:`skvectorflow.survival.make_survival_target`.

    Examples
    --------
    >>> from skvectorflow.datasets import make_sparse_survival
    >>> X, y = make_sparse_survival(n_samples=1000, n_features=500, random_state=0)
    >>> y.dtype.names, bool(y["time"].min() > 0)
    (('event', 'time'), True)
    """
    n_samples, n_features, nnz_per_row, nonlinearity, _ = _check_common(
        n_samples, n_features, nnz_per_row, nonlinearity, 0.0
    )
    effect_size = _check_nonnegative_real("effect_size", effect_size)
    for name, value in (("baseline_rate", baseline_rate), ("follow_up", follow_up)):
        if not _check_nonnegative_real(name, value) > 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")
    X, scores, time_rng = _make_scored_input(
        n_samples, n_features, nnz_per_row, 1, nonlinearity, 0.0, random_state
    )
    rate = float(baseline_rate) * np.exp(float(effect_size) * scores[:, 0])
    event_time = time_rng.standard_exponential(n_samples) / rate
    # 1 - uniform lies in (0, 1]: every row is followed for a positive time.
    censoring_time = float(follow_up) * (1.0 - time_rng.random(n_samples))
    event = event_time <= censoring_time
    time = np.where(event, event_time, censoring_time)
    # A rate far above the baseline can round an event time to 0.
    time = np.maximum(time, np.finfo(np.float64).tiny)
    return X, make_survival_target(event, time)


def make_sparse_ranking(
    n_queries=1000,
    docs_per_query=20,
    n_features=2**16,
    nnz_per_row=30,
    n_levels=5,
    nonlinearity=0.5,
    noise=0.5,
    query_effect=1.0,
    random_state=None,
):
    """Generate a learning-to-rank problem: queries of sparse documents with graded relevance.

    Documents are the rows of :func:`make_sparse_regression`'s input, dealt
    out to queries in order. A document's relevance comes from the teacher's
    score ``s(x)`` plus Gaussian noise (``noise`` times the score's standard
    deviation) plus an offset ``b_q ~ N(0, query_effect**2)`` shared by the
    documents of its query, cut into ``n_levels`` grades at the global
    quantiles 1/2, 3/4, 7/8, ...: half the documents get grade 0, a quarter
    grade 1, and so on (the top grade takes what is left). The offset models
    queries that differ in how many relevant documents they have; it is
    invisible in ``X``, which hurts a pointwise regression on the grades but
    not a ranker, since it does not change the order within a query.

    Parameters
    ----------
    n_queries : int, default=1000
        Number of queries, at least 1.
    docs_per_query : int or tuple of two ints, default=20
        Documents per query, or the inclusive range ``(low, high)`` from
        which each query's count is drawn uniformly (ragged queries).
    n_features : int, default=2**16
        Number of columns.
    nnz_per_row : int, default=30
        Non-zero columns in every row.
    n_levels : int, default=5
        Number of relevance grades, 0 to ``n_levels - 1``; at least 2.
    nonlinearity : float, default=0.5
        Weight of the teacher's non-linear part (see :func:`make_sparse_regression`).
    noise : float, default=0.5
        Noise added to the score before grading, in units of its standard
        deviation.
    query_effect : float, default=1.0
        Standard deviation of the per-query offset.
    random_state : int, RandomState, Generator or None, default=None
        As in :func:`make_sparse_regression`.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        As in :func:`make_sparse_regression`; rows grouped by query.
    y : ndarray of shape (n_samples,), dtype float64
        Relevance grades.
    qid : ndarray of shape (n_samples,), dtype int64
        Query id of each row, ``0 .. n_queries - 1``, non-decreasing.

    Examples
    --------
    >>> from skvectorflow.datasets import make_sparse_ranking
    >>> X, y, qid = make_sparse_ranking(n_queries=50, docs_per_query=(5, 30),
    ...                                 n_features=500, random_state=0)
    >>> X.shape[0] == qid.size, sorted(set(y.tolist()))
    (True, [0.0, 1.0, 2.0, 3.0, 4.0])
    """
    n_queries = _check_int("n_queries", n_queries, 1)
    if isinstance(docs_per_query, tuple):
        if len(docs_per_query) != 2:
            raise ValueError(f"docs_per_query must be an int or a (low, high) pair, got {docs_per_query!r}.")
        low = _check_int("docs_per_query[0]", docs_per_query[0], 1)
        high = _check_int("docs_per_query[1]", docs_per_query[1], low)
    else:
        low = high = _check_int("docs_per_query", docs_per_query, 1)
    n_levels = _check_int("n_levels", n_levels, 2)
    query_effect = _check_nonnegative_real("query_effect", query_effect)
    size_rng = _check_generator(random_state)
    sizes = size_rng.integers(low, high + 1, size=n_queries)
    n_samples = int(sizes.sum())
    _, n_features, nnz_per_row, nonlinearity, noise = _check_common(
        n_samples, n_features, nnz_per_row, nonlinearity, noise
    )
    X, scores, label_rng = _make_scored_input(
        n_samples, n_features, nnz_per_row, 1, nonlinearity, noise, size_rng
    )
    qid = np.repeat(np.arange(n_queries, dtype=np.int64), sizes)
    relevance = scores[:, 0] + query_effect * label_rng.standard_normal(n_queries)[qid]
    cut_points = np.quantile(relevance, 1.0 - 0.5 ** np.arange(1, n_levels))
    y = np.searchsorted(cut_points, relevance, side="right").astype(np.float64)
    return X, y, qid
