"""Exponential survival on sparse data: skvectorflow against lifelines and statsmodels.

Run from the repository root::

    python -m benchmarks.survival_peers                        # 1,000,000 rows
    python -m benchmarks.survival_peers --n-samples 200000     # a quicker run
    python -m benchmarks.survival_peers --dense-columns 50 --peer-rows 200000

The data are ``make_sparse_survival(n_samples, n_features=2**20,
nnz_per_row=30, random_state=0)``: right-censored exponential event times
whose log hazard rate is a partly non-linear function of a Zipf-like sparse
input.  The last 20% of the rows are held out (the rows are i.i.d., so this
is a random split); every model is scored on the same held-out rows.

lifelines and statsmodels take dense input only, so they get the *dense
subset*: the ``--dense-columns`` columns that hold the most non-zeros of the
training rows, as a dense float64 matrix, over the first ``--peer-rows``
training rows (by default all of them).  The runs, in one process:

``svf linear`` / ``svf MLP(16)`` on ``2^20 cols``
    :class:`~skvectorflow.SurvivalExponentialRegressor` on the full sparse
    training rows: linear (``hidden_layer_sizes=()``, AdaGrad) and a 16-unit
    ReLU MLP (row-wise AdaGrad), ``learning_rate_init=0.1``, ``alpha=1e-5``,
    up to ``max_iter=10`` epochs with ``early_stopping`` (10% of the training
    rows held out inside ``fit``, stop after 2 epochs without improvement,
    keep the best epoch), at each thread count of ``--threads``.
``svf linear`` on the dense subset
    The same linear model on the dense subset's rows and columns (as float32
    CSR): the like-for-like comparison with the peers.
``statsmodels GLM``
    The exponential model's maximum-likelihood fit as a Poisson GLM (event
    indicator as response, ``log(time)`` as offset; IRLS, statsmodels'
    default): ``sm.GLM(event, add_constant(Xd), family=Poisson(),
    offset=log(time)).fit()``.  The held-out rate is its prediction with a
    zero offset, ``exp(b0 + Xd b)``.
``lifelines exponential``
    A lifelines ``ParametricRegressionFitter`` with cumulative hazard
    ``T * exp(b0 + Xd b)`` (lifelines has no built-in exponential
    regression; this is the recipe of its "Custom regression models"
    documentation) fitted by lifelines' BFGS, which also computes the
    Hessian for standard errors.  Its held-out rate is its
    ``predict_cumulative_hazard`` at time 1.  Same model as the GLM: the two
    coefficient vectors are compared in the report.
``null model``
    One rate for every row, ``sum(events) / sum(times)`` of the training
    rows: the reference a useful model must beat.

What is measured, for each run: ``threads`` (skvectorflow's ``n_jobs``; for
the peers, which have no thread setting of their own, the threads of the BLAS
library their NumPy matrix products run on); ``fit_s`` (wall time of ``fit``, after a
warm-up fit of the same model on the first 2,000 rows, so that Numba's
kernels are loaded or compiled before timing); ``cpu_s`` (process CPU time
during the fit, all threads: ``cpu_s / fit_s`` above 1 means several cores
worked, including BLAS threads of the peers); the epochs run and the
engine's ns per non-zero per epoch (skvectorflow's ``verbose`` lines); the
size of the training input; the fit's peak resident memory above the memory
before it; the held-out mean negative log-likelihood
(:func:`~skvectorflow.survival.mean_exponential_nll`, lower is better) and
Harrell's C-index (:func:`~skvectorflow.survival.concordance_index`).
Preparing the peers' dense inputs (densifying, adding the constant, building
the DataFrame) happens before the timed fits and is reported as ``prep_s``.

The script also checks, on a small matrix, what the peers do with sparse
input (a scipy CSR matrix and a pandas sparse DataFrame), and reports the
memory the dense 2^20-column design would take.  A peer whose package is not
installed is skipped with a note (``pip install -e ".[bench]"`` installs
both).

Results: the table on stdout, JSON at ``--output`` (by default
``benchmarks/results/survival_peers.json``) and Markdown beside it (``.md``).
"""

import argparse
import contextlib
import gc
import io
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.engine_speed import PeakMemory, _positive_int, _thread_list
from benchmarks.reporting import (
    describe_machine,
    markdown_context,
    markdown_table,
    run_metadata,
    table_cells,
    text_table,
    write_report,
)
from skvectorflow import SurvivalExponentialRegressor
from skvectorflow.datasets import make_sparse_survival
from skvectorflow.survival import (
    concordance_index,
    mean_exponential_nll,
    survival_arrays,
)

try:
    import pandas as pd
except ImportError:  # pragma: no cover - pandas comes with both peers
    pd = None
try:
    import statsmodels
    import statsmodels.api as sm
except ImportError:
    statsmodels = sm = None
try:
    import autograd.numpy as anp
    import lifelines
    from lifelines.fitters import ParametricRegressionFitter
except ImportError:
    lifelines = None

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_OUTPUT = RESULTS_DIR / "survival_peers.json"

N_FEATURES = 2**20
NNZ_PER_ROW = 30
TEST_FRACTION = 0.2
RANDOM_STATE = 0
WARMUP_ROWS = 2000
DEFAULT_DENSE_COLUMNS = 100

# skvectorflow's settings.  Chosen on 250,000 rows (200,000 training) among
# learning rates 0.02-0.2: the linear model's held-out NLL was best at 0.1
# (0.05 needed twice the epochs for the same NLL); the MLP's best epoch is
# its first at every rate tried (later epochs over-fit the rare columns'
# input weights), so early stopping keeps it.
SVF_PARAMS = {"alpha": 1e-5, "learning_rate_init": 0.1, "max_iter": 10, "tol": 1e-4,
              "early_stopping": True, "validation_fraction": 0.1, "n_iter_no_change": 2,
              "random_state": RANDOM_STATE, "verbose": 1}
LINEAR = {"hidden_layer_sizes": (), "optimizer": "adagrad"}
MLP16 = {"hidden_layer_sizes": (16,), "activation": "relu", "optimizer": "rowwise_adagrad"}


# ----------------------------------------------------------------------------
# The lifelines peer
# ----------------------------------------------------------------------------

if lifelines is not None:

    class ExponentialPHFitter(ParametricRegressionFitter):
        """Exponential regression in lifelines: cumulative hazard ``T * exp(X b)``.

        The proportional-hazards (log-rate) parametrisation, so ``params_``
        has the signs of the Poisson GLM's coefficients (an AFT model's
        would be their negatives).  The log hazard ``X b`` is given
        explicitly, as lifelines advises for speed, instead of being
        differentiated out of the cumulative hazard.
        """

        _fitted_parameter_names = ["lambda_"]  # noqa: RUF012 - lifelines' interface
        fit_intercept = True

        def _cumulative_hazard(self, params, T, Xs):
            return T * anp.exp(anp.dot(Xs["lambda_"], params["lambda_"]))

        def _log_hazard(self, params, T, Xs):
            return anp.dot(Xs["lambda_"], params["lambda_"])


def _column_names(k):
    return [f"x{j}" for j in range(k)]


def _lifelines_frame(Xd, event=None, time=None):
    frame = pd.DataFrame(Xd, columns=_column_names(Xd.shape[1]), copy=False)
    if event is not None:
        frame["T"] = time
        frame["E"] = event
    return frame


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------

_EPOCH_LINE = re.compile(r"^Epoch (\d+): .*?, ([0-9.]+) ns/non-zero, ([0-9.]+) s", re.MULTILINE)


def _measured(memory, result, fit):
    """Call ``fit()``; store wall and CPU seconds, peak memory and warnings in ``result``.

    Returns ``(fitted, captured stdout)``.
    """
    captured = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(captured):
        warnings.simplefilter("always")
        with memory.measure(result):
            cpu_started = time.process_time()
            started = time.perf_counter()
            fitted = fit()
            result["fit_s"] = time.perf_counter() - started
            result["cpu_s"] = time.process_time() - cpu_started
    messages = sorted({f"{w.category.__name__}: {str(w.message).strip().splitlines()[0][:200]}"
                       for w in caught})
    result["warnings"] = messages
    return fitted, captured.getvalue()


def _quiet(fit):
    """Run a warm-up fit, discarding its output and warnings; return its seconds."""
    started = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit()
    return time.perf_counter() - started


def _heldout(result, y_test, predicted_time):
    predicted_time = np.asarray(predicted_time, dtype=np.float64).ravel()
    result["heldout_nll"] = mean_exponential_nll(y_test, predicted_time)
    result["heldout_c_index"] = concordance_index(y_test, predicted_time)


def _csr_megabytes(X):
    return (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20


def _human_bytes(n):
    """Bytes in binary units (TiB, GiB, MiB), as ``peak RSS`` and ``input MB`` count them."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def _blas_threads():
    """Threads of the BLAS library NumPy calls (the peers' matrix products), or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [info.get("num_threads") for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


def _outcome(call):
    """What ``call()`` does: 'accepted' or the exception's type and first line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:  # noqa: BLE001 - the outcome is what we report
        text = str(error).strip().splitlines()
        return f"rejected: {type(error).__name__}: {text[0][:160] if text else ''}".rstrip(": ")
    return "accepted"


def sparse_input_checks(X, event, time):
    """Try the peers on sparse input: a scipy CSR matrix and a pandas sparse DataFrame.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix
        A small sparse design (the checks fit models on it).
    event, time : ndarray
        Its survival targets.

    Returns
    -------
    checks : dict
        Description of each attempt -> its outcome.
    """
    checks = {}
    X64 = X.astype(np.float64)
    if sm is not None:
        checks["statsmodels GLM, exog a scipy CSR matrix"] = _outcome(
            lambda: sm.GLM(event.astype(np.float64), X64, family=sm.families.Poisson(),
                           offset=np.log(time)).fit())
        checks["statsmodels add_constant on a scipy CSR matrix"] = _outcome(
            lambda: sm.add_constant(X64))
    if lifelines is not None:
        checks["lifelines fit, df a scipy CSR matrix"] = _outcome(
            lambda: ExponentialPHFitter().fit(X64, "T", "E"))

        def sparse_frame():
            frame = pd.DataFrame.sparse.from_spmatrix(X64, columns=_column_names(X.shape[1]))
            frame["T"] = time
            frame["E"] = event
            return frame

        checks["lifelines fit, df a pandas sparse DataFrame"] = _outcome(
            lambda: ExponentialPHFitter().fit(sparse_frame(), "T", "E"))
        checks["lifelines CoxPHFitter, df a pandas sparse DataFrame"] = _outcome(
            lambda: lifelines.CoxPHFitter().fit(sparse_frame(), "T", "E"))
    return checks


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for info in threadpool_info()]


# ----------------------------------------------------------------------------
# The benchmark
# ----------------------------------------------------------------------------


def run_benchmark(n_samples, threads, dense_columns, peer_rows=None, log=print):
    """Make the data, fit every model and score it on the held-out rows.

    Parameters
    ----------
    n_samples : int
        Rows of the data set (80% train, 20% held out).
    threads : list of int
        Thread counts of the skvectorflow runs.
    dense_columns : int
        Columns of the dense subset (the most frequent training columns).
    peer_rows : int or None
        Training rows of the dense subset (the first ones); None for all.
    log : callable, default=print

    Returns
    -------
    report : dict
    """
    started = time.perf_counter()
    X, y = make_sparse_survival(n_samples=n_samples, n_features=N_FEATURES,
                                nnz_per_row=NNZ_PER_ROW, random_state=RANDOM_STATE)
    data_seconds = time.perf_counter() - started
    n_train = X.shape[0] - max(1, round(TEST_FRACTION * X.shape[0]))
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    del X, y
    event_train, time_train = survival_arrays(y_train)
    event_test, _ = survival_arrays(y_test)
    n_test = X_test.shape[0]
    peer_rows = n_train if peer_rows is None else min(peer_rows, n_train)
    dense_columns = min(dense_columns, N_FEATURES)
    log(f"data: {n_samples:,} rows x {N_FEATURES:,} features ({n_train:,} training rows, "
        f"{X_train.nnz:,} non-zeros, {event_train.mean():.1%} events; {n_test:,} held out), "
        f"made in {data_seconds:.1f} s")

    # The dense subset: the most frequent training columns, densified.
    counts = np.bincount(X_train.indices, minlength=N_FEATURES)
    top = np.argsort(-counts, kind="stable")[:dense_columns]
    started = time.perf_counter()
    sub_train = X_train[:peer_rows][:, top].tocsr()
    sub_train.sort_indices()
    sub_test = X_test[:, top].tocsr()
    sub_test.sort_indices()
    dense_train = sub_train.astype(np.float64).toarray()
    dense_test = sub_test.astype(np.float64).toarray()
    densify_seconds = time.perf_counter() - started
    event_peer, time_peer = event_train[:peer_rows], time_train[:peer_rows]
    y_peer = y_train[:peer_rows]
    subset = {
        "columns": int(dense_columns),
        "rows": int(peer_rows),
        "share_of_training_nonzeros": float(counts[top].sum() / X_train.nnz),
        "share_of_rows_with_none_of_them": float(np.mean(np.diff(sub_train.indptr) == 0)),
        "nnz": int(sub_train.nnz),
        "dense_float64_mb": dense_train.nbytes / 2**20,
        "densify_s": densify_seconds,
        "least_frequent_column_rows": int(counts[top[-1]]),
    }
    full_dense_bytes = n_train * N_FEATURES * 8
    log(f"dense subset: the {dense_columns} most frequent columns ("
        f"{subset['share_of_training_nonzeros']:.1%} of the training non-zeros; "
        f"{subset['share_of_rows_with_none_of_them']:.1%} of the rows have none of them) x "
        f"{peer_rows:,} rows = {dense_train.nbytes / 2**20:,.0f} MB as float64; the full design "
        f"as dense float64 would take {_human_bytes(full_dense_bytes)}")

    # What the peers do with sparse input (a small slice, so it is quick).
    checks = sparse_input_checks(sub_train[:WARMUP_ROWS], event_peer[:WARMUP_ROWS],
                                 time_peer[:WARMUP_ROWS])
    for what, outcome in checks.items():
        log(f"  {what}: {outcome}")

    memory = PeakMemory()
    results = []
    notes = []

    # The null model: one rate for every row.
    null_rate = event_train.sum() / time_train.sum()
    null = {"run": "null model", "library": "-", "input": "-", "threads": None}
    _heldout(null, y_test, np.full(n_test, 1.0 / null_rate))
    null["null_rate"] = float(null_rate)
    log(f"  null model: held-out NLL {null['heldout_nll']:.4f}")

    def record(result):
        result["nll_minus_null"] = result["heldout_nll"] - null["heldout_nll"]
        results.append(result)
        ns = result.get("ns_per_nnz_epoch")
        log(f"  {result['run']:<22} {result['input']:<22} threads {result['threads'] or '-'}: "
            f"fit {result['fit_s']:7.2f} s (CPU {result['cpu_s']:7.2f} s)"
            + (f", {result['epochs']} epochs, {ns:.1f} ns/nnz/epoch" if ns else "")
            + f", held-out NLL {result['heldout_nll']:.4f}, C {result['heldout_c_index']:.4f}"
            + f"  (warm-up {result['warmup_s']:.2f} s)")

    def svf_run(name, params, Xtr, ytr, Xte, n_threads, input_label):
        def make():
            return SurvivalExponentialRegressor(**params, **SVF_PARAMS, n_jobs=n_threads)

        warmup = _quiet(lambda: make().fit(Xtr[:WARMUP_ROWS], ytr[:WARMUP_ROWS]))
        gc.collect()
        result = {"run": name, "library": "skvectorflow", "input": input_label,
                  "input_columns": int(Xtr.shape[1]), "input_rows": int(Xtr.shape[0]),
                  "threads": n_threads, "warmup_s": warmup, "input_mb": _csr_megabytes(Xtr),
                  "params": {**params, **SVF_PARAMS}}
        model = make()
        model, output = _measured(memory, result, lambda: model.fit(Xtr, ytr))
        epochs = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
                  for m in _EPOCH_LINE.finditer(output)]
        result.update({
            "epochs": int(model.n_iter_),
            "best_epoch": int(np.argmax(model.validation_scores_)) + 1,
            "epoch_s": [e[2] for e in epochs],
            "ns_per_nnz_epoch": float(np.mean([e[1] for e in epochs])) if epochs else None,
            "validation_nll": [-s for s in model.validation_scores_],
        })
        _heldout(result, y_test, model.predict(Xte))
        record(result)
        return model

    full_label = f"2^20 cols x {n_train:,}"
    subset_label = f"{dense_columns} cols x {peer_rows:,}"
    for n_threads in threads:
        svf_run("svf linear", LINEAR, X_train, y_train, X_test, n_threads, full_label)
    for n_threads in threads:
        svf_run("svf MLP(16)", MLP16, X_train, y_train, X_test, n_threads, full_label)
    for n_threads in threads:
        svf_run("svf linear", LINEAR, sub_train, y_peer, sub_test, n_threads, subset_label)
    gc.collect()

    peer_coefficients = {}
    blas_threads = _blas_threads()
    peer_threads = f"BLAS {blas_threads}" if blas_threads else None
    if sm is None:
        notes.append("statsmodels is not installed: its run is skipped "
                     "(pip install statsmodels, or the [bench] extra).")
        log("  " + notes[-1])
    else:
        started = time.perf_counter()
        exog = sm.add_constant(dense_train, has_constant="add")
        exog_test = sm.add_constant(dense_test, has_constant="add")
        response = event_peer.astype(np.float64)
        offset = np.log(time_peer)
        prep = time.perf_counter() - started

        def glm(rows):
            return sm.GLM(response[:rows], exog[:rows], family=sm.families.Poisson(),
                          offset=offset[:rows]).fit()

        warmup = _quiet(lambda: glm(WARMUP_ROWS))
        result = {"run": "statsmodels GLM", "library": f"statsmodels {statsmodels.__version__}",
                  "input": subset_label, "input_columns": int(dense_columns),
                  "input_rows": int(peer_rows), "threads": peer_threads, "warmup_s": warmup,
                  "prep_s": densify_seconds + prep, "input_mb": exog.nbytes / 2**20,
                  "method": "Poisson GLM with log(time) offset, IRLS"}
        fitted, _ = _measured(memory, result, lambda: glm(peer_rows))
        rate = fitted.predict(exog_test, offset=np.zeros(n_test))
        result.update({"iterations": int(fitted.fit_history["iteration"]),
                       "covariance_shape": list(np.shape(fitted.normalized_cov_params))})
        _heldout(result, y_test, 1.0 / rate)
        peer_coefficients["statsmodels"] = np.asarray(fitted.params, dtype=np.float64)
        record(result)
        del exog, exog_test, fitted
        gc.collect()

    if lifelines is None:
        notes.append("lifelines is not installed: its run is skipped "
                     "(pip install lifelines, or the [bench] extra).")
        log("  " + notes[-1])
    else:
        started = time.perf_counter()
        frame = _lifelines_frame(dense_train, event_peer, time_peer)
        frame_test = _lifelines_frame(dense_test)
        prep = time.perf_counter() - started
        regressors = {"lambda_": _column_names(dense_columns)}

        def exponential(rows):
            return ExponentialPHFitter().fit(frame.iloc[:rows], "T", "E", regressors=regressors)

        warmup = _quiet(lambda: exponential(WARMUP_ROWS))
        result = {"run": "lifelines exponential", "library": f"lifelines {lifelines.__version__}",
                  "input": subset_label, "input_columns": int(dense_columns),
                  "input_rows": int(peer_rows), "threads": peer_threads, "warmup_s": warmup,
                  "prep_s": densify_seconds + prep,
                  "input_mb": frame.memory_usage(index=False).sum() / 2**20,
                  "method": "custom ParametricRegressionFitter, H(t) = t exp(b0 + x b), BFGS"}
        fitted, _ = _measured(memory, result, lambda: exponential(peer_rows))
        rate = fitted.predict_cumulative_hazard(frame_test, times=[1.0]).to_numpy().ravel()
        coefficients = fitted.params_["lambda_"]
        result["covariance_shape"] = list(fitted.variance_matrix_.shape)
        _heldout(result, y_test, 1.0 / rate)
        peer_coefficients["lifelines"] = np.r_[coefficients["Intercept"],
                                               coefficients[_column_names(dense_columns)].to_numpy()]
        record(result)
        del frame, frame_test, fitted
        gc.collect()

    agreement = None
    if len(peer_coefficients) == 2:
        difference = np.abs(peer_coefficients["statsmodels"] - peer_coefficients["lifelines"])
        agreement = {"max_abs_coefficient_difference": float(difference.max()),
                     "max_abs_coefficient": float(np.abs(peer_coefficients["statsmodels"]).max())}
        log(f"  statsmodels and lifelines coefficients differ by at most "
            f"{agreement['max_abs_coefficient_difference']:.2g} (largest |coefficient| "
            f"{agreement['max_abs_coefficient']:.2f})")

    results.append(null)
    return {
        "data": {
            "generator": (f"make_sparse_survival(n_samples={n_samples}, n_features={N_FEATURES}, "
                          f"nnz_per_row={NNZ_PER_ROW}, random_state={RANDOM_STATE})"),
            "n_samples": n_samples,
            "n_features": N_FEATURES,
            "n_train": n_train,
            "n_test": int(n_test),
            "nnz_train": int(X_train.nnz),
            "train_csr_mb": _csr_megabytes(X_train),
            "event_share_train": float(event_train.mean()),
            "event_share_test": float(event_test.mean()),
            "generation_s": data_seconds,
        },
        "dense_subset": subset,
        "full_dense_design_bytes": full_dense_bytes,
        "full_glm_covariance_bytes": (N_FEATURES + 1) ** 2 * 8,
        "sparse_input_checks": checks,
        "peer_agreement": agreement,
        "memory_method": memory.method,
        "notes": notes,
        "results": results,
    }


# ----------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------

COLUMNS = [
    ("run", "run", "{}"),
    ("input (cols x rows)", "input", "{}"),
    ("threads", "threads", "{}"),
    ("fit s", "fit_s", "{:.2f}"),
    ("CPU s", "cpu_s", "{:.2f}"),
    ("epochs", "epochs", "{}"),
    ("ns/nnz/epoch", "ns_per_nnz_epoch", "{:.1f}"),
    ("held-out NLL", "heldout_nll", "{:.4f}"),
    ("vs null", "nll_minus_null", "{:+.4f}"),
    ("C-index", "heldout_c_index", "{:.4f}"),
    ("input MB", "input_mb", "{:,.0f}"),
    ("peak RSS +MB", "peak_rss_delta_mb", "{:,.0f}"),
    ("prep s", "prep_s", "{:.2f}"),
    ("warm-up s", "warmup_s", "{:.2f}"),
]


def _cells(result):
    return table_cells(COLUMNS, result)


def format_table(results):
    """The results as an aligned text table (first two columns left-aligned)."""
    return text_table([title for title, _, _ in COLUMNS], [_cells(r) for r in results], n_left=2)


def _summary_lines(report):
    data = report["data"]
    subset = report["dense_subset"]
    lines = [
        (f"data: `{data['generator']}`; {data['n_train']:,} training rows "
         f"({data['nnz_train']:,} non-zeros, {data['train_csr_mb']:,.0f} MB as float32 CSR, "
         f"{data['event_share_train']:.1%} events), {data['n_test']:,} held out; made in "
         f"{data['generation_s']:.1f} s"),
        (f"dense subset for the peers: the {subset['columns']} most frequent training columns "
         f"({subset['share_of_training_nonzeros']:.1%} of the training non-zeros; "
         f"{subset['share_of_rows_with_none_of_them']:.1%} of the rows have none of them) "
         f"x {subset['rows']:,} rows, {subset['dense_float64_mb']:,.0f} MB as float64 "
         f"(densified in {subset['densify_s']:.1f} s)"),
        (f"the full design as dense float64: {data['n_train']:,} x 2^20 x 8 bytes = "
         f"{_human_bytes(report['full_dense_design_bytes'])}; a GLM's (2^20 + 1)^2 "
         f"covariance matrix alone: {_human_bytes(report['full_glm_covariance_bytes'])}"),
    ]
    for what, outcome in report["sparse_input_checks"].items():
        lines.append(f"{what}: {outcome}")
    if report["peer_agreement"]:
        lines.append("statsmodels and lifelines coefficients differ by at most "
                     f"{report['peer_agreement']['max_abs_coefficient_difference']:.2g}")
    lines.extend(report["notes"])
    lines.append(f"peak RSS: {report['memory_method']}")
    return lines


def format_markdown(report):
    """The report as Markdown: context, then the results table."""
    lines = [
        *markdown_context("Exponential survival: skvectorflow against lifelines and statsmodels", report["meta"]),
        *[f"- {line}" for line in _summary_lines(report)],
        "",
        *markdown_table([title for title, _, _ in COLUMNS],
                        [_cells(r) for r in report["results"]], n_left=2),
    ]
    return "\n".join(lines) + "\n"


def _metadata(argv):
    modules = (("pandas", pd), ("statsmodels", statsmodels), ("lifelines", lifelines))
    peers = {name: module.__version__ for name, module in modules if module is not None}
    meta = run_metadata("benchmarks.survival_peers", argv, peers)
    meta["blas"] = _blas_info()
    return meta


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
        prog="python -m benchmarks.survival_peers",
        description="Fit time and held-out likelihood of skvectorflow's exponential survival "
                    "model against lifelines and statsmodels on a dense subset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--n-samples", type=_positive_int, default=1_000_000,
                        help="rows of the synthetic data set (80%% train, 20%% held out)")
    parser.add_argument("--threads", type=_thread_list, default=[1, 2],
                        help="comma-separated thread counts of the skvectorflow runs")
    parser.add_argument("--dense-columns", type=_positive_int, default=DEFAULT_DENSE_COLUMNS,
                        help="columns of the peers' dense subset (the most frequent ones)")
    parser.add_argument("--peer-rows", type=_positive_int, default=None,
                        help="training rows of the dense subset, the first ones; None: all training rows")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON results file; the Markdown table goes beside it (.md)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.n_samples < 5 * WARMUP_ROWS:
        parser.error(f"--n-samples must be at least {5 * WARMUP_ROWS}, got {args.n_samples}")
    if args.peer_rows is not None and args.peer_rows < WARMUP_ROWS:
        parser.error(f"--peer-rows must be at least {WARMUP_ROWS}, got {args.peer_rows}")
    if (sm is not None or lifelines is not None) and pd is None:
        parser.error("the peers need pandas")

    started = time.perf_counter()
    report = {"meta": _metadata(argv)}
    meta = report["meta"]
    print(describe_machine(meta), flush=True)
    report.update(run_benchmark(args.n_samples, args.threads, args.dense_columns,
                                args.peer_rows, log=lambda text: print(text, flush=True)))
    meta["wall_s"] = time.perf_counter() - started

    print()
    print(format_table(report["results"]))
    print()
    for line in _summary_lines(report):
        print("- " + line.replace("`", ""))
    print(f"- wall time {meta['wall_s']:.0f} s")
    write_report(report, args.output, format_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
