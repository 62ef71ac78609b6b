"""Learning to rank on sparse data: SparseMLPRanker against Ridge and LightGBM's LGBMRanker.

Run from the repository root::

    python -m benchmarks.ranking_peers                       # 20,000 queries (~550,000 rows)
    python -m benchmarks.ranking_peers --n-queries 5000      # a quicker run
    python -m benchmarks.ranking_peers --skip-lgbm-defaults  # leave out the slowest run

On a shared 2-core machine the default run took 24 minutes, 93% of it in the
two LightGBM fits (whose set-up on 2^18 sparse columns alone exceeds every
skvectorflow fit); ``--skip-lgbm-defaults`` saves about 15 of them.

The data are ONE draw of ``make_sparse_ranking(n_queries, docs_per_query=(5, 50),
n_features=2**18, nnz_per_row=30, random_state=0)``: graded relevance 0-4
from a partly non-linear teacher plus noise plus a per-query offset that X
does not show.  The split is by query: the first 80% of the query ids train,
the rest are held out.  Every model is fitted on the same float32 CSR
training rows and scored with the same metric,
:func:`skvectorflow.ranking.mean_ndcg` at k=10 (ties share their discounts;
queries whose documents all have the same grade are left out).  The runs, in
one process, all with ``--threads`` threads where the library has threads:

``constant scores``
    Every document scores 0: the NDCG of a random order (the floor).
``Ridge``
    :class:`sklearn.linear_model.Ridge` regression on the grades
    (``solver="sparse_cg"``, ``alpha=3``): the pointwise reference.
``svf <loss> linear`` / ``svf <loss> MLP(16)``
    :class:`~skvectorflow.SparseMLPRanker` with each loss (``lambdarank``,
    ``pairwise``, ``softmax``), linear and with one 16-unit ReLU layer, up to
    30 epochs with early stopping on 10% of the training queries (the best
    epoch is kept).  Optimiser and learning rate per run are in ``SVF_RUNS``.
``LightGBM, time budget``
    ``LGBMRanker(objective="lambdarank", force_col_wise=True)``: trees are
    added while the next one is expected to end within the budget, the fit
    time of the slowest skvectorflow run (or ``--lgbm-budget`` seconds); at
    least one tree.  ``force_col_wise=True`` skips LightGBM's timing test
    of its two histogram layouts, as its own log advises.
``LightGBM, defaults``
    ``LGBMRanker(objective="lambdarank")`` with every other parameter at its
    default (100 trees, 31 leaves, learning rate 0.1).

Only ``verbose=-1`` and ``random_state=0`` are added to LightGBM's
parameters.  LightGBM is optional: without it both LightGBM runs are
skipped with a note (``pip install -e ".[bench]"`` installs it).

What is measured, for each run: ``fit_s`` (wall time of ``fit``, after a
warm-up fit of the same model on the first queries, about 2,000 rows, so
that Numba's kernels are loaded or compiled before timing), ``cpu_s``
(process CPU time during the fit, all threads), epochs run and the best
epoch (skvectorflow), trees (LightGBM), the fit's peak resident memory above
the memory before it, and the NDCG@10 on the held-out queries and on the
training queries.  Against Ridge, each run reports the difference of held-out
NDCG@10 and the standard error of the mean of the per-query differences
(paired over the same held-out queries).

Hyper-parameters.  They were chosen on a DIFFERENT draw
(``random_state=1``, same split): Ridge's ``alpha`` among 0.3, 1, 3, 10, 30 by
held-out NDCG@10 at 20,000 queries; for each loss and network, optimiser and
learning rate by the validation NDCG@10 that early stopping reports, among
7-11 settings per run at 5,000 queries (AdaGrad, row-wise AdaGrad for the
MLP, 0.01-0.4; SGD 0.03-1.0; Adam 0.001-0.01), then 3-4 of the best of
those again at 20,000 queries.  The held-out queries of that draw picked the same
settings, except for the linear pairwise run (SGD 0.3 was 0.0003 better
there).  LightGBM was not tuned (its time budget is the point).

Results: the table on stdout, JSON at ``--output`` (by default
``benchmarks/results/ranking_peers.json``) and Markdown beside it (``.md``).
"""

import argparse
import contextlib
import gc
import io
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import Ridge

import skvectorflow
from benchmarks.engine_speed import PeakMemory, _positive_int
from benchmarks.reporting import (
    describe_machine,
    markdown_context,
    markdown_table,
    run_metadata,
    text_table,
    write_report,
)
from skvectorflow import SparseMLPRanker
from skvectorflow.datasets import make_sparse_ranking
from skvectorflow.ranking import group_by_query, mean_ndcg

try:
    import lightgbm
except ImportError:
    lightgbm = None

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_OUTPUT = RESULTS_DIR / "ranking_peers.json"

N_QUERIES = 20_000
DOCS_PER_QUERY = (5, 50)
N_FEATURES = 2**18
NNZ_PER_ROW = 30
TEST_FRACTION = 0.2
RANDOM_STATE = 0
WARMUP_ROWS = 2000
EVAL_AT = 10

# Ridge: alpha 3 had the best held-out NDCG@10 among 0.3, 1, 3, 10, 30 on the
# tuning draw (random_state=1, 20,000 queries): 0.737, 0.770, 0.775, 0.764, 0.743.
RIDGE_PARAMS = {"alpha": 3.0, "solver": "sparse_cg"}

# skvectorflow: shared settings, then each run's.  On the tuning draw
# (random_state=1, 20,000 queries) each run's optimiser and learning rate had
# the best early-stopping validation NDCG@10 of those tried (in brackets: the
# runner-up settings and their validation NDCG).  The MLP's AdaGrad runs
# over-fit after one or two epochs; Adam trained longer and better.
SVF_COMMON = {"alpha": 1e-5, "max_iter": 30, "tol": 1e-4, "early_stopping": True,
              "validation_fraction": 0.1, "n_iter_no_change": 3, "eval_at": EVAL_AT,
              "random_state": RANDOM_STATE}
SVF_RUNS = [
    # [sgd 1.0: 0.775; adagrad 0.2: 0.772; adam 0.003: 0.774] -> 0.779
    ("svf lambdarank linear",
     {"loss": "lambdarank", "hidden_layer_sizes": (), "optimizer": "sgd",
      "learning_rate_init": 0.3}),
    # [sgd 0.1: 0.788; sgd 0.3: 0.786] -> 0.789
    ("svf pairwise linear",
     {"loss": "pairwise", "hidden_layer_sizes": (), "optimizer": "adagrad",
      "learning_rate_init": 0.2}),
    # [adam 0.003: 0.7811; adam 0.001: 0.7819; adagrad 0.05: 0.7789; sgd 0.3: 0.7413]
    # -> 0.7822 (the base-2 label softmax; re-tuned at 20,000 queries)
    ("svf softmax linear",
     {"loss": "softmax", "hidden_layer_sizes": (), "optimizer": "adam",
      "learning_rate_init": 0.002}),
    # [rowwise_adagrad 0.1: 0.762; sgd 0.1: 0.759; adam 0.001: 0.755] -> 0.782
    ("svf lambdarank MLP(16)",
     {"loss": "lambdarank", "hidden_layer_sizes": (16,), "activation": "relu",
      "optimizer": "adam", "learning_rate_init": 0.003}),
    # [rowwise_adagrad 0.1: 0.779; adam 0.001: 0.772] -> 0.803
    ("svf pairwise MLP(16)",
     {"loss": "pairwise", "hidden_layer_sizes": (16,), "activation": "relu",
      "optimizer": "adam", "learning_rate_init": 0.003}),
    # [adam 0.001: 0.7718] -> 0.7890 (the base-2 label softmax, at 20,000 queries)
    ("svf softmax MLP(16)",
     {"loss": "softmax", "hidden_layer_sizes": (16,), "activation": "relu",
      "optimizer": "adam", "learning_rate_init": 0.003}),
]

LGBM_COMMON = {"objective": "lambdarank", "random_state": RANDOM_STATE, "verbose": -1}
# Upper bound of the time-budgeted run's trees; the budget stops it far earlier.
LGBM_BUDGET_MAX_TREES = 10_000


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------


def _measured(memory, result, fit):
    """Call ``fit()``; store wall and CPU seconds, peak memory and warnings in ``result``."""
    captured = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(captured):
        warnings.simplefilter("always")
        with memory.measure(result):
            cpu_started = time.process_time()
            started = time.perf_counter()
            fitted = fit()
            result["fit_s"] = time.perf_counter() - started
            result["cpu_s"] = time.process_time() - cpu_started
    result["warnings"] = sorted({f"{w.category.__name__}: "
                                 f"{str(w.message).strip().splitlines()[0][:200]}"
                                 for w in caught})
    return fitted


def _quiet(fit):
    """Run a warm-up fit, discarding its output and warnings; return its seconds."""
    started = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        fit()
    return time.perf_counter() - started


def _doc_range(text):
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH such as 5,50, got {text!r}") from None
    if low < 1 or high < low:
        raise argparse.ArgumentTypeError(f"need 1 <= LOW <= HIGH, got {text!r}")
    return (low, high)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def per_query_ndcg(y, scores, bounds, k=EVAL_AT):
    """NDCG@k of each query (rows ``bounds[q]:bounds[q + 1]``), by ``mean_ndcg``.

    Queries whose documents all have the same grade are NaN (``mean_ndcg``
    leaves them out), so ``np.nanmean`` of the result is ``mean_ndcg`` of all.
    """
    values = np.full(bounds.size - 1, np.nan)
    one = np.zeros(0, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for q in range(values.size):
            start, stop = bounds[q], bounds[q + 1]
            if one.size != stop - start:
                one = np.zeros(stop - start, dtype=np.int64)
            values[q] = mean_ndcg(y[start:stop], scores[start:stop], one, k=k)
    return values


def _describe(params):
    """Short text of a run's hyper-parameters for the table."""
    return ", ".join(f"{k}={v}" for k, v in params.items())


class TimeBudget:
    """LightGBM callback: stop adding trees when the next one would end past the budget.

    After each tree, training stops when the seconds since ``start()`` plus
    the duration of the tree just built exceed ``seconds``; the first tree is
    always built.  The model keeps every tree built.

    Parameters
    ----------
    seconds : float
        The time budget of the whole ``fit``.
    """

    order = 100  # after LightGBM's own callbacks
    before_iteration = False

    def __init__(self, seconds):
        self.seconds = seconds
        self.tree_ends = []
        self._started = None

    def start(self):
        """Mark the start of ``fit``; return self."""
        self._started = time.perf_counter()
        self.tree_ends = []
        return self

    def __call__(self, env):
        now = time.perf_counter() - self._started
        previous = self.tree_ends[-1] if self.tree_ends else None
        self.tree_ends.append(now)
        last_tree = now - previous if previous is not None else 0.0
        if now + last_tree > self.seconds:
            raise lightgbm.callback.EarlyStopException(env.iteration, [])


def split_draw(n_queries, docs_per_query, n_features, nnz_per_row, random_state):
    """One draw of the data, split by query: the first 80% of the query ids train.

    Returns
    -------
    X_train, X_test, y_train, y_test, qid_train, qid_test, n_train_queries
    """
    X, y, qid = make_sparse_ranking(n_queries=n_queries, docs_per_query=docs_per_query,
                                    n_features=n_features, nnz_per_row=nnz_per_row,
                                    random_state=random_state)
    n_train_queries = n_queries - max(1, round(TEST_FRACTION * n_queries))
    cut = int(np.searchsorted(qid, n_train_queries))  # qid is non-decreasing
    return X[:cut], X[cut:], y[:cut], y[cut:], qid[:cut], qid[cut:], n_train_queries


def run_draws(random_states, n_queries, docs_per_query, n_features, nnz_per_row, threads,
              log=print):
    """Ridge and the linear skvectorflow runs on further draws of the data.

    A single draw's held-out queries cannot say whether a small margin over
    Ridge belongs to the loss or to the draw; these fits (seconds each,
    unlike LightGBM's) repeat the comparison on independent data sets with
    the same hyper-parameters.

    Returns
    -------
    rows : list of dict
        One per draw and run: ``random_state``, ``run``, ``heldout_ndcg``
        and ``ndcg_minus_ridge``.
    """
    linear_runs = [(name, params) for name, params in SVF_RUNS
                   if not params["hidden_layer_sizes"]]
    rows = []
    for random_state in random_states:
        X_train, X_test, y_train, y_test, q_train, q_test, _ = split_draw(
            n_queries, docs_per_query, n_features, nnz_per_row, random_state)
        ridge = Ridge(**RIDGE_PARAMS).fit(X_train, y_train)
        ridge_ndcg = mean_ndcg(y_test, ridge.predict(X_test), q_test, k=EVAL_AT)
        rows.append({"random_state": random_state, "run": "Ridge", "heldout_ndcg": ridge_ndcg,
                     "ndcg_minus_ridge": 0.0})
        for name, params in linear_runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = SparseMLPRanker(**params, **SVF_COMMON, n_jobs=threads)
                model.fit(X_train, y_train, qid=q_train)
            ndcg = mean_ndcg(y_test, model.predict(X_test), q_test, k=EVAL_AT)
            rows.append({"random_state": random_state, "run": name, "heldout_ndcg": ndcg,
                         "ndcg_minus_ridge": ndcg - ridge_ndcg})
        log(f"  draw random_state={random_state}: " + ", ".join(
            f"{row['run']} {row['heldout_ndcg']:.4f}" for row in rows
            if row["random_state"] == random_state))
    return rows


def summarize_draws(rows):
    """Per run: the mean difference from Ridge over the draws and its standard error."""
    summary = []
    for run in dict.fromkeys(row["run"] for row in rows if row["run"] != "Ridge"):
        differences = np.array([row["ndcg_minus_ridge"] for row in rows if row["run"] == run])
        se = differences.std(ddof=1) / np.sqrt(differences.size) if differences.size > 1 else None
        summary.append({"run": run, "draws": int(differences.size),
                        "mean_minus_ridge": float(differences.mean()),
                        "se": None if se is None else float(se),
                        "draws_above_ridge": int(np.sum(differences > 0))})
    return summary


# ----------------------------------------------------------------------------
# The benchmark
# ----------------------------------------------------------------------------


def run_benchmark(n_queries, docs_per_query, n_features, nnz_per_row, threads,
                  lgbm_budget=None, lgbm_defaults=True, log=print):
    """Make the data, fit every model and score it on the held-out queries.

    Parameters
    ----------
    n_queries : int
        Queries of the data set (80% train, 20% held out, split by query id).
    docs_per_query : tuple of two ints
        Inclusive range of documents per query.
    n_features, nnz_per_row : int
        Columns of X and non-zeros per row.
    threads : int
        ``n_jobs`` of skvectorflow and LightGBM.
    lgbm_budget : float or None
        Seconds of the time-budgeted LightGBM run; None: the slowest
        skvectorflow fit of this run.
    lgbm_defaults : bool
        Whether to run LightGBM at its defaults.
    log : callable, default=print

    Returns
    -------
    report : dict
    """
    started = time.perf_counter()
    X_train, X_test, y_train, y_test, q_train, q_test, n_train_queries = split_draw(
        n_queries, docs_per_query, n_features, nnz_per_row, RANDOM_STATE)
    data_seconds = time.perf_counter() - started
    cut = X_train.shape[0]
    _, bounds = group_by_query(q_train)
    _, test_bounds = group_by_query(q_test)
    group_sizes = np.diff(bounds)
    warm_rows = int(bounds[min(np.searchsorted(bounds, WARMUP_ROWS), bounds.size - 1)])
    Xw, yw, qw = X_train[:warm_rows], y_train[:warm_rows], q_train[:warm_rows]
    gw = np.diff(bounds[:np.searchsorted(bounds, warm_rows) + 1])
    grades = np.bincount(y_train.astype(np.int64))
    log(f"data: {n_queries:,} queries x {docs_per_query} docs, {n_features:,} features; "
        f"{n_train_queries:,} training queries ({cut:,} rows, {X_train.nnz:,} non-zeros), "
        f"{n_queries - n_train_queries:,} held out ({X_test.shape[0]:,} rows); "
        f"grades 0-{grades.size - 1}: {grades.tolist()}; made in {data_seconds:.1f} s")

    memory = PeakMemory()
    results = []
    notes = []

    per_query = {}

    def score(result, model):
        started = time.perf_counter()
        test_scores = np.asarray(model.predict(X_test), dtype=np.float64)
        result["predict_s"] = time.perf_counter() - started
        result["heldout_ndcg"] = mean_ndcg(y_test, test_scores, q_test, k=EVAL_AT)
        per_query[result["run"]] = per_query_ndcg(y_test, test_scores, test_bounds)
        result["train_ndcg"] = mean_ndcg(y_train, np.asarray(model.predict(X_train)), q_train,
                                         k=EVAL_AT)

    def record(result):
        results.append(result)
        extra = ""
        if result.get("epochs") is not None:
            extra = f", {result['epochs']} epochs (best {result['best_epoch']})"
        elif result.get("trees") is not None:
            extra = f", {result['trees']} trees"
        log(f"  {result['run']:<24} fit {result['fit_s']:8.2f} s (CPU {result['cpu_s']:8.2f} s)"
            f"{extra}: held-out NDCG@{EVAL_AT} {result['heldout_ndcg']:.4f}, "
            f"train {result['train_ndcg']:.4f}  (warm-up {result['warmup_s']:.2f} s)")

    constant = {"run": "constant scores", "library": "-", "params": "every score 0",
                "threads": None}
    constant["heldout_ndcg"] = mean_ndcg(y_test, np.zeros(y_test.size), q_test, k=EVAL_AT)
    constant["train_ndcg"] = mean_ndcg(y_train, np.zeros(y_train.size), q_train, k=EVAL_AT)
    per_query[constant["run"]] = per_query_ndcg(y_test, np.zeros(y_test.size), test_bounds)
    log(f"  constant scores (random order): held-out NDCG@{EVAL_AT} "
        f"{constant['heldout_ndcg']:.4f}")
    results.append(constant)

    # Ridge on the grades.
    warmup = _quiet(lambda: Ridge(**RIDGE_PARAMS).fit(Xw, yw))
    result = {"run": "Ridge", "library": f"scikit-learn {sklearn.__version__}",
              "params": _describe(RIDGE_PARAMS), "threads": 1, "warmup_s": warmup}
    model = Ridge(**RIDGE_PARAMS)
    model = _measured(memory, result, lambda: model.fit(X_train, y_train))
    result["iterations"] = None if model.n_iter_ is None else int(np.max(model.n_iter_))
    score(result, model)
    record(result)
    ridge_ndcg = result["heldout_ndcg"]
    del model
    gc.collect()

    # skvectorflow.
    for name, params in SVF_RUNS:
        def make(params=params):
            return SparseMLPRanker(**params, **SVF_COMMON, n_jobs=threads)

        warmup = _quiet(lambda make=make: make().fit(Xw, yw, qid=qw))
        gc.collect()
        result = {"run": name, "library": f"skvectorflow {skvectorflow.__version__}",
                  "params": _describe({k: v for k, v in params.items()
                                       if k not in ("loss", "hidden_layer_sizes",
                                                    "activation")}),
                  "params_full": {**params, **SVF_COMMON}, "threads": threads,
                  "warmup_s": warmup}
        model = make()
        model = _measured(memory, result, lambda model=model: model.fit(X_train, y_train,
                                                                        qid=q_train))
        scores = model.validation_scores_
        result.update({"epochs": int(model.n_iter_),
                       "best_epoch": int(np.argmax(scores)) + 1,
                       "validation_ndcg": [float(s) for s in scores]})
        score(result, model)
        record(result)
        del model
        gc.collect()
    slowest = max(r["fit_s"] for r in results if r["library"].startswith("skvectorflow"))
    budget_s = None

    if lightgbm is None:
        notes.append("lightgbm is not installed: the LightGBM runs are skipped "
                     "(pip install lightgbm, or the [bench] extra).")
        log("  " + notes[-1])
    else:
        budget = slowest if lgbm_budget is None else lgbm_budget
        budget_s = budget
        library = f"lightgbm {lightgbm.__version__}"

        def lgbm_run(name, params, params_text, callback=None):
            def make():
                return lightgbm.LGBMRanker(**params, n_jobs=threads)

            warmup = _quiet(lambda: make().set_params(n_estimators=2).fit(Xw, yw, group=gw))
            gc.collect()
            result = {"run": name, "library": library, "params": params_text,
                      "params_full": dict(params), "threads": threads, "warmup_s": warmup}
            model = make()
            callbacks = [] if callback is None else [callback]

            def fit():
                if callback is not None:
                    callback.start()
                return model.fit(X_train, y_train, group=group_sizes, callbacks=callbacks)

            model = _measured(memory, result, fit)
            result["trees"] = int(model.booster_.current_iteration())
            if callback is not None:
                result["budget_s"] = budget
                result["tree_end_s"] = list(callback.tree_ends)
            score(result, model)
            record(result)
            return model

        budget_params = {**LGBM_COMMON, "n_estimators": LGBM_BUDGET_MAX_TREES,
                         "force_col_wise": True}
        model = lgbm_run("LightGBM, time budget", budget_params,
                         f"force_col_wise=True, trees while within {budget:.1f} s",
                         TimeBudget(budget))
        first = results[-1]["tree_end_s"][0]
        log(f"    (first tree done {first:.1f} s into the fit; budget {budget:.1f} s)")
        del model
        gc.collect()
        if lgbm_defaults:
            model = lgbm_run("LightGBM, defaults", dict(LGBM_COMMON), "defaults (100 trees)")
            del model
            gc.collect()
        else:
            notes.append("LightGBM at its defaults was skipped (--skip-lgbm-defaults).")

    # Paired comparison with Ridge over the held-out queries: the mean of the
    # per-query differences is the difference of the means, and its standard
    # error says how much of it the choice of held-out queries could explain.
    ridge_queries = per_query["Ridge"]
    informative = ~np.isnan(ridge_queries)
    for result in results:
        result["ndcg_minus_ridge"] = result["heldout_ndcg"] - ridge_ndcg
        values = per_query[result["run"]]
        if not np.allclose(np.nanmean(values), result["heldout_ndcg"], rtol=0, atol=1e-9):
            raise RuntimeError(f"per-query NDCG of {result['run']} does not average to its "
                               f"mean_ndcg")
        if result["run"] != "Ridge":
            difference = values[informative] - ridge_queries[informative]
            result["ndcg_minus_ridge_se"] = float(difference.std(ddof=1)
                                                  / np.sqrt(difference.size))
            result["queries_better_than_ridge"] = int(np.sum(difference > 0))
            result["queries_worse_than_ridge"] = int(np.sum(difference < 0))
    return {
        "data": {
            "generator": (f"make_sparse_ranking(n_queries={n_queries}, "
                          f"docs_per_query={docs_per_query}, n_features={n_features}, "
                          f"nnz_per_row={nnz_per_row}, random_state={RANDOM_STATE})"),
            "n_queries": n_queries,
            "n_train_queries": int(n_train_queries),
            "n_test_queries": int(n_queries - n_train_queries),
            "n_train_rows": int(cut),
            "n_test_rows": int(X_test.shape[0]),
            "n_test_queries_scored": int(informative.sum()),
            "n_features": n_features,
            "nnz_train": int(X_train.nnz),
            "grade_counts_train": grades.tolist(),
            "generation_s": data_seconds,
            "warmup_rows": warm_rows,
        },
        "metric": f"skvectorflow.ranking.mean_ndcg(k={EVAL_AT})",
        "slowest_svf_fit_s": slowest,
        "lgbm_budget_s": budget_s,
        "memory_method": memory.method,
        "notes": notes,
        "results": results,
    }


# ----------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------

COLUMNS = [
    ("run", "run", "{}"),
    ("hyper-parameters", "params", "{}"),
    ("threads", "threads", "{}"),
    ("fit s", "fit_s", "{:.2f}"),
    ("CPU s", "cpu_s", "{:.2f}"),
    ("epochs (best)", "epochs", "{}"),
    ("trees", "trees", "{}"),
    (f"held-out NDCG@{EVAL_AT}", "heldout_ndcg", "{:.4f}"),
    ("vs Ridge (± s.e.)", "ndcg_minus_ridge", "{:+.4f}"),
    (f"train NDCG@{EVAL_AT}", "train_ndcg", "{:.4f}"),
    ("peak RSS +MB", "peak_rss_delta_mb", "{:,.0f}"),
    ("warm-up s", "warmup_s", "{:.2f}"),
]


def _cells(result):
    cells = []
    for _, key, fmt in COLUMNS:
        value = result.get(key)
        if value is None:
            cells.append("-")
        elif key == "epochs":
            cells.append(f"{value} ({result['best_epoch']})")
        elif key == "ndcg_minus_ridge" and result.get("ndcg_minus_ridge_se") is not None:
            cells.append(f"{value:+.4f} ± {result['ndcg_minus_ridge_se']:.4f}")
        else:
            cells.append(fmt.format(value))
    return cells


def format_table(results):
    """The results as an aligned text table (first two columns left-aligned)."""
    return text_table([title for title, _, _ in COLUMNS], [_cells(r) for r in results], n_left=2)


DRAW_COLUMNS = ["run", "draws", "mean vs Ridge (± s.e. over draws)", "draws above Ridge"]


def _draw_cells(summary):
    return [[row["run"], str(row["draws"]),
             f"{row['mean_minus_ridge']:+.4f}" + ("" if row["se"] is None
                                                   else f" ± {row['se']:.4f}"),
             f"{row['draws_above_ridge']} of {row['draws']}"] for row in summary]


def format_draw_table(summary):
    """The linear runs against Ridge over every draw, as an aligned text table."""
    return text_table(DRAW_COLUMNS, _draw_cells(summary), n_left=1)


def _summary_lines(report):
    data = report["data"]
    lines = [
        (f"data: `{data['generator']}`; {data['n_train_queries']:,} training queries "
         f"({data['n_train_rows']:,} rows, {data['nnz_train']:,} non-zeros), "
         f"{data['n_test_queries']:,} held-out queries ({data['n_test_rows']:,} rows); "
         f"made in {data['generation_s']:.1f} s"),
        (f"metric: `{report['metric']}` for every model, over the "
         f"{data['n_test_queries_scored']:,} held-out queries whose grades differ; "
         "`vs Ridge`: difference from Ridge's NDCG, ± the standard error of the mean "
         "of the per-query differences"),
        f"warm-up fits on the first {data['warmup_rows']:,} training rows",
        f"slowest skvectorflow fit: {report['slowest_svf_fit_s']:.1f} s",
    ]
    if report["lgbm_budget_s"] is not None:
        lines.append(f"LightGBM time budget: {report['lgbm_budget_s']:.1f} s")
    lines.extend(report["notes"])
    lines.append(f"peak RSS: {report['memory_method']}")
    return lines


def format_markdown(report):
    """The report as Markdown: context, then the results table."""
    lines = [
        *markdown_context("Learning to rank: skvectorflow against Ridge and LightGBM", report["meta"]),
        *[f"- {line}" for line in _summary_lines(report)],
        "",
        *markdown_table([title for title, _, _ in COLUMNS],
                        [_cells(r) for r in report["results"]], n_left=2),
        "",
        (f"Ridge and the linear runs over {len({d['random_state'] for d in report['draws']})} "
         "draws of the data (the one above and random_state 2, 3, ...): held-out NDCG@10 "
         "minus Ridge's on the same draw."),
        "",
        *markdown_table(DRAW_COLUMNS, _draw_cells(report["draw_summary"]), n_left=1),
    ]
    return "\n".join(lines) + "\n"


def _metadata(argv):
    peers = {} if lightgbm is None else {"lightgbm": lightgbm.__version__}
    return run_metadata("benchmarks.ranking_peers", argv, peers)


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
        prog="python -m benchmarks.ranking_peers",
        description="Held-out NDCG@10 and fit time of SparseMLPRanker's losses against Ridge "
                    "regression and LightGBM's LGBMRanker on make_sparse_ranking data.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--n-queries", type=_positive_int, default=N_QUERIES,
                        help="queries of the synthetic data set (80%% train, 20%% held out)")
    parser.add_argument("--docs-per-query", type=_doc_range, default=DOCS_PER_QUERY,
                        help="inclusive range LOW,HIGH of documents per query")
    parser.add_argument("--n-features", type=_positive_int, default=N_FEATURES,
                        help="columns of X")
    parser.add_argument("--nnz-per-row", type=_positive_int, default=NNZ_PER_ROW,
                        help="non-zeros per row")
    parser.add_argument("--threads", type=_positive_int, default=2,
                        help="n_jobs of skvectorflow and LightGBM")
    parser.add_argument("--lgbm-budget", type=_positive_float, default=None,
                        help="seconds of the time-budgeted LightGBM run (default: the "
                             "slowest skvectorflow fit of the run)")
    parser.add_argument("--skip-lgbm-defaults", action="store_true",
                        help="leave out LightGBM at its defaults (the slowest run)")
    parser.add_argument("--extra-draws", type=int, default=4,
                        help="further draws of the data (random_state 2, 3, ...; 1 is the "
                             "tuning draw) on which Ridge and the linear runs are repeated")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON results file; the Markdown table goes beside it (.md)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.n_queries < 10:
        parser.error(f"--n-queries must be at least 10, got {args.n_queries}")
    if args.nnz_per_row > args.n_features:
        parser.error("--nnz-per-row cannot exceed --n-features")
    if args.extra_draws < 0:
        parser.error(f"--extra-draws must be at least 0, got {args.extra_draws}")

    started = time.perf_counter()
    report = {"meta": _metadata(argv)}
    meta = report["meta"]
    print(describe_machine(meta), flush=True)
    report.update(run_benchmark(args.n_queries, args.docs_per_query, args.n_features,
                                args.nnz_per_row, args.threads, args.lgbm_budget,
                                not args.skip_lgbm_defaults,
                                log=lambda text: print(text, flush=True)))
    # The main draw's Ridge and linear rows, then the same runs on the extra draws.
    linear_names = {name for name, params in SVF_RUNS if not params["hidden_layer_sizes"]}
    draws = [{"random_state": RANDOM_STATE, "run": r["run"], "heldout_ndcg": r["heldout_ndcg"],
              "ndcg_minus_ridge": r["ndcg_minus_ridge"]}
             for r in report["results"] if r["run"] == "Ridge" or r["run"] in linear_names]
    if args.extra_draws:
        print(f"repeating Ridge and the linear runs on {args.extra_draws} more draws", flush=True)
        draws += run_draws(range(2, 2 + args.extra_draws), args.n_queries, args.docs_per_query,
                           args.n_features, args.nnz_per_row, args.threads,
                           log=lambda text: print(text, flush=True))
    report["draws"] = draws
    report["draw_summary"] = summarize_draws(draws)
    meta["wall_s"] = time.perf_counter() - started

    print()
    print(format_table(report["results"]))
    print()
    print(format_draw_table(report["draw_summary"]))
    print()
    for line in _summary_lines(report):
        print("- " + line.replace("`", ""))
    print(f"- wall time {meta['wall_s']:.0f} s")
    write_report(report, args.output, format_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
