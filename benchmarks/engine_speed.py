"""Speed of one training epoch: skvectorflow against a bare Numba loop and scikit-learn.

Run from the repository root::

    python -m benchmarks.engine_speed                       # 1,000,000 rows
    python -m benchmarks.engine_speed --n-samples 200000    # a quicker run

The data are ``make_sparse_classification(n_samples, 2**20 features, 30
non-zeros per row, random_state=0)``, split 80/20 (the last 20% of the rows
are held out; the rows are i.i.d., so this is a random split).  Every run
trains for ONE epoch over the same training rows, in the same process:

``bare loop``
    A minimal Numba AdaGrad logistic regression (the floor): per row a sparse
    dot product, the logistic loss, and an AdaGrad step on the row's weights.
    Each weight sits beside its accumulator (one cache line per non-zero, as
    in the engine's input table), and rows are visited in shuffled blocks of
    128 rows, as the engine does.  One thread.
``sklearn SGD``
    :class:`sklearn.linear_model.SGDClassifier` with ``loss="log_loss"``,
    ``max_iter=1``, ``tol=None`` (the peer; one thread, float64).  X is
    converted to float64 before timing, so the conversion is not counted.
``svf linear``
    ``SparseMLPClassifier(hidden_layer_sizes=(), optimizer="adagrad")`` at
    each thread count of ``--threads``.
``svf MLP(16)``
    ``SparseMLPClassifier(hidden_layer_sizes=(16,), activation="relu",
    optimizer="rowwise_adagrad")`` at each thread count of ``--threads``.

What is measured, for each run:

- ``warmup_s``: a fit on the first 2,000 training rows just before the timed
  fit.  The first skvectorflow warm-up of the process includes loading (or
  compiling) the Numba kernels; the bare loop's warm-up is its compilation
  or cache load (plus Numba's start-up in the process: it runs first).
- ``fit_s``: wall time of the one-epoch fit (for skvectorflow this includes
  input validation and parameter initialisation, everything a user waits
  for); ``epoch_s``: the engine's own epoch time, read from its ``verbose``
  line (skvectorflow only).
- ``ns_per_nnz = fit_s * 1e9 / nnz(train)`` and ``rows_per_s``.
- held-out ROC AUC and log-loss.
- ``peak_rss_delta_mb``: the peak resident memory during the fit, minus the
  resident memory before it.  On Linux the peak is reset before each fit
  (``/proc/self/clear_refs``), so this is the fit's own peak; elsewhere it
  is the growth of the process's lifetime peak (``ru_maxrss``), which reads 0
  when the fit stays below an earlier peak (see ``memory_method``).
- ``vs_sgd`` and ``vs_bare``: the run's ns per non-zero divided by that of
  sklearn SGD and of the bare loop (lower is faster).

The table is printed and written as JSON (``--output``, by default
``benchmarks/results/engine_speed.json``) and as Markdown beside it (same
name, ``.md``), with the command, date, CPU, core count and library versions.
"""

import argparse
import contextlib
import ctypes
import gc
import io
import math
import os
import re
import resource
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss, roc_auc_score

from benchmarks.reporting import (
    describe_machine,
    markdown_context,
    markdown_table,
    run_metadata,
    table_cells,
    text_table,
    write_report,
)
from skvectorflow import SparseMLPClassifier
from skvectorflow._engine.network import fill_uniform_columns
from skvectorflow._engine.prefetch import PREFETCH_ROWS_AHEAD, prefetch_row_features
from skvectorflow.datasets import make_sparse_classification

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_OUTPUT = RESULTS_DIR / "engine_speed.json"

N_FEATURES = 2**20
NNZ_PER_ROW = 30
TEST_FRACTION = 0.2
RANDOM_STATE = 0

# Rows per shuffled block, as the engine's default ``shuffle_block_size``.
BLOCK_SIZE = 128

# Rows of the warm-up fit that precedes every timed fit.
WARMUP_ROWS = 2000

# Hyper-parameters shared by the bare loop and the skvectorflow linear model,
# so that they do the same arithmetic and reach the same AUC.  Learning rates
# that gave the best held-out AUC after one epoch on 1,000,000 rows (linear:
# 0.80; MLP(16): 0.80).
LINEAR_LEARNING_RATE = 0.5
MLP_LEARNING_RATE = 0.1
ALPHA = 1e-5
EPSILON = 1e-8


# ----------------------------------------------------------------------------
# The floor: a bare Numba AdaGrad logistic regression
# ----------------------------------------------------------------------------


@numba.njit(nogil=True, cache=True, inline="always")
def _logistic_loss_and_gradient(z, target):
    """Log-loss of logit ``z`` for a 0/1 ``target``, and its gradient in ``z``, without overflow."""
    if z >= 0.0:
        e = math.exp(-z)
        return math.log1p(e) + (1.0 - target) * z, 1.0 / (1.0 + e) - target
    e = math.exp(z)
    return math.log1p(e) - target * z, e / (1.0 + e) - target


@numba.njit(nogil=True, cache=True)
def bare_adagrad_logistic_epoch(indptr, indices, data, y, block_bounds, block_order, table,
                                bias, learning_rate, alpha, epsilon):
    r"""One epoch of per-row AdaGrad logistic regression over a CSR matrix.

    For each row ``x`` (in the order of ``block_order``'s blocks, rows of a
    block in storage order), with ``z = b + sum_k x_k w_{j_k}`` and
    ``g = sigmoid(z) - y``, every touched weight takes the AdaGrad step

    .. math::

        g_j = g x_j + \alpha w_j, \quad a_j \mathrel{+}= g_j^2, \quad
        w_j \mathrel{-}= \eta \, g_j / (\sqrt{a_j} + \epsilon),

    and the bias the same step without the penalty.

    Parameters
    ----------
    indptr : int32 or int64 array of shape (n_rows + 1,)
    indices : int32 array of shape (nnz,)
    data : float32 array of shape (nnz,)
        The CSR arrays of X.
    y : float64 array of shape (n_rows,)
        Labels in {0, 1}.
    block_bounds : int64 array of shape (n_blocks + 1,)
        Block ``b`` is rows ``block_bounds[b]:block_bounds[b + 1]``.
    block_order : int64 array of shape (n_blocks,)
        The blocks in visiting order.
    table : float32 array of shape (n_features, 2), changed in place
        Column 0 the weights, column 1 their AdaGrad accumulators.
    bias : float64 array of shape (2,), changed in place
        The bias and its accumulator.
    learning_rate, alpha, epsilon : float

    Returns
    -------
    loss : float
        Sum of the rows' logistic losses, each taken before its update.
    """
    loss = 0.0
    for b in range(block_order.shape[0]):
        block = block_order[b]
        for row in range(block_bounds[block], block_bounds[block + 1]):
            start = indptr[row]
            stop = indptr[row + 1]
            z = bias[0]
            for p in range(start, stop):
                z += data[p] * table[indices[p], 0]
            row_loss, g = _logistic_loss_and_gradient(z, y[row])
            loss += row_loss
            for p in range(start, stop):
                j = indices[p]
                w = table[j, 0]
                gj = g * data[p] + alpha * w
                acc = table[j, 1] + gj * gj
                table[j, 1] = acc
                table[j, 0] = w - learning_rate * gj / (math.sqrt(acc) + epsilon)
            acc = bias[1] + g * g
            bias[1] = acc
            bias[0] -= learning_rate * g / (math.sqrt(acc) + epsilon)
    return loss


class _BareEpoch:
    """What the bare loops' wrappers share: hyper-parameters, ``fit`` and the block order.

    A subclass defines ``_initialise(X, y, rng)`` (its parameters, as
    attributes) and ``_epoch(X, y, block_bounds, order)`` (one epoch; returns
    the summed loss).

    Parameters
    ----------
    learning_rate, alpha, epsilon : float
        As in the wrapped epoch function.
    block_size : int
        Rows per shuffled block.
    random_state : int
        Seed of the initial weights (if random) and of the block order.
    """

    def __init__(self, learning_rate, alpha, epsilon, block_size, random_state):
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.epsilon = epsilon
        self.block_size = block_size
        self.random_state = random_state

    def fit(self, X, y):
        """Train for one epoch: ``_initialise`` the parameters, then ``_epoch`` over shuffled blocks.

        Parameters
        ----------
        X : scipy.sparse.csr_matrix of float32, shape (n_rows, n_features)
        y : array of {0, 1}, shape (n_rows,)

        Returns
        -------
        self
        """
        y = np.asarray(y, dtype=np.float64)
        n_rows = X.shape[0]
        rng = np.random.default_rng(self.random_state)
        self._initialise(X, y, rng)
        # Block bounds of block_size rows and a random order to visit them (as the engine).
        block_bounds = np.append(np.arange(0, n_rows, self.block_size), n_rows).astype(np.int64)
        order = rng.permutation(block_bounds.size - 1).astype(np.int64)
        self.loss_ = self._epoch(X, y, block_bounds, order) / max(n_rows, 1)
        return self


def _log_odds(y):
    """The log-odds of the positive rate of ``y``: the output bias of the null model."""
    prior = np.clip(np.mean(y), 1e-6, 1 - 1e-6)
    return math.log(prior / (1 - prior))


class BareLogistic(_BareEpoch):
    """A fit/predict_proba wrapper of :func:`bare_adagrad_logistic_epoch` (one epoch).

    Parameters are those of ``_BareEpoch``.
    """

    def _initialise(self, X, y, rng):
        """Zero weights and the log-odds prior bias."""
        self.table_ = np.zeros((X.shape[1], 2), dtype=np.float32)
        self.bias_ = np.array([_log_odds(y), 0.0])

    def _epoch(self, X, y, block_bounds, order):
        return bare_adagrad_logistic_epoch(
            X.indptr, X.indices, X.data, y, block_bounds, order, self.table_, self.bias_,
            self.learning_rate, self.alpha, self.epsilon)

    def predict_proba(self, X):
        """Probabilities of classes 0 and 1, shape (n_rows, 2)."""
        positive = expit(X @ self.table_[:, 0].astype(np.float64) + self.bias_[0])
        return np.column_stack([1.0 - positive, positive])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def bare_mlp16_epoch(indptr, indices, data, y, block_bounds, block_order, table, dense, dense_state,
                     learning_rate, alpha, epsilon):
    r"""One epoch of per-row SGD for a one-hidden-layer ReLU MLP of 16 units.

    The floor for skvectorflow's ``MLP(16)``: the same model and optimizers
    written for this one shape (16 constant, no layout, no loss dispatch, no
    checks).  For a row ``x``: ``h = relu(b + sum_k x_k W_{j_k})``,
    ``z = c + v . h``, ``g = sigmoid(z) - y``; each touched table row takes a
    row-wise AdaGrad step (one accumulator per row, the mean squared gradient,
    as DLRM's tables) on ``g x_k (v * relu'(h)) + alpha W_j``, and the dense
    parameters ``b, v, c`` a per-parameter AdaGrad step.

    Parameters
    ----------
    indptr, indices, data
        The CSR arrays of X (float32 values, int32 indices).
    y : float64 array of shape (n_rows,)
    block_bounds, block_order : int64 arrays
        As for :func:`bare_adagrad_logistic_epoch`.
    table : float32 array of shape (n_features, 17), changed in place
        Columns 0-15 the weights, column 16 the row's AdaGrad accumulator.
    dense : float32 array of shape (33,), changed in place
        ``b`` (16), ``v`` (16), ``c``.
    dense_state : float32 array of shape (33,), changed in place
    learning_rate, alpha, epsilon : float

    Returns
    -------
    loss : float
        Sum of the rows' logistic losses, each taken before its update.
    """
    rate = np.float32(learning_rate)
    alpha = np.float32(alpha)
    eps = np.float32(epsilon)
    hidden = np.zeros(16, dtype=np.float32)
    delta = np.zeros(16, dtype=np.float32)
    loss = 0.0
    for b in range(block_order.shape[0]):
        block = block_order[b]
        for row in range(block_bounds[block], block_bounds[block + 1]):
            # The engine's software prefetch of a later row's table rows: the
            # gathers are memory-bound, and a floor without it is no floor.
            if row + PREFETCH_ROWS_AHEAD < block_bounds[block + 1]:
                prefetch_row_features(indptr, indices, row + PREFETCH_ROWS_AHEAD, table)
            start = indptr[row]
            stop = indptr[row + 1]
            for u in range(16):
                hidden[u] = dense[u]
            for p in range(start, stop):
                x = data[p]
                weights = table[indices[p]]
                for u in range(16):
                    hidden[u] += x * weights[u]
            z = dense[32]
            for u in range(16):
                hidden[u] = max(hidden[u], np.float32(0.0))
                z += dense[16 + u] * hidden[u]
            row_loss, g = _logistic_loss_and_gradient(z, y[row])
            loss += row_loss
            g = np.float32(g)
            for u in range(16):
                delta[u] = g * dense[16 + u] if hidden[u] > 0.0 else np.float32(0.0)
            for p in range(start, stop):
                x = data[p]
                weights = table[indices[p]]
                mean_square = np.float32(0.0)
                for u in range(16):
                    gu = x * delta[u] + alpha * weights[u]
                    mean_square += gu * gu
                acc = weights[16] + mean_square / np.float32(16.0)
                weights[16] = acc
                step = rate / (np.sqrt(acc) + eps)
                for u in range(16):
                    weights[u] -= step * (x * delta[u] + alpha * weights[u])
            for k in range(33):
                if k < 16:
                    gk = delta[k]
                elif k < 32:
                    gk = g * hidden[k - 16] + alpha * dense[k]
                else:
                    gk = g
                acc = dense_state[k] + gk * gk
                dense_state[k] = acc
                dense[k] -= rate * gk / (np.sqrt(acc) + eps)
    return loss


class BareMLP16(_BareEpoch):
    """A fit/predict_proba wrapper of :func:`bare_mlp16_epoch` (one epoch).

    Parameters are those of ``_BareEpoch``.
    """

    def _initialise(self, X, y, rng):
        """Glorot-uniform weights and the log-odds prior bias."""
        fan_in = max(X.nnz / max(X.shape[0], 1), 1.0)
        self.table_ = np.zeros((X.shape[1], 17), dtype=np.float32)
        # The engine's in-place draw: numpy's would add a second table's
        # worth of temporaries and seconds to the floor.
        fill_uniform_columns(self.table_, 0, 16, np.sqrt(6.0 / (fan_in + 16)),
                             np.uint64(rng.integers(0, 2**63 - 1)))
        self.dense_ = np.zeros(33, dtype=np.float32)
        self.dense_[16:32] = rng.uniform(-np.sqrt(6.0 / 17), np.sqrt(6.0 / 17), size=16)
        self.dense_[32] = _log_odds(y)
        self.dense_state_ = np.zeros(33, dtype=np.float32)

    def _epoch(self, X, y, block_bounds, order):
        return bare_mlp16_epoch(
            X.indptr, X.indices, X.data, y, block_bounds, order, self.table_, self.dense_,
            self.dense_state_, self.learning_rate, self.alpha, self.epsilon)

    def predict_proba(self, X):
        """Probabilities of classes 0 and 1, shape (n_rows, 2)."""
        hidden = np.maximum(X @ self.table_[:, :16] + self.dense_[:16], 0.0)
        positive = expit(hidden @ self.dense_[16:32].astype(np.float64) + self.dense_[32])
        return np.column_stack([1.0 - positive, positive])


# ----------------------------------------------------------------------------
# Measurement helpers
# ----------------------------------------------------------------------------


def _status_kib(field):
    """A ``kB`` field of ``/proc/self/status`` (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak resident memory of a block of code, relative to the memory before it.

    On Linux the kernel's peak (``VmHWM``) is reset through
    ``/proc/self/clear_refs`` before the block, so the peak is the block's
    own.  Elsewhere the process's lifetime peak (``ru_maxrss``) is compared
    before and after, which misses a peak below an earlier one.
    """

    def __init__(self):
        self.method = self._probe()

    @staticmethod
    def _probe():
        if _status_kib("VmHWM") is not None and _reset_peak():
            return "VmHWM reset before each fit (/proc/self/clear_refs): the fit's own peak"
        return ("growth of ru_maxrss, the process's lifetime peak: 0 when a fit stays below "
                "an earlier peak")

    @contextlib.contextmanager
    def measure(self, result):
        """Run the block and store ``result["peak_rss_delta_mb"]``."""
        gc.collect()
        _release_free_memory()
        if self.method.startswith("VmHWM"):
            _reset_peak()
            before = _status_kib("VmRSS")
            yield
            after = _status_kib("VmHWM")
        else:
            before = _maxrss_kib()
            yield
            after = _maxrss_kib()
        result["peak_rss_delta_mb"] = max(0, after - before) / 1024.0


def _release_free_memory():
    """Hand freed heap memory back to the OS (glibc), so RSS counts live memory only.

    Without it, a fit that reuses memory an earlier run freed (but glibc
    kept) would show no growth.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _maxrss_kib():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS


_EPOCH_SECONDS = re.compile(r"^Epoch 1: .*, ([0-9.]+) s$", re.MULTILINE)


def _timed_fit(model, X, y):
    """Fit, returning ``(wall seconds, engine epoch seconds or None)``.

    skvectorflow models print their epoch time with ``verbose=1``; the line is
    captured (not shown) and its seconds read.
    """
    captured = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
        warnings.simplefilter("ignore", ConvergenceWarning)
        started = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - started
    match = _EPOCH_SECONDS.search(captured.getvalue())
    return seconds, (float(match.group(1)) if match else None)


def _default_threads():
    """1, 2, 4, ... up to the core count, and the core count itself."""
    cores = os.cpu_count() or 1
    threads = [1]
    while threads[-1] * 2 <= cores:
        threads.append(threads[-1] * 2)
    if threads[-1] != cores:
        threads.append(cores)
    if 2 not in threads:
        threads.append(2)  # measured even on one core: shows the cost of Hogwild there
    return sorted(threads)


def _thread_list(text):
    try:
        threads = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 1,2,4, got {text!r}") from None
    if not threads or threads[0] < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return threads


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# ----------------------------------------------------------------------------
# The runs
# ----------------------------------------------------------------------------


def _runs(threads):
    """(name, model kind, threads, factory) of every run, in order."""
    runs = [
        ("bare loop", "bare", 1, lambda: BareLogistic(
            LINEAR_LEARNING_RATE, ALPHA, EPSILON, BLOCK_SIZE, RANDOM_STATE)),
        ("sklearn SGD", "sgd", 1, lambda: SGDClassifier(
            loss="log_loss", max_iter=1, tol=None, random_state=RANDOM_STATE)),
    ]
    for n in threads:
        runs.append(("svf linear", "linear", n, lambda n=n: SparseMLPClassifier(
            hidden_layer_sizes=(), optimizer="adagrad", learning_rate_init=LINEAR_LEARNING_RATE,
            alpha=ALPHA, max_iter=1, tol=None, n_jobs=n, random_state=RANDOM_STATE, verbose=1)))
    for n in threads:
        runs.append(("svf MLP(16)", "mlp", n, lambda n=n: SparseMLPClassifier(
            hidden_layer_sizes=(16,), activation="relu", optimizer="rowwise_adagrad",
            learning_rate_init=MLP_LEARNING_RATE, alpha=ALPHA, max_iter=1, tol=None, n_jobs=n,
            random_state=RANDOM_STATE, verbose=1)))
    return runs


def run_benchmark(n_samples, threads, repeat=1, log=print):
    """Make the data and time every run.

    Parameters
    ----------
    n_samples : int
        Rows of the data set (80% train, 20% held out).
    threads : list of int
        Thread counts of the skvectorflow runs.
    repeat : int, default=1
        Timed fits per run; the fastest is reported (each from the same start).
    log : callable, default=print
        Progress output.

    Returns
    -------
    report : dict
        ``"data"`` (shape, nnz, generation time), ``"memory_method"`` and
        ``"results"`` (one dict per run).
    """
    started = time.perf_counter()
    X, y = make_sparse_classification(n_samples=n_samples, n_features=N_FEATURES,
                                      nnz_per_row=NNZ_PER_ROW, random_state=RANDOM_STATE)
    data_seconds = time.perf_counter() - started
    n_train = X.shape[0] - max(1, round(TEST_FRACTION * X.shape[0]))
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    del X, y
    # SGDClassifier works in float64: convert once, outside the timed fit.
    X_train64, X_test64 = X_train.astype(np.float64), X_test.astype(np.float64)
    nnz_train = X_train.nnz
    log(f"data: {n_samples:,} rows x {N_FEATURES:,} features, {nnz_train:,} training non-zeros "
        f"({n_train:,} training rows, {X_test.shape[0]:,} held out), made in {data_seconds:.1f} s")

    memory = PeakMemory()
    results = []
    for name, kind, n_threads, make in _runs(threads):
        Xtr, Xte = (X_train64, X_test64) if kind == "sgd" else (X_train, X_test)
        warm_started = time.perf_counter()
        _timed_fit(make(), Xtr[:WARMUP_ROWS], y_train[:WARMUP_ROWS])
        warmup = time.perf_counter() - warm_started
        result = {"run": name, "model": kind, "threads": n_threads, "warmup_s": warmup}
        times = []
        for _ in range(repeat):
            model = None
            gc.collect()
            model = make()
            with memory.measure(result):
                seconds, epoch_seconds = _timed_fit(model, Xtr, y_train)
            times.append((seconds, epoch_seconds))
        seconds, epoch_seconds = min(times, key=lambda pair: pair[0])
        proba = model.predict_proba(Xte)[:, 1]
        result.update({
            "fit_s": seconds,
            "fit_s_all": [t[0] for t in times],
            "epoch_s": epoch_seconds,
            "ns_per_nnz": seconds * 1e9 / nnz_train,
            "rows_per_s": n_train / seconds,
            "roc_auc": float(roc_auc_score(y_test, proba)),
            "log_loss": float(log_loss(y_test, proba, labels=[0, 1])),
        })
        results.append(result)
        log(f"  {name:<12} {n_threads} thread{'s' if n_threads > 1 else ' '}: "
            f"{seconds:6.2f} s, {result['ns_per_nnz']:6.1f} ns/nnz, AUC {result['roc_auc']:.4f}"
            f"  (warm-up {warmup:.2f} s)")
        del model
        gc.collect()

    sgd = next(r for r in results if r["model"] == "sgd")["ns_per_nnz"]
    bare = next(r for r in results if r["model"] == "bare")["ns_per_nnz"]
    for result in results:
        result["vs_sgd"] = result["ns_per_nnz"] / sgd
        result["vs_bare"] = result["ns_per_nnz"] / bare
    return {
        "data": {
            "generator": (f"make_sparse_classification(n_samples={n_samples}, "
                          f"n_features={N_FEATURES}, nnz_per_row={NNZ_PER_ROW}, "
                          f"random_state={RANDOM_STATE})"),
            "n_samples": n_samples,
            "n_features": N_FEATURES,
            "n_train": n_train,
            "n_test": int(X_test.shape[0]),
            "nnz_train": int(nnz_train),
            "generation_s": data_seconds,
        },
        "memory_method": memory.method,
        "results": results,
    }


# ----------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------

COLUMNS = [
    ("run", "run", "{}"),
    ("threads", "threads", "{}"),
    ("fit s", "fit_s", "{:.2f}"),
    ("epoch s", "epoch_s", "{:.2f}"),
    ("ns/nnz", "ns_per_nnz", "{:.1f}"),
    ("rows/s", "rows_per_s", "{:,.0f}"),
    ("ROC AUC", "roc_auc", "{:.4f}"),
    ("log-loss", "log_loss", "{:.4f}"),
    ("peak RSS +MB", "peak_rss_delta_mb", "{:.0f}"),
    ("vs SGD", "vs_sgd", "{:.2f}x"),
    ("vs bare", "vs_bare", "{:.2f}x"),
    ("warm-up s", "warmup_s", "{:.2f}"),
]


def _cells(result):
    return table_cells(COLUMNS, result)


def format_table(results):
    """The results as an aligned text table (first column left-aligned)."""
    return text_table([title for title, _, _ in COLUMNS], [_cells(r) for r in results], n_left=1)


def format_markdown(report):
    """The report as Markdown: context, then the results table."""
    data = report["data"]
    lines = [
        *markdown_context("skvectorflow engine speed: one epoch", report["meta"]),
        (f"- data: `{data['generator']}`; {data['n_train']:,} training rows "
         f"({data['nnz_train']:,} non-zeros), {data['n_test']:,} held out; made in "
         f"{data['generation_s']:.1f} s"),
        (f"- one epoch each; `fit s` is the wall time of `fit` after a warm-up fit on "
         f"{WARMUP_ROWS:,} rows (`warm-up s`, which includes loading or compiling the "
         "kernels on the first skvectorflow run); `epoch s` is the engine's own epoch time; "
         "`ns/nnz` = fit s x 1e9 / training non-zeros; `vs SGD` and `vs bare` are ratios "
         "of ns/nnz (lower is faster)"),
        f"- peak RSS: {report['memory_method']}",
        "",
        *markdown_table([title for title, _, _ in COLUMNS],
                        [_cells(r) for r in report["results"]], n_left=1),
    ]
    return "\n".join(lines) + "\n"


def _metadata(argv):
    return run_metadata("benchmarks.engine_speed", argv)


def main(argv=None):
    """Run the benchmark, print the table and write the JSON and Markdown files.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.engine_speed",
        description="Time one training epoch of skvectorflow against a bare Numba loop and "
                    "scikit-learn's SGDClassifier.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--n-samples", type=_positive_int, default=1_000_000,
                        help="rows of the synthetic data set (80%% train, 20%% held out)")
    parser.add_argument("--threads", type=_thread_list, default=_default_threads(),
                        help="comma-separated thread counts of the skvectorflow runs")
    parser.add_argument("--repeat", type=_positive_int, default=1,
                        help="timed fits per run; the fastest is reported")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON results file; the Markdown table goes beside it (.md)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.n_samples < 5 * WARMUP_ROWS:
        parser.error(f"--n-samples must be at least {5 * WARMUP_ROWS}, got {args.n_samples}")

    report = {"meta": _metadata(argv)}
    print(describe_machine(report["meta"]), flush=True)
    report.update(run_benchmark(args.n_samples, args.threads, args.repeat,
                                log=lambda text: print(text, flush=True)))

    print()
    print(format_table(report["results"]))
    write_report(report, args.output, format_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
