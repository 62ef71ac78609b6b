"""Held-out quality of every estimator at its defaults, after one epoch, and at a grid's best.

Issue 19, items 4 and 5: the defaults should sit close to what a small
learning-rate x ``alpha`` grid reaches, and training longer (the default
``max_iter``) must not do worse than one epoch.  Run from the repository root::

    python -m benchmarks.quality --quick              # 20,000 rows a set, the small grid
    python -m benchmarks.quality --full               # 100,000 rows a set, the full grid
    python -m benchmarks.quality --only criteo-8-strong,whas500 --estimators linear,fm

For each data set and estimator it reports the held-out metric (a) at the
estimator's defaults, (b) at ``max_iter=1`` and otherwise default settings,
and (c) at the best point of the grid ``learning_rate_init`` in
{0.01, 0.05, 0.2, 0.5} x ``alpha`` in {0, 1e-6, 1e-5, 1e-4, 1e-3} (``--grid
small``: {0.05, 0.2} x {1e-5, 1e-3}).  The scikit-learn and
scikit-survival baselines run in the same process, on the same split, with
their own regularisation (``C`` or ``alpha``) on a three-point grid; they have
no one-epoch figure.

The held-out rows are fixed: the last 20% of the rows (of the queries, for
ranking; of a seeded permutation, for the real survival data, whose files are
sorted).  No default was chosen on them.  The grid's best is picked *on* them:
it is an oracle, the most any tuning over that grid could reach, so
``default - grid best`` is never flattered.

Data sets differ in rows, columns, non-zeros per row, Zipf exponent, label
noise and teacher (linear, pairwise field interactions, non-linear).  The
``held-out`` family comes from :func:`make_crossed_fields`, a generator
written here that the project's defaults were never tuned on: Criteo-shaped
categorical fields with their own Zipf exponents, whose clicks are driven by
main effects plus three crossed field pairs (each combination of a pair's
categories has its own random effect, which no low-rank model represents
exactly).

Targets, per estimator over the data sets: mean ``default - grid best`` at
least -0.005 and worst at least -0.02; per estimator and data set:
default ``>=`` one epoch - 0.002 ("longer training must not hurt").
"""

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logit, ndtri
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import ndcg_score, r2_score, roc_auc_score

from benchmarks.reporting import (
    describe_machine,
    markdown_context,
    markdown_table,
    run_metadata,
    table_cells,
    text_table,
    write_report,
)
from skvectorflow import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    SparseMLPClassifier,
    SparseMLPRanker,
    SparseMLPRegressor,
    SurvivalExponentialRegressor,
)
from skvectorflow.criteo import make_criteo_like
from skvectorflow.datasets import (
    make_sparse_classification,
    make_sparse_ranking,
    make_sparse_regression,
    make_sparse_survival,
)
from skvectorflow.survival import make_survival_target

RESULTS = Path(__file__).parent / "results" / "quality.json"
RANDOM_STATE = 0
TEST_FRACTION = 0.2
GRIDS = {
    "full": ((0.01, 0.05, 0.2, 0.5), (0.0, 1e-6, 1e-5, 1e-4, 1e-3)),
    # The defaults' learning rate and alpha, and one step up each: 4 fits, not 20.
    "small": ((0.05, 0.2), (1e-5, 1e-3)),
}
SUITES = {"quick": (20_000, "small"), "full": (100_000, "full")}
# The targets.
MEAN_GAP, WORST_GAP, LONGER_SLACK = 0.005, 0.02, 0.002
METRICS = {"classification": "ROC AUC", "regression": "R^2", "ranking": "NDCG@10",
           "survival": "C-index"}


# ----------------------------------------------------------------------------
# The held-out family's generator
# ----------------------------------------------------------------------------


def _splitmix64(values):
    """SplitMix64 of uint64 ``values``: a fixed pseudo-random hash, vectorised (wraps mod 2**64)."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def make_crossed_fields(n_samples, *, n_fields=12, n_dense=4, max_cardinality=10_000,
                        zipf_exponent=1.2, crossed_share=0.5, n_crossed_pairs=3, noise=0.0,
                        hash_bits=14, random_state=0):
    r"""Click data from categorical fields, main effects and a few crossed field pairs.

    Field ``f`` has ``c_f`` categories (log-spaced from 5 to
    ``max_cardinality``, shuffled across fields) drawn with popularity
    ``p(r) ~ (r + 1)^{-zipf_exponent}``.  Every category has a main effect
    ``w ~ N(0, 1)``; ``n_crossed_pairs`` field pairs ``(f, g)`` are chosen at
    random, and each combination ``(a, b)`` of theirs has its own effect
    ``e_{fg}(a, b) ~ N(0, 1)`` (a hash of the pair and the two categories, so
    the teacher is the same whatever ``n_samples``).  With ``z`` the
    standardised dense columns and ``rho = crossed_share``,

    .. math::

        s = \sqrt{1 - \rho}\, \frac{\sum_f w_f(x_f) + a^\top z}{\sqrt{n_f + 1}}
            + \sqrt{\rho}\, \frac{\sum_{(f, g)} e_{fg}(x_f, x_g)}{\sqrt{n_{pairs}}},

    and the click is Bernoulli with logit ``logit(0.2) + 2 (s + noise * N(0, 1))``.

    Parameters
    ----------
    n_samples : int
    n_fields, n_dense : int, default=12, 4
        Categorical fields and dense (log-count) columns.
    max_cardinality : int, default=10_000
    zipf_exponent : float, default=1.2
    crossed_share : float in [0, 1], default=0.5
        Share of the score's variance in the crossed pairs.
    n_crossed_pairs : int, default=3
    noise : float, default=0.0
        Gaussian noise on the score, in units of its standard deviation.
    hash_bits : int, default=14
        Columns per field: each category goes to one of ``2**hash_bits``
        buckets at random (colliding when the field has more categories).
    random_state : int, default=0

    Returns
    -------
    X : scipy.sparse.csr_matrix of float32, shape (n_samples, n_dense + n_fields * 2**hash_bits)
        The dense columns first, then one 1 per field (one-hot, hashed).
    y : ndarray of int64, shape (n_samples,)
    field_of_column : ndarray of int32, shape (n_features,)
        Each column's field; -1 for the dense columns.
    """
    teacher_rng, row_rng, label_rng = [np.random.default_rng(s) for s in
                                       np.random.SeedSequence(random_state).spawn(3)]
    cardinalities = np.round(np.geomspace(5, max_cardinality, n_fields)).astype(np.int64)
    teacher_rng.shuffle(cardinalities)
    pairs = [tuple(p) for p in teacher_rng.permutation(
        [(f, g) for f in range(n_fields) for g in range(f + 1, n_fields)])[:n_crossed_pairs]]
    dense_weights = teacher_rng.normal(size=n_dense)
    count_means = teacher_rng.uniform(0.0, 3.0, n_dense)

    counts = np.floor(np.exp(row_rng.normal(count_means, 1.2, size=(n_samples, n_dense))))
    log_counts = np.log1p(counts)
    z = (log_counts - log_counts.mean(axis=0)) / np.maximum(log_counts.std(axis=0), 1e-12)
    main = z @ dense_weights
    categories = np.empty((n_samples, n_fields), dtype=np.int64)
    columns = np.empty((n_samples, n_fields), dtype=np.int64)
    width = 1 << hash_bits
    for field, cardinality in enumerate(cardinalities):
        cdf = np.cumsum(np.arange(1, cardinality + 1, dtype=np.float64) ** -zipf_exponent)
        ranks = np.minimum(np.searchsorted(cdf, row_rng.random(n_samples) * cdf[-1], side="right"),
                           cardinality - 1)
        main += teacher_rng.normal(size=cardinality)[ranks]
        buckets = teacher_rng.integers(width, size=cardinality)
        categories[:, field] = ranks
        columns[:, field] = n_dense + field * width + buckets[ranks]
    crossed = np.zeros(n_samples)
    for pair_index, (f, g) in enumerate(pairs):
        key = (categories[:, f] * int(cardinalities[g]) + categories[:, g]).astype(np.uint64)
        salt = np.uint64((random_state + 1) * 1_000_003 + pair_index)
        uniform = ((_splitmix64(key * np.uint64(0x100000001B3) ^ salt) >> np.uint64(11))
                   + 0.5) / 2.0**53
        crossed += ndtri(uniform)
    score = (np.sqrt(1 - crossed_share) * main / np.sqrt(n_fields + 1)
             + np.sqrt(crossed_share) * crossed / np.sqrt(max(len(pairs), 1)))
    score = score + noise * label_rng.standard_normal(n_samples)
    y = (label_rng.random(n_samples) < expit(logit(0.2) + 2.0 * score)).astype(np.int64)

    row_columns = np.hstack([np.broadcast_to(np.arange(n_dense), (n_samples, n_dense)), columns])
    values = np.hstack([log_counts, np.ones((n_samples, n_fields))]).astype(np.float32)
    X = sp.csr_matrix((values.ravel(), row_columns.ravel().astype(np.int32),
                       np.arange(0, values.size + 1, n_dense + n_fields, dtype=np.int64)),
                      shape=(n_samples, n_dense + n_fields * width))
    X.eliminate_zeros()  # a zero count is no non-zero
    field_of_column = np.concatenate([np.full(n_dense, -1), np.repeat(np.arange(n_fields), width)])
    return X, y, field_of_column.astype(np.int32)


# ----------------------------------------------------------------------------
# Data sets
# ----------------------------------------------------------------------------


@dataclass
class Split:
    """A data set cut into its training and held-out parts."""

    X_train: object
    y_train: np.ndarray
    X_test: object
    y_test: np.ndarray
    qid_train: np.ndarray = None
    qid_test: np.ndarray = None
    field_of_column: np.ndarray = None

    @property
    def dense(self):
        """Small and dense (the real survival data): the Cox baseline can run."""
        return not sp.issparse(self.X_train)


def _last_rows(X, y, field_of_column=None):
    cut = int(round(X.shape[0] * (1 - TEST_FRACTION)))
    return Split(X[:cut], y[:cut], X[cut:], y[cut:], field_of_column=field_of_column)


def _by_query(X, y, qid):
    cut = int(np.searchsorted(qid, qid[int(round(qid.size * (1 - TEST_FRACTION)))]))
    return Split(X[:cut], y[:cut], X[cut:], y[cut:], qid[:cut], qid[cut:])


def _sksurv(loader):
    """A scikit-survival data set: numerics imputed and standardised, categoricals one-hot.

    The rows are permuted with a fixed seed first (the files are sorted) and
    the encoders are fitted on the training rows only.
    """
    def build(n_samples):
        import sksurv.datasets
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        frame, target = getattr(sksurv.datasets, loader)()
        event_name, time_name = target.dtype.names
        order = np.random.default_rng(RANDOM_STATE).permutation(len(frame))
        frame, target = frame.iloc[order].reset_index(drop=True), target[order]
        numeric = [c for c in frame.columns if frame[c].dtype.kind == "f"]
        categorical = [c for c in frame.columns if c not in numeric]
        frame[categorical] = frame[categorical].astype(str)  # a missing value is its own category
        encoder = ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                      StandardScaler()), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)])
        time_ = target[time_name]
        # flchain has deaths on day 0, which no continuous-time likelihood allows: half a step.
        time_ = np.where(time_ > 0, time_, 0.5 * time_[time_ > 0].min())
        y = make_survival_target(target[event_name], time_)
        cut = int(round(len(frame) * (1 - TEST_FRACTION)))
        X_train = encoder.fit_transform(frame.iloc[:cut]).astype(np.float32)
        X_test = encoder.transform(frame.iloc[cut:]).astype(np.float32)
        return Split(X_train, y[:cut], X_test, y[cut:])
    return build


def _classification(**kw):
    return lambda n: _last_rows(*make_sparse_classification(n, random_state=RANDOM_STATE, **kw))


def _criteo(**kw):
    return lambda n: _last_rows(*make_criteo_like(n, random_state=RANDOM_STATE, **kw))


def _crossed(**kw):
    return lambda n: _last_rows(*make_crossed_fields(n, random_state=RANDOM_STATE, **kw))


# name: (task, family, what differs, builder(n_samples) -> Split)
DATASETS = {
    "clf-linear": ("classification", "datasets", "2**16 cols, 30 nnz, linear teacher", _classification(
        n_features=2**16, nnz_per_row=30, nonlinearity=0.0, noise=0.0)),
    "clf-mixed": ("classification", "datasets", "2**16 cols, 30 nnz, half non-linear", _classification(
        n_features=2**16, nnz_per_row=30, nonlinearity=0.5, noise=0.0)),
    "clf-nonlinear-noisy": ("classification", "datasets", "2**14 cols, 80 nnz, non-linear, noise 1",
                            _classification(n_features=2**14, nnz_per_row=80, nonlinearity=1.5,
                                            noise=1.0)),
    "clf-wide-short": ("classification", "datasets", "2**20 cols, 8 nnz, noise 0.3", _classification(
        n_features=2**20, nnz_per_row=8, nonlinearity=0.5, noise=0.3)),
    "criteo-26": ("classification", "criteo", "13 dense + 26 fields, card <= 1e4, pairs 1.5",
                  _criteo(n_dense=13, n_fields=26, max_cardinality=10_000, hash_bits=14,
                          interaction_strength=1.5, missing_rate=0.1)),
    "criteo-8-strong": ("classification", "criteo", "4 dense + 8 fields, card <= 1e3, pairs 3",
                        _criteo(n_dense=4, n_fields=8, max_cardinality=1000, hash_bits=10,
                                interaction_strength=3.0, missing_rate=0.0)),
    "criteo-16-linear": ("classification", "criteo", "6 dense + 16 fields, card <= 5e4, linear",
                         _criteo(n_dense=6, n_fields=16, max_cardinality=50_000, hash_bits=16,
                                 interaction_strength=0.0, missing_rate=0.3)),
    "crossed-zipf1.05": ("classification", "held-out", "4 dense + 16 fields, zipf 1.05, card <= 1e5",
                         _crossed(n_fields=16, n_dense=4, max_cardinality=100_000, zipf_exponent=1.05,
                                  crossed_share=0.5, hash_bits=16)),
    "crossed-zipf1.2": ("classification", "held-out", "2 dense + 10 fields, zipf 1.2, noise 0.5",
                        _crossed(n_fields=10, n_dense=2, max_cardinality=5000, zipf_exponent=1.2,
                                 crossed_share=0.7, noise=0.5, hash_bits=12)),
    "crossed-zipf1.4": ("classification", "held-out", "8 dense + 14 fields, zipf 1.4, crossed 0.3",
                        _crossed(n_fields=14, n_dense=8, max_cardinality=20_000, zipf_exponent=1.4,
                                 crossed_share=0.3, hash_bits=14)),
    "crossed-lowcard": ("classification", "held-out", "3 dense + 6 fields, zipf 1.1, card <= 200",
                        _crossed(n_fields=6, n_dense=3, max_cardinality=200, zipf_exponent=1.1,
                                 crossed_share=0.8, hash_bits=8)),
    "reg-linear": ("regression", "datasets", "2**16 cols, 30 nnz, linear, noise 0.1",
                   lambda n: _last_rows(*make_sparse_regression(
                       n, 2**16, 30, nonlinearity=0.0, noise=0.1, random_state=RANDOM_STATE))),
    "reg-nonlinear": ("regression", "datasets", "2**14 cols, 60 nnz, non-linear, noise 0.5",
                      lambda n: _last_rows(*make_sparse_regression(
                          n, 2**14, 60, nonlinearity=1.0, noise=0.5, random_state=RANDOM_STATE))),
    "rank-20docs": ("ranking", "datasets", "20 docs/query, 2**16 cols, 30 nnz",
                    lambda n: _by_query(*make_sparse_ranking(
                        n // 20, 20, 2**16, 30, random_state=RANDOM_STATE))),
    "rank-ragged": ("ranking", "datasets", "5-40 docs/query, 2**14 cols, non-linear, noise 1",
                    lambda n: _by_query(*make_sparse_ranking(
                        n // 22, (5, 40), 2**14, 20, nonlinearity=1.0, noise=1.0,
                        random_state=RANDOM_STATE))),
    "surv-sparse": ("survival", "datasets", "2**14 cols, 20 nnz, ~2/3 censored",
                    lambda n: _last_rows(*make_sparse_survival(
                        n, 2**14, 20, random_state=RANDOM_STATE))),
    "whas500": ("survival", "sksurv", "500 rows, real", _sksurv("load_whas500")),
    "gbsg2": ("survival", "sksurv", "686 rows, real", _sksurv("load_gbsg2")),
    "veterans": ("survival", "sksurv", "137 rows, real", _sksurv("load_veterans_lung_cancer")),
    "flchain": ("survival", "sksurv", "7,874 rows, real, missing values", _sksurv("load_flchain")),
    "aids": ("survival", "sksurv", "1,151 rows, real, 8% events", _sksurv("load_aids")),
}


# ----------------------------------------------------------------------------
# Estimators and metrics
# ----------------------------------------------------------------------------


def _ndcg_at_10(y, scores, qid):
    """Mean over queries of scikit-learn's ``ndcg_score(k=10)`` with gains ``2**grade - 1``.

    The exponential gain is the rankers' own (``SparseMLPRanker.score``,
    LightGBM's); scikit-learn's default gain is the grade itself.  Queries of
    one grade are left out, as ``mean_ndcg`` does.
    """
    bounds = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1], True])
    gains = np.exp2(y) - 1
    values = [ndcg_score(gains[None, a:b], scores[None, a:b], k=10)
              for a, b in zip(bounds[:-1], bounds[1:], strict=False) if np.ptp(y[a:b]) > 0]
    return float(np.mean(values))


def score(task, model, split):
    """The held-out metric of a fitted model: ROC AUC, R^2, NDCG@10 or Harrell's C."""
    X, y = split.X_test, split.y_test
    if task == "classification":
        return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))
    if task == "regression":
        return float(r2_score(y, model.predict(X)))
    if task == "ranking":
        return _ndcg_at_10(y, np.asarray(model.predict(X), dtype=np.float64), split.qid_test)
    return float(model.score(X, y))


def _svf(cls, **kw):
    return lambda split: cls(random_state=RANDOM_STATE, n_jobs=1, **kw)


def _cox(split):
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    return CoxPHSurvivalAnalysis(alpha=0.01)


# name: (task, factory(split) -> estimator, baseline grid {param: values} or None, runs on split?)
# A skvectorflow estimator's grid is GRIDS'; a baseline's first value is its default.
ESTIMATORS = {
    "linear": ("classification", _svf(SparseMLPClassifier), None, None),
    "mlp16": ("classification", _svf(SparseMLPClassifier, hidden_layer_sizes=(16,)), None, None),
    "fm": ("classification", _svf(FactorizationMachineClassifier), None, None),
    "dlrm": ("classification", lambda split: DLRMClassifier(
        field_of_column=split.field_of_column, embedding_dim=16, bottom_mlp=(64, 16),
        top_mlp=(64,), random_state=RANDOM_STATE, n_jobs=1), None,
        lambda split: split.field_of_column is not None),
    "logreg": ("classification", lambda split: LogisticRegression(solver="liblinear", C=1.0),
               {"C": (1.0, 0.1, 10.0)}, None),
    "mlp-regressor": ("regression", _svf(SparseMLPRegressor), None, None),
    "ridge": (("regression", "ranking"), lambda split: Ridge(alpha=1.0), {"alpha": (1.0, 0.1, 10.0)},
              None),
    "ranker": ("ranking", _svf(SparseMLPRanker), None, None),
    "survival-exp": ("survival", _svf(SurvivalExponentialRegressor), None, None),
    "coxph": ("survival", _cox, {"alpha": (0.01, 0.1, 1.0)}, lambda split: split.dense),
}


def _fit(model, split):
    X = split.X_train
    with warnings.catch_warnings():
        # Ten epochs that have not met tol are what "defaults" means here; say so once, not per fit.
        warnings.simplefilter("ignore")
        if split.qid_train is not None and isinstance(model, SparseMLPRanker):
            return model.fit(X, split.y_train, qid=split.qid_train)
        return model.fit(X, split.y_train)


def evaluate(task, factory, baseline_grid, split, grid):
    """One estimator on one split: its default, one-epoch and grid-best held-out metric.

    Returns
    -------
    row : dict
        ``default``, ``one_epoch`` (None for a baseline), ``grid_best`` and
        ``grid_best_params``.
    """
    model = factory(split)
    if baseline_grid is not None:
        points = [dict(zip(baseline_grid, values, strict=True))
                  for values in zip(*baseline_grid.values(), strict=True)]
        one_epoch = None
    else:
        points = [{"learning_rate_init": lr, "alpha": alpha} for lr in grid[0] for alpha in grid[1]]
        one_epoch = score(task, _fit(clone(model).set_params(max_iter=1), split), split)
    defaults = model.get_params()
    scores, default = [], None
    for point in points:
        scores.append(score(task, _fit(clone(model).set_params(**point), split), split))
        if all(defaults[key] == value for key, value in point.items()):
            default = scores[-1]  # the grid holds the defaults: one fit fewer
    if default is None:
        default = score(task, _fit(clone(model), split), split)
    best = int(np.argmax(scores))
    return {"default": default, "one_epoch": one_epoch, "grid_best": scores[best],
            "grid_best_params": points[best], "grid_points": len(points)}


def _tasks(name):
    task = ESTIMATORS[name][0]
    return task if isinstance(task, tuple) else (task,)


def run(datasets, estimators, n_samples, grid, log=print):
    """Every estimator of a data set's task on every data set; one row per pair.

    Parameters
    ----------
    datasets, estimators : list of str
        Keys of :data:`DATASETS` and :data:`ESTIMATORS`.
    n_samples : int
        Rows of each synthetic data set (the real ones keep theirs).
    grid : tuple of two tuples
        ``learning_rate_init`` values and ``alpha`` values.
    log : callable, default=print

    Returns
    -------
    rows : list of dict
    """
    rows = []
    for data_name in datasets:
        task, family, what, build = DATASETS[data_name]
        started = time.perf_counter()
        split = build(n_samples)
        log(f"{data_name}: {split.X_train.shape[0]:,} + {split.X_test.shape[0]:,} rows x "
            f"{split.X_train.shape[1]:,} cols, built in {time.perf_counter() - started:.1f} s", flush=True)
        for name in estimators:
            _, factory, baseline_grid, applies = ESTIMATORS[name]
            if task not in _tasks(name) or (applies is not None and not applies(split)):
                continue
            started = time.perf_counter()
            row = evaluate(task, factory, baseline_grid, split, grid)
            row.update(data=data_name, family=family, task=task, what=what, estimator=name,
                       n_train=split.X_train.shape[0], n_test=split.X_test.shape[0],
                       n_features=split.X_train.shape[1], seconds=time.perf_counter() - started,
                       baseline=baseline_grid is not None)
            row["default_minus_best"] = row["default"] - row["grid_best"]
            row["longer_ok"] = longer_ok(row["default"], row["one_epoch"])
            rows.append(row)
            log(f"  {name:<14} default {row['default']:.4f}  1 epoch "
                + ("   -  " if row["one_epoch"] is None else f"{row['one_epoch']:.4f}")
                + f"  grid best {row['grid_best']:.4f}  ({row['seconds']:.1f} s)", flush=True)
    return rows


def longer_ok(default, one_epoch):
    """Whether the default ``max_iter`` scores at least one epoch less the slack (None: no epoch)."""
    return None if one_epoch is None else bool(default >= one_epoch - LONGER_SLACK)


def summarize(rows):
    """The issue's checks from a run's rows.

    Returns
    -------
    summary : dict
        ``gap``: per skvectorflow estimator, the mean and worst
        ``default - grid best`` over its data sets and ``status`` ("PASS" when
        the mean is at least ``-MEAN_GAP`` and the worst at least
        ``-WORST_GAP``); ``longer``: per estimator and data set, whether the
        default ``max_iter`` scores at least the one-epoch fit ``- LONGER_SLACK``.
    """
    gap, longer = [], []
    for name in dict.fromkeys(row["estimator"] for row in rows if not row["baseline"]):
        own = [row for row in rows if row["estimator"] == name]
        gaps = np.array([row["default_minus_best"] for row in own])
        mean, worst = float(gaps.mean()), float(gaps.min())
        gap.append({"estimator": name, "n_datasets": len(own), "mean": mean, "worst": worst,
                    "worst_data": own[int(np.argmin(gaps))]["data"],
                    "status": "PASS" if mean >= -MEAN_GAP and worst >= -WORST_GAP else "FAIL"})
        longer += [{"estimator": name, "data": row["data"],
                    "difference": row["default"] - row["one_epoch"],
                    "status": "PASS" if longer_ok(row["default"], row["one_epoch"]) else "FAIL"}
                   for row in own]
    return {"gap": gap, "longer": longer}


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------

COLUMNS = [("data set", "data", "{}"), ("family", "family", "{}"), ("metric", "metric", "{}"),
           ("estimator", "estimator", "{}"), ("default", "default", "{:.4f}"),
           ("1 epoch", "one_epoch", "{:.4f}"), ("grid best", "grid_best", "{:.4f}"),
           ("best at", "best_at", "{}"), ("default-best", "default_minus_best", "{:+.4f}"),
           ("longer ok", "longer", "{}"), ("s", "seconds", "{:.1f}")]
GAP_COLUMNS = [("estimator", "estimator", "{}"), ("data sets", "n_datasets", "{}"),
               ("mean default-best", "mean", "{:+.4f}"), ("worst", "worst", "{:+.4f}"),
               ("worst on", "worst_data", "{}"), ("status", "status", "{}")]
DATA_COLUMNS = [("data set", "data", "{}"), ("task", "task", "{}"), ("family", "family", "{}"),
                ("what differs", "what", "{}"), ("train rows", "n_train", "{:,}"),
                ("held-out rows", "n_test", "{:,}"), ("columns", "n_features", "{:,}")]
LONGER_COLUMNS = [("estimator", "estimator", "{}"), ("data set", "data", "{}"),
                  ("default - 1 epoch", "difference", "{:+.4f}"), ("status", "status", "{}")]


def _display(row):
    params = row["grid_best_params"]
    best_at = (f"lr {params['learning_rate_init']:g}, a {params['alpha']:g}"
               if "learning_rate_init" in params else ", ".join(f"{k} {v:g}" for k, v in params.items()))
    longer = None if row["longer_ok"] is None else ("PASS" if row["longer_ok"] else "FAIL")
    return {**row, "metric": METRICS[row["task"]], "best_at": best_at, "longer": longer}


def _tables(rows, summary):
    """(title, header, cells, left-aligned columns) of each table of the report."""
    def cells(columns, items):
        return [title for title, _, _ in columns], [table_cells(columns, item) for item in items]
    datasets = list({row["data"]: row for row in rows}.values())
    return [
        ("Data sets", *cells(DATA_COLUMNS, datasets), 4),
        ("Held-out metric", *cells(COLUMNS, map(_display, rows)), 4),
        (f"Defaults against the grid's best (target: mean >= -{MEAN_GAP}, worst >= -{WORST_GAP})",
         *cells(GAP_COLUMNS, summary["gap"]), 1),
        (f"Longer training must not hurt (default max_iter >= 1 epoch - {LONGER_SLACK})",
         *cells(LONGER_COLUMNS, summary["longer"]), 2),
    ]


def format_markdown(report):
    """The Markdown page of a report: context, how to read it, then the three tables."""
    meta = report["meta"]
    lines = [*markdown_context("Estimator quality: defaults, one epoch and a grid's best", meta), "",
             f"{report['n_samples']:,} rows per synthetic data set (last {TEST_FRACTION:.0%} held out; "
             f"by query for ranking), grid: learning_rate_init in {list(report['grid'][0])} x alpha in "
             f"{list(report['grid'][1])}. The grid's best is picked on the held-out rows (an oracle "
             "bound); the defaults never saw them. Family `held-out`: `benchmarks.quality."
             "make_crossed_fields`, a generator the defaults were not tuned on."]
    for title, header, cells, n_left in _tables(report["rows"], report["summary"]):
        lines += ["", f"## {title}", "", *markdown_table(header, cells, n_left)]
    return "\n".join(lines) + "\n"


def _names(text, known, what):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what} {unknown}; choose from {list(known)}")
    return names


def main(argv=None):
    """``python -m benchmarks.quality``: run, print the tables, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    suite = parser.add_mutually_exclusive_group()
    suite.add_argument("--quick", dest="suite", action="store_const", const="quick",
                       help="20,000 rows a set, the small grid (the default)")
    suite.add_argument("--full", dest="suite", action="store_const", const="full",
                       help="100,000 rows a set, the full grid")
    parser.add_argument("--n-samples", type=int, help="rows per synthetic set (overrides the suite)")
    parser.add_argument("--grid", choices=sorted(GRIDS), help="overrides the suite's grid")
    parser.add_argument("--only", type=lambda t: _names(t, DATASETS, "data sets"), default=list(DATASETS),
                        help="comma-separated data sets: " + ",".join(DATASETS))
    parser.add_argument("--estimators", type=lambda t: _names(t, ESTIMATORS, "estimators"),
                        default=list(ESTIMATORS), help="comma-separated: " + ",".join(ESTIMATORS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    n_samples, grid_name = SUITES[args.suite or "quick"]
    n_samples, grid = args.n_samples or n_samples, GRIDS[args.grid or grid_name]
    meta = run_metadata("benchmarks.quality", sys.argv[1:] if argv is None else argv)
    print(describe_machine(meta), flush=True)
    started = time.perf_counter()
    rows = run(args.only, args.estimators, n_samples, grid)
    meta["wall_s"] = time.perf_counter() - started
    report = {"meta": meta, "n_samples": n_samples, "grid": grid, "rows": rows,
              "summary": summarize(rows)}
    for title, header, cells, n_left in _tables(rows, report["summary"]):
        print(f"\n{title}\n{text_table(header, cells, n_left)}")
    write_report(report, args.output, format_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
