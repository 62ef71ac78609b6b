"""Command line of skvectorflow: ``python -m skvectorflow <command>``.

Commands
--------
``demo``
    Make a synthetic sparse binary classification problem with
    :func:`skvectorflow.datasets.make_sparse_classification` (by default
    1,000,000 rows, 2**20 features, 30 non-zeros per row), hold out the last
    20% of the rows, train a linear model (logistic regression, AdaGrad) and
    a 16-unit ReLU MLP (AdaGrad) on every core, and print a table of
    held-out ROC AUC, log-loss and accuracy with the training speed of each.
    The Numba kernels are compiled (or loaded from Numba's cache) by a tiny
    warm-up fit first, so the reported fit times exclude compilation.
``train``
    Read a svmlight/libsvm or ``.npz`` file (or a folder written by
    ``convert``), fit one estimator chosen by
    ``--model`` with parameters from flags, print per-epoch progress and,
    if asked (``--test FILE`` or ``--validation-fraction F``), held-out
    scores, and write the fitted estimator in the model format of
    :func:`skvectorflow.io.save_model` (NumPy arrays and JSON, loaded without
    running code), or with :func:`joblib.dump` given ``--pickle``.
``predict``
    Load a model written by ``train`` and write one prediction a row of a
    data file, to stdout or ``--output``.  A pickle (joblib) model file is
    refused unless ``--allow-pickle`` is given: unpickling runs code from the
    file.
``convert``
    Stream a svmlight/libsvm or Parquet file into the memory-mapped format
    of :mod:`skvectorflow.io` (see :func:`skvectorflow.io.convert`), which
    ``train``, ``predict`` and every estimator read without a copy.

Survival targets in a file are *signed times*: a positive label is the time
of an observed event, a negative label ``-t`` a row censored at time ``t``.
Ranking files give each row's query as ``qid:<query>`` after the label.
Errors (a missing file, a malformed line, a file that is not a model) are
one line on stderr and a non-zero exit status: 2 for a bad command line, 1
for anything else.

The same command line is installed as the ``skvectorflow`` console script
(``skvectorflow demo``), which calls :func:`main`.  A new command is a
function adding its flags, a function running it, and one line in
``_COMMANDS``.

Examples
--------
A quick run on a small problem::

    python -m skvectorflow demo --n-samples 20000 --n-features 65536 --epochs 1

Train an MLP on a libsvm file, score it on another, and predict::

    python -m skvectorflow train train.svm --model mlp-classifier --hidden 16 \\
        --epochs 2 --test test.svm --output model.skvf
    python -m skvectorflow predict model.skvf new.svm --output predictions.txt

Data bigger than memory: convert once, then train from the memory map::

    python -m skvectorflow convert big.svm.gz big --query-id
    python -m skvectorflow train big --model ranker --epochs 1 --output ranker.skvf

Criteo click logs: the converted folder stores its field map, which DLRM uses::

    python -m skvectorflow convert day_0.gz day_0 --format criteo --hash-bits 18
    python -m skvectorflow train day_0 --model dlrm-classifier --embedding-dim 16 \\
        --bottom-mlp 64,16 --top-mlp 64 --batch-size 64 --epochs 1 --output dlrm.skvf
"""

import argparse
import ast
import io
import os
import sys
import time
import zlib
from typing import NamedTuple

import joblib
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.utils.validation import check_is_fitted

from . import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    FactorizationMachineRegressor,
    SparseMLPClassifier,
    SparseMLPRanker,
    SparseMLPRegressor,
    SurvivalExponentialRegressor,
    __version__,
)
from ._base import effective_n_threads
from ._datafiles import (
    DataFileError,
    line_of_row,
    read_data_file,
    read_field_map,
    stored_field_map,
)
from .datasets import make_sparse_classification
from .fields import check_field_map
from .io.model_format import is_model_file, load_model, save_model
from .survival import make_survival_target, mean_exponential_nll

__all__ = ["main"]

# Smallest data set the demo accepts: the 20% held out must hold enough rows
# of both classes for a ROC AUC to mean something.
_MIN_SAMPLES = 100

# Share of the rows held out for evaluation.
_TEST_FRACTION = 0.2

# Rows of the warm-up problem that compiles (or loads) the kernels.
_WARMUP_SAMPLES = 300

# Learning rates of the two demo models, and why one epoch on a million rows.
# Held-out ROC AUC on the default problem (random_state=0, 2 threads):
#   linear, AdaGrad, 1 epoch on 1M rows: 0.2 -> 0.796, 0.5 -> 0.803.
#   MLP(16), 1 epoch on 1M rows, rate 0.2: AdaGrad 0.812-0.817 (two seeds,
#   1 or 2 threads); row-wise AdaGrad 0.803-0.808, its halved memory traffic
#   bought with some accuracy on this data, so the demo uses AdaGrad.
# On fewer rows or over more epochs the MLP over-fits: most columns are rare,
# and each rare column's 16 input weights memorise its few rows (200k rows,
# 3 epochs: MLP 0.777 / 0.749 / 0.732 by epoch at rate 0.1, below the linear
# model's 0.782).  One pass over plenty of data is the regime the engine is
# built for, and the one the benchmarks measure.
_LINEAR_LEARNING_RATE = 0.5
_MLP_LEARNING_RATE = 0.2




class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block).

    Sub-command parsers made by ``add_subparsers`` are of the same class, so
    every error reads ``skvectorflow demo: error: <what> (see --help)``.
    """

    def error(self, message):
        """Print ``message`` as one line on stderr and exit with status 2.

        Parameters
        ----------
        message : str
            What was wrong with the command line.
        """
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default in its help, unless the default is "not given"."""

    def _get_help_string(self, action):
        if action.default in (None, False, (), []) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _CommandError(Exception):
    """A failure a command reports as one line on stderr, with an exit status.

    Parameters
    ----------
    message : str
        What went wrong, naming the file, line or flag at fault.
    status : int, default=1
        Exit status: 2 for a bad command line (the message then ends with
        "(see --help)"), 1 for bad data or a failed run.
    """

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def _int_at_least(minimum):
    """An argparse ``type`` accepting integers ``>= minimum``.

    Parameters
    ----------
    minimum : int
        Smallest accepted value.

    Returns
    -------
    parse : callable
        Turns the flag's text into an int, or raises
        :class:`argparse.ArgumentTypeError` with a one-line message.
    """

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _min_frequency(text):
    """Parse ``--min-frequency``: a count >= 1, or a fraction of the rows in (0, 1).

    Parameters
    ----------
    text : str

    Returns
    -------
    value : int or float
        An int when the text is one, as ``min_frequency`` reads a count.

    Raises
    ------
    argparse.ArgumentTypeError
        With a one-line message, for anything else.
    """
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = None
    if value is None or (isinstance(value, int) and value < 1) or (
            isinstance(value, float) and not 0 < value < 1):
        raise argparse.ArgumentTypeError(
            f"expected a count >= 1 or a fraction of the rows in (0, 1), got {text!r}")
    return value


def _nonzero_int(text):
    """Parse ``--n-jobs``: any integer except 0, as in joblib.

    Parameters
    ----------
    text : str

    Returns
    -------
    value : int
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must not be 0 (use -1 for all cores, or a positive number of threads)"
        )
    return value


def _format_table(header, rows):
    """Align ``rows`` under ``header``: the first column left, the others right.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequence of str

    Returns
    -------
    text : str
        The header, a rule, and one line per row.
    """
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells):
        parts = [cells[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts)

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _held_out_scores(model, X, y):
    """ROC AUC, log-loss and accuracy of a fitted binary classifier on X, y.

    Parameters
    ----------
    model : SparseMLPClassifier
    X : sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)

    Returns
    -------
    auc, loss, accuracy : float
        ``auc`` is NaN when ``y`` holds a single class.
    """
    proba = model.predict_proba(X)
    positive = proba[:, 1]
    predicted = model.classes_[(positive > 0.5).astype(np.intp)]
    try:
        auc = roc_auc_score(y, positive)
    except ValueError:  # a single class in y
        auc = float("nan")
    return auc, log_loss(y, proba, labels=model.classes_), accuracy_score(y, predicted)


def _run_demo(args):
    """Run ``demo``: make data, warm up, train both models, print the table.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of ``demo``.

    Returns
    -------
    status : int
        0 on success.
    """
    if args.nnz_per_row > args.n_features:
        raise _CommandError(
            f"argument --nnz-per-row: must be at most --n-features ({args.n_features}), "
            f"got {args.nnz_per_row} (see --help)", status=2)
    n_threads = effective_n_threads(args.n_jobs)
    print(f"skvectorflow {__version__} demo: binary classification on synthetic sparse data",
          flush=True)

    started = time.perf_counter()
    X, y = make_sparse_classification(
        n_samples=args.n_samples,
        n_features=args.n_features,
        nnz_per_row=args.nnz_per_row,
        random_state=args.random_state,
    )
    data_seconds = time.perf_counter() - started
    print(f"data: {X.shape[0]:,} rows x {X.shape[1]:,} features, {X.nnz:,} non-zeros "
          f"({args.nnz_per_row} per row), made in {data_seconds:.2f} s", flush=True)

    # The rows are i.i.d. draws, so holding out the last 20% is a random split.
    n_train = X.shape[0] - max(1, round(_TEST_FRACTION * X.shape[0]))
    X_train, X_test = X[:n_train], X[n_train:]
    y_train, y_test = y[:n_train], y[n_train:]
    print(f"split: {n_train:,} training rows, {X_test.shape[0]:,} held out "
          f"({_TEST_FRACTION:.0%})", flush=True)
    print(f"threads: {n_threads} (n_jobs={args.n_jobs}; {joblib.cpu_count()} cores)", flush=True)

    models = [
        ("linear (AdaGrad)", {"hidden_layer_sizes": (), "optimizer": "adagrad",
                              "learning_rate_init": _LINEAR_LEARNING_RATE}),
        ("MLP(16) (AdaGrad)", {"hidden_layer_sizes": (16,), "activation": "relu",
                               "optimizer": "adagrad",
                                        "learning_rate_init": _MLP_LEARNING_RATE}),
    ]

    # A tiny problem of its own runs every kernel once (training and
    # prediction), so that compilation, or loading from Numba's cache, is
    # timed here and not in the fits below.
    print("compiling kernels (first run only; cached afterwards)...", flush=True)
    started = time.perf_counter()
    X_warm, y_warm = make_sparse_classification(
        n_samples=_WARMUP_SAMPLES,
        n_features=min(args.n_features, 4096),
        nnz_per_row=min(args.nnz_per_row, args.n_features, 4096),
        random_state=args.random_state,
    )
    for _, params in models:
        warm = SparseMLPClassifier(**params, max_iter=1, tol=None, n_jobs=args.n_jobs,
                                   random_state=args.random_state)
        warm.fit(X_warm, y_warm).predict_proba(X_warm)
    print(f"kernels ready in {time.perf_counter() - started:.2f} s "
          "(compile or cache load; not counted in the fit times)", flush=True)

    rows = []
    for name, params in models:
        print(f"\n{name}: {args.epochs} epoch{'s' if args.epochs > 1 else ''}", flush=True)
        model = SparseMLPClassifier(**params, max_iter=args.epochs, tol=None, verbose=1,
                                    n_jobs=args.n_jobs, random_state=args.random_state)
        started = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - started
        auc, loss, accuracy = _held_out_scores(model, X_test, y_test)
        rows.append([
            name,
            "n/a" if np.isnan(auc) else f"{auc:.4f}",
            f"{loss:.4f}",
            f"{accuracy:.4f}",
            f"{model.n_iter_ * n_train / max(fit_seconds, 1e-9):,.0f}",
            f"{fit_seconds:.2f}",
        ])

    header = ["model", "ROC AUC", "log-loss", "accuracy", "train rows/s", "fit s"]
    print(f"\nheld-out results ({X_test.shape[0]:,} rows; {n_threads} "
          f"thread{'s' if n_threads > 1 else ''}):", flush=True)
    print(_format_table(header, rows), flush=True)
    return 0


def _add_demo_arguments(demo):
    """Add the flags of ``demo`` to its parser.

    Parameters
    ----------
    demo : argparse.ArgumentParser
    """
    demo.add_argument("--n-samples", type=_int_at_least(_MIN_SAMPLES), default=1_000_000, metavar="N",
                      help="rows of the synthetic data set")
    demo.add_argument("--n-features", type=_int_at_least(1), default=2**20, metavar="N",
                      help="columns of the synthetic data set")
    demo.add_argument("--nnz-per-row", type=_int_at_least(1), default=30, metavar="K",
                      help="non-zeros in every row (at most --n-features)")
    demo.add_argument("--epochs", type=_int_at_least(1), default=1, metavar="E",
                      help="passes over the training rows, for each model")
    demo.add_argument("--n-jobs", type=_nonzero_int, default=-1, metavar="J",
                      help="training threads; -1 means all cores")
    demo.add_argument("--random-state", type=_int_at_least(0), default=0, metavar="SEED",
                      help="seed of the data, the split and the models")


# ---- train and predict --------------------------------------------------------

def _classification_scores(model, X, y, qid):
    """Accuracy, and log-loss and ROC AUC where they are defined."""
    scores = [("accuracy", accuracy_score(y, model.predict(X)))]
    known = np.isin(y, model.classes_).all()
    if model.loss == "log_loss" and known:
        proba = model.predict_proba(X)
        scores.append(("log-loss", log_loss(y, proba, labels=model.classes_)))
        if model.classes_.shape[0] == 2 and np.unique(y).shape[0] == 2:
            scores.append(("ROC AUC", roc_auc_score(y, proba[:, 1])))
    return scores


def _regression_scores(model, X, y, qid):
    """R^2 and root mean squared error."""
    predicted = model.predict(X)
    return [("R^2", r2_score(y, predicted)),
            ("RMSE", float(np.sqrt(mean_squared_error(y, predicted))))]


def _survival_scores(model, X, y, qid):
    """Harrell's concordance index and the mean exponential negative log-likelihood."""
    return [("C-index", model.score(X, y)),
            ("mean NLL", mean_exponential_nll(y, model.predict(X)))]


def _ranking_scores(model, X, y, qid):
    """Mean NDCG at the ranker's ``eval_at``."""
    return [(f"NDCG@{model.eval_at}", model.score(X, y, qid=qid))]


def _labels_as_is(labels, path):
    """Targets of classifiers, regressors and rankers: the labels themselves."""
    return labels


def _signed_times_as_survival(labels, path):
    """Survival target from signed times: ``t > 0`` an event at ``t``, ``-t`` censored at ``t``.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        The file's labels.
    path : str
        The file, to name it (and the line) when a label is 0.

    Returns
    -------
    y : structured ndarray of shape (n_samples,)
        As :func:`skvectorflow.survival.make_survival_target` makes it.
    """
    zero = np.flatnonzero(labels == 0)
    if zero.size:
        line = line_of_row(path, int(zero[0]))
        where = f"line {line}" if line is not None else f"row {zero[0]}"
        raise _CommandError(
            f"{path}, {where}: survival label 0; labels are signed times (t > 0: an event "
            "at time t; -t: censored at time t), so 0 is neither")
    return make_survival_target(labels > 0, np.abs(labels))


class _ModelKind(NamedTuple):
    """What ``train`` needs to know about one ``--model`` choice.

    ``shape_parameters`` are the parameters that the "fitting ..." line
    shows: those that set the network's shape.
    """

    estimator: type
    needs_qid: bool
    target_from_labels: object
    held_out_scores: object
    shape_parameters: tuple = ("hidden_layer_sizes",)


_MODEL_KINDS = {
    "mlp-classifier": _ModelKind(SparseMLPClassifier, False, _labels_as_is,
                                 _classification_scores),
    "mlp-regressor": _ModelKind(SparseMLPRegressor, False, _labels_as_is, _regression_scores),
    "survival": _ModelKind(SurvivalExponentialRegressor, False, _signed_times_as_survival,
                           _survival_scores),
    "ranker": _ModelKind(SparseMLPRanker, True, _labels_as_is, _ranking_scores),
    "fm-classifier": _ModelKind(FactorizationMachineClassifier, False, _labels_as_is,
                                _classification_scores, ("n_factors", "hidden_layer_sizes")),
    "fm-regressor": _ModelKind(FactorizationMachineRegressor, False, _labels_as_is,
                               _regression_scores, ("n_factors", "hidden_layer_sizes")),
    "dlrm-classifier": _ModelKind(DLRMClassifier, False, _labels_as_is, _classification_scores,
                                  ("embedding_dim", "bottom_mlp", "top_mlp", "interaction")),
}

# The estimator parameter each model flag of ``train`` sets (by argparse dest).
# The flags default to "not given" (argparse.SUPPRESS), so a flag left out
# leaves the estimator's own default, and a flag given to a model without its
# parameter is refused.
_PARAMETER_OF_FLAG = {
    "hidden": "hidden_layer_sizes",
    "activation": "activation",
    "loss": "loss",
    "optimizer": "optimizer",
    "learning_rate": "learning_rate_init",
    "alpha": "alpha",
    "l1": "l1",
    "ftrl_beta": "ftrl_beta",
    "batch_size": "batch_size",
    "n_factors": "n_factors",
    "embedding_dim": "embedding_dim",
    "bottom_mlp": "bottom_mlp",
    "top_mlp": "top_mlp",
    "interaction": "interaction",
}


def _hidden_layer_sizes(text):
    """Parse ``--hidden``: comma-separated widths, or ``""`` / ``0`` for a linear model."""
    if text.strip() in ("", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 16 or 64,16, got {text!r}") from None
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer widths must be at least 1, got {text!r}")
    return sizes


def _bottom_mlp(text):
    """Parse ``--bottom-mlp``: widths as for ``--hidden``, or ``none`` for data without dense columns."""
    return None if text.strip().lower() == "none" else _hidden_layer_sizes(text)


def _fraction(text):
    """Parse ``--validation-fraction``: a float strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {value}")
    return value


def _param_assignment(text):
    """Parse ``--param NAME=VALUE``; the value is a Python literal or else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass  # a bare word such as relu stays a string
    return name.strip(), value


def _add_train_arguments(train):
    """Add the flags of ``train`` to its parser.

    Parameters
    ----------
    train : argparse.ArgumentParser
    """
    train.add_argument("data", metavar="DATA",
                       help="training file: svmlight/libsvm text (.gz/.bz2 too) or .npz")
    train.add_argument("--output", "-o", required=True, metavar="MODEL",
                       help="where to write the fitted model (the safe model format of "
                            "skvectorflow.io.save_model, whatever the name; .skvf is usual)")
    train.add_argument("--model", choices=list(_MODEL_KINDS), default="mlp-classifier",
                       help="the estimator to fit")
    held_out = train.add_mutually_exclusive_group()
    held_out.add_argument("--test", metavar="FILE",
                          help="score the fitted model on this file (same format as DATA)")
    held_out.add_argument("--validation-fraction", type=_fraction, metavar="F",
                          help="hold out this share of DATA (whole queries for the ranker), "
                               "chosen at random, and score the model on it")
    train.add_argument("--query-id", action="store_true",
                       help="read qid:<query> from each line; implied by --model ranker, and for "
                            "the other models it keeps each query on one side of "
                            "--validation-fraction's split")
    train.add_argument("--n-features", type=_int_at_least(1), metavar="N",
                       help="width of the model's input; default: the largest column id of "
                            "DATA plus one (set it for hashed features, so that columns "
                            "missing from DATA but present at predict time still count)")
    network = train.add_argument_group(
        "model parameters (left out, each keeps the estimator's default)",
        argument_default=argparse.SUPPRESS)
    network.add_argument("--hidden", type=_hidden_layer_sizes, metavar="SIZES",
                         help="hidden layer widths, comma-separated (16, or 64,16); "
                              "default: none, a linear model (or the factorization machine "
                              "itself for fm-*)")
    network.add_argument("--activation", metavar="NAME",
                         help="activation of the hidden layers (relu, tanh, logistic, identity)")
    network.add_argument("--loss", metavar="NAME",
                         help="the estimator's loss (see its documentation)")
    network.add_argument("--optimizer", metavar="NAME",
                         help="adagrad, rowwise_adagrad, adam, sgd or ftrl (FTRL-Proximal: "
                              "--alpha and --l1 are then its per-coordinate L2 and L1)")
    network.add_argument("--learning-rate", type=float, metavar="RATE",
                         help="base step size (learning_rate_init)")
    network.add_argument("--alpha", type=float, metavar="A", help="L2 penalty")
    network.add_argument("--l1", type=float, metavar="A", help="L1 penalty")
    network.add_argument("--ftrl-beta", type=float, metavar="B",
                         help="--optimizer ftrl: FTRL's beta, the rate of a coordinate being "
                              "learning_rate / (beta + sqrt(its summed squared gradients))")
    network.add_argument("--batch-size", type=_int_at_least(1), metavar="B",
                         help="rows (queries for the ranker) per update")
    network.add_argument("--n-factors", type=_int_at_least(1), metavar="K",
                         help="fm-*: entries of each column's factor vector (n_factors)")
    network.add_argument("--embedding-dim", type=_int_at_least(1), metavar="D",
                         help="dlrm-classifier: width of each embedding and of the bottom "
                              "MLP's output")
    network.add_argument("--bottom-mlp", type=_bottom_mlp, metavar="SIZES",
                         help="dlrm-classifier: hidden widths of the MLP on the dense columns, "
                              "comma-separated; 0 for a single layer, none for data without "
                              "dense columns")
    network.add_argument("--top-mlp", type=_hidden_layer_sizes, metavar="SIZES",
                         help="dlrm-classifier: hidden widths of the MLP on the interactions, "
                              "comma-separated")
    network.add_argument("--interaction", choices=["dot", "cat"],
                         help="dlrm-classifier: pairwise dot products of the embeddings, or "
                              "their concatenation")
    train.add_argument("--field-map", metavar="FILE",
                       help="dlrm-classifier: a .npy of one integer a column of DATA, its field "
                            "(-1 for a dense column); default: the field map stored in a folder "
                            "written by 'convert --format criteo'")
    network.add_argument("--epochs", type=_int_at_least(1), default=5, metavar="E",
                         help="passes over the data (max_iter); all of them run unless "
                              "--early-stopping")
    network.add_argument("--early-stopping", action="store_true", default=False,
                         help="hold out 10%% of DATA inside the estimator, stop when its "
                              "score stops improving and keep the best epoch")
    network.add_argument("--n-jobs", type=_nonzero_int, default=-1, metavar="J",
                         help="Hogwild training threads; -1 means all cores")
    network.add_argument("--random-state", type=_int_at_least(0), default=0, metavar="SEED",
                         help="seed of the model and of --validation-fraction's split")
    network.add_argument("--param", type=_param_assignment, action="append", default=[],
                         metavar="NAME=VALUE",
                         help="any other parameter of the estimator, e.g. "
                              "--param shuffle_block_size=64 (repeatable)")
    train.add_argument("--pickle", action="store_true",
                       help="write a joblib pickle instead (loading it runs code: predict "
                            "needs --allow-pickle)")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="print only the held-out scores (no progress)")


def _estimator_from_flags(args, kind):
    """The unfitted estimator that ``train``'s flags describe."""
    estimator = kind.estimator()
    known = estimator.get_params()
    params = {"max_iter": args.epochs, "n_jobs": args.n_jobs,
              "random_state": args.random_state, "verbose": 0 if args.quiet else 1}
    for dest, name in _PARAMETER_OF_FLAG.items():
        if hasattr(args, dest):  # given: the flags default to argparse.SUPPRESS
            if name not in known:
                raise _CommandError(
                    f"argument --{dest.replace('_', '-')}: {kind.estimator.__name__} has no "
                    f"parameter {name!r} (see --help)", status=2)
            params[name] = getattr(args, dest)
    if args.field_map is not None and "field_of_column" not in known:
        raise _CommandError(
            f"argument --field-map: {kind.estimator.__name__} takes no field map, only "
            "dlrm-classifier does (see --help)", status=2)
    if args.early_stopping:
        params["early_stopping"] = True
    else:
        # --epochs means that many epochs, on all of DATA (not the estimators'
        # early_stopping='auto').
        params["early_stopping"] = False
        params["tol"] = None
    for name, value in args.param:
        if name not in known:
            raise _CommandError(
                f"argument --param: {kind.estimator.__name__} has no parameter {name!r} "
                "(see --help)", status=2)
        params[name] = value
    return estimator.set_params(**params)


def _held_out_split(n_samples, qid, fraction, random_state):
    """Row indices of a random train/held-out split; whole queries when ``qid`` is given."""
    if qid is None:
        splitter = ShuffleSplit(n_splits=1, test_size=fraction, random_state=random_state)
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=random_state)
    try:
        return next(splitter.split(np.zeros((n_samples, 1)), groups=qid))
    except ValueError as exc:  # too few rows or queries for the fraction
        raise _CommandError(f"argument --validation-fraction: {exc}") from None


def _field_map_source(args):
    """Where dlrm-classifier's field map comes from: ``(description, map)``, or a usage error."""
    if args.field_map is not None:
        return f"argument --field-map: {args.field_map}", read_field_map(args.field_map)
    stored = stored_field_map(args.data)
    if stored is None:
        raise _CommandError(
            f"argument --field-map: {args.model} needs the field of each column of {args.data}: "
            "give --field-map FILE (a .npy of one integer a column, -1 for dense columns), or "
            "train on a folder written by 'skvectorflow convert --format criteo', which stores "
            "it (see --help)", status=2)
    return f"{args.data}: its stored field map", stored


def _checked_field_map(source, field_of_column, n_features):
    """The field map checked against X's width; a mismatch is a usage error."""
    try:
        return check_field_map(field_of_column, n_features)[0]
    except (ValueError, TypeError) as exc:
        raise _CommandError(f"{source}: {exc} (see --help)", status=2) from None


def _read(path, kind_needs_qid, n_features, say):
    """Read a data file, reporting what was read and what was dropped."""
    started = time.perf_counter()
    X, labels, qid, n_dropped = read_data_file(path, query_id=kind_needs_qid,
                                               n_features=n_features)
    say(f"read {path}: {X.shape[0]:,} rows x {X.shape[1]:,} columns, {X.nnz:,} non-zeros"
        + (f", {np.unique(qid).shape[0]:,} queries" if qid is not None else "")
        + f" ({time.perf_counter() - started:.2f} s)")
    if n_dropped:
        print(f"note: {path}: ignored {n_dropped:,} non-zeros in columns >= {n_features:,}, "
              "which the model never saw", file=sys.stderr)
    return X, labels, qid


def _run_train(args):
    """Run ``train``: read, fit with progress, score if asked, and save.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of ``train``.

    Returns
    -------
    status : int
        0 on success.
    """
    kind = _MODEL_KINDS[args.model]
    needs_qid = kind.needs_qid or args.query_id

    def say(message):
        if not args.quiet:
            print(message, flush=True)

    estimator = _estimator_from_flags(args, kind)
    # Checked now, not after a long fit.
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise _CommandError(f"cannot write the model to {args.output}: no folder {folder}")
    field_map = _field_map_source(args) if "field_of_column" in estimator.get_params() else None
    X, labels, qid = _read(args.data, needs_qid, args.n_features, say)
    if field_map is not None:
        estimator.set_params(field_of_column=_checked_field_map(*field_map, X.shape[1]))
    y = kind.target_from_labels(labels, args.data)
    if args.test is not None:
        X_test, labels_test, qid_test = _read(args.test, needs_qid, X.shape[1], say)
        y_test = kind.target_from_labels(labels_test, args.test)
    elif args.validation_fraction is not None:
        train_rows, test_rows = _held_out_split(X.shape[0], qid, args.validation_fraction,
                                                args.random_state)
        X, X_test = X[train_rows], X[test_rows]
        y, y_test = y[train_rows], y[test_rows]
        qid, qid_test = (None, None) if qid is None else (qid[train_rows], qid[test_rows])
        say(f"held out {test_rows.shape[0]:,} rows ({args.validation_fraction:.0%}) for scoring")

    fit_params = {"qid": qid} if kind.needs_qid else {}
    shape = ", ".join(f"{name}={getattr(estimator, name)!r}" for name in kind.shape_parameters)
    say(f"fitting {estimator.__class__.__name__}({shape}) "
        f"on {X.shape[0]:,} rows with {effective_n_threads(estimator.n_jobs)} thread(s)")
    started = time.perf_counter()
    estimator.fit(X, y, **fit_params)
    say(f"fitted {estimator.n_iter_} epoch(s) in {time.perf_counter() - started:.2f} s")

    if args.test is not None or args.validation_fraction is not None:
        scores = kind.held_out_scores(estimator, X_test, y_test, qid_test)
        print(f"held-out scores ({X_test.shape[0]:,} rows): "
              + "  ".join(f"{name} {value:.4f}" for name, value in scores), flush=True)

    # Written beside the target and renamed, so a failed write leaves no half file.
    partial = f"{args.output}.partial"
    try:
        if args.pickle:
            joblib.dump(estimator, partial)
        else:
            save_model(estimator, partial)
        os.replace(partial, args.output)
    except (OSError, ValueError) as exc:
        if os.path.exists(partial):
            os.remove(partial)
        raise _CommandError(f"cannot write the model to {args.output}: {exc.strerror or exc}") from None
    say(f"model written to {args.output}")
    return 0


_ESTIMATORS = tuple(kind.estimator for kind in _MODEL_KINDS.values())


def _add_predict_arguments(predict):
    """Add the flags of ``predict`` to its parser.

    Parameters
    ----------
    predict : argparse.ArgumentParser
    """
    predict.add_argument("model", metavar="MODEL",
                         help="a model file written by 'skvectorflow train' or "
                              "skvectorflow.io.save_model")
    predict.add_argument("data", metavar="DATA",
                         help="rows to predict: svmlight/libsvm text or .npz, as for train "
                              "(labels and qid are read and ignored)")
    predict.add_argument("--output", "-o", metavar="FILE",
                         help="write the predictions here instead of stdout")
    predict.add_argument("--proba", action="store_true",
                         help="classifiers: write the probability of each class (in sorted "
                              "label order, space-separated) instead of the predicted label")
    predict.add_argument("--allow-pickle", action="store_true",
                         help="also load a joblib/pickle model file; unpickling runs code from "
                              "the file, so pass it only for files you trust")


def _load_model(path, allow_pickle=False):
    """The fitted estimator in a file written by ``train``, or a one-line error.

    A file of the safe format is loaded without running code from it.  Any
    other file may be a pickle, and unpickling runs code from the file before
    anything can be checked: it is refused unless ``allow_pickle``.
    """
    if not os.path.isfile(path):
        raise _CommandError(f"{path}: no such file")
    if is_model_file(path):
        try:
            return load_model(path)
        except ValueError as exc:
            raise _CommandError(str(exc)) from None
    if not allow_pickle:
        raise _CommandError(
            f"{path}: not a skvectorflow model file (skvectorflow.io.save_model). If it is a "
            "joblib/pickle model you trust, pass --allow-pickle: unpickling runs code from the "
            "file, so a pickle from an untrusted source can do anything")
    try:
        model = joblib.load(path)
    # Unpickling arbitrary bytes fails in many ways (UnpicklingError, EOFError,
    # KeyError, ValueError, ...): each means the same thing here.
    except Exception as exc:  # noqa: BLE001
        raise _CommandError(
            f"{path}: not a model file written by 'skvectorflow train' "
            f"({type(exc).__name__})") from None
    if not isinstance(model, _ESTIMATORS):
        raise _CommandError(
            f"{path}: holds a {type(model).__name__}, not a skvectorflow model written by "
            "'skvectorflow train'")
    check_is_fitted(model)
    return model


def _predictions(model, X, proba):
    """What ``predict`` writes: labels, probabilities, values, times or scores."""
    if proba:
        if not isinstance(model, SparseMLPClassifier):
            raise _CommandError(
                f"argument --proba: only classifiers predict probabilities, the model is a "
                f"{type(model).__name__} (see --help)", status=2)
        if model.loss != "log_loss":
            raise _CommandError(
                f"argument --proba: the classifier was trained with loss={model.loss!r}, "
                "which gives no probabilities (see --help)", status=2)
        return model.predict_proba(X)
    return model.predict(X)


def _format_predictions(predictions):
    """One line a row: a value, or the row's values space-separated.

    Numbers are written with ``%.9g``, which round-trips float32 and writes an
    integer label as ``1``, not ``1.0``; other labels (strings) as they print.
    """
    if predictions.dtype.kind not in "fiub":
        return "".join(f"{label}\n" for label in predictions)
    buffer = io.StringIO()
    np.savetxt(buffer, predictions, fmt="%.9g")
    return buffer.getvalue()


def _run_predict(args):
    """Run ``predict``: load the model and the rows, write one prediction a line.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of ``predict``.

    Returns
    -------
    status : int
        0 on success.
    """
    model = _load_model(args.model, args.allow_pickle)
    X, _, _, n_dropped = read_data_file(args.data, n_features=model.n_features_in_)
    if n_dropped:
        print(f"note: {args.data}: ignored {n_dropped:,} non-zeros in columns >= "
              f"{model.n_features_in_:,}, which the model never saw", file=sys.stderr)
    text = _format_predictions(_predictions(model, X, args.proba))
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        with open(args.output, "w") as output:
            output.write(text)
    except OSError as exc:
        raise _CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return 0


def _add_convert_arguments(convert):
    """Add the flags of ``convert`` to its parser.

    Parameters
    ----------
    convert : argparse.ArgumentParser
    """
    convert.add_argument("source", metavar="SOURCE",
                         help="svmlight/libsvm text (optionally .gz/.bz2), or a Parquet file "
                              "or folder with --format parquet")
    convert.add_argument("destination", metavar="DEST",
                         help="the folder to write (memory-mapped .npy arrays and header.json)")
    convert.add_argument("--format", choices=["svmlight", "libsvm", "parquet", "criteo"],
                         default="svmlight", help="format of SOURCE")
    convert.add_argument("--n-features", type=_int_at_least(1), metavar="N",
                         help="width of X (default: the largest column id seen + 1 for "
                              "svmlight; 2**20 hashed features for Parquet)")
    convert.add_argument("--overwrite", action="store_true", help="replace DEST if it exists")
    convert.add_argument("--quiet", action="store_true", help="no progress line")
    text = convert.add_argument_group("svmlight/libsvm")
    text.add_argument("--one-based", action="store_true",
                      help="column ids in the file start at 1 (default: used as they are)")
    text.add_argument("--query-id", action="store_true", help="keep the qid:<query> of each line")
    text.add_argument("--chunk-size", type=_int_at_least(1), metavar="BYTES",
                      help="bytes of text parsed at a time (bounds the memory used)")
    table = convert.add_argument_group("Parquet")
    table.add_argument("--target", metavar="COLUMN", help="the label column")
    table.add_argument("--categorical", nargs="+", metavar="COLUMN", default=(),
                       help="columns whose values are hashed into features")
    table.add_argument("--numeric", nargs="+", metavar="COLUMN", default=(),
                       help="numeric columns, one hashed feature each holding the value")
    table.add_argument("--lists", nargs="+", metavar="COLUMN", default=(),
                       help="list columns whose items are hashed into features")
    table.add_argument("--qid", metavar="COLUMN", help="the query id column")
    table.add_argument("--batch-size", type=_int_at_least(1), metavar="ROWS",
                       help="rows read at a time")
    criteo = convert.add_argument_group("Criteo (label, 13 counts, 26 categorical tokens a line)")
    criteo.add_argument("--hash-bits", type=_int_at_least(1), metavar="BITS",
                        help="each categorical field gets 2**BITS columns (default 16)")
    criteo.add_argument("--min-frequency", type=_min_frequency, metavar="K",
                        help="fold the hashed columns of a field seen in fewer than K rows "
                             "(or, for K in (0, 1), a fraction K of the rows) into one "
                             "infrequent column per field; a first pass over SOURCE counts them")
    criteo.add_argument("--counts-from", metavar="TRAIN",
                        help="with --min-frequency, count the rows of the Criteo file TRAIN "
                             "instead of SOURCE: a test file then gets the training columns")


def _run_convert(args):
    """Run ``convert``: stream SOURCE into the memory-mapped format of ``skvectorflow.io``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of ``convert``.

    Returns
    -------
    status : int
        0 on success.
    """
    from .io import convert  # the io package is needed by this command only

    text_flags = args.one_based or args.query_id or args.chunk_size is not None
    parquet_flags = any(flag is not None for flag in (
        args.target, args.qid, args.batch_size, *args.categorical, *args.numeric, *args.lists))
    if args.format != "criteo" and args.hash_bits is not None:
        raise _CommandError("--hash-bits is a Criteo flag (see --help)", status=2)
    if args.format != "criteo" and (args.min_frequency is not None or args.counts_from is not None):
        raise _CommandError("--min-frequency and --counts-from are Criteo flags (see --help)",
                            status=2)
    if args.counts_from is not None and args.min_frequency is None:
        raise _CommandError("--counts-from needs --min-frequency (see --help)", status=2)
    if args.format == "parquet":
        if text_flags:
            raise _CommandError("--one-based, --query-id and --chunk-size are svmlight flags; "
                                "with --format parquet use --qid COLUMN (see --help)", status=2)
        if args.target is None:
            raise _CommandError("--format parquet needs --target COLUMN", status=2)
        options = {"target": args.target, "categorical": list(args.categorical),
                   "numeric": list(args.numeric), "lists": list(args.lists), "qid": args.qid,
                   "n_features": args.n_features, "batch_size": args.batch_size}
    elif parquet_flags:
        raise _CommandError("--target, --categorical, --numeric, --lists, --qid and "
                            "--batch-size are Parquet flags (see --help)", status=2)
    elif args.format == "criteo":
        if text_flags or args.n_features is not None:
            raise _CommandError("--one-based, --query-id, --chunk-size and --n-features do not "
                                "apply to --format criteo (its width is set by --hash-bits)",
                                status=2)
        options = {"hash_bits": args.hash_bits, "min_frequency": args.min_frequency}
        if args.counts_from is not None:
            from .criteo import count_criteo

            if not os.path.exists(args.counts_from):
                raise _CommandError(f"{args.counts_from}: no such file")
            options["counts"] = count_criteo(args.counts_from, **(
                {} if args.hash_bits is None else {"hash_bits": args.hash_bits}))
    else:
        options = {"n_features": args.n_features, "zero_based": not args.one_based,
                   "query_id": args.query_id, "chunk_size": args.chunk_size}
    options = {name: value for name, value in options.items() if value is not None}
    if not os.path.exists(args.source):
        raise _CommandError(f"{args.source}: no such file")
    header = convert(args.source, args.destination, args.format, progress=not args.quiet,
                     overwrite=args.overwrite, **options)
    print(f"wrote {args.destination}: {header['n_rows']:,} rows x {header['n_features']:,} "
          f"features, {header['nnz']:,} non-zeros" + (", with qid" if header["has_qid"] else ""))
    return 0


# ---- compile ------------------------------------------------------------------

def _add_compile_arguments(compile_command):
    """Add ``compile``'s flags to its sub-parser ``compile_command``."""
    compile_command.add_argument(
        "--only", action="append", metavar="TEXT",
        help="compile only the kernels whose name contains TEXT (repeatable), e.g. "
             "--only 'sum, adagrad, binary_log_loss' --only 'predict_rows[sum]' for a linear or "
             "MLP binary classifier trained with AdaGrad; the names are those the progress lines "
             "print")


def _run_compile(args):
    """Run ``compile``: compile, or load from Numba's cache, every kernel now, with progress.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed flags of ``compile``.

    Returns
    -------
    status : int
        0 on success.
    """
    import numba

    from ._engine.compilation import kernels_named, load_all_kernels

    try:
        kernels_named(args.only)
    except ValueError as exc:
        raise _CommandError(f"argument --only: {exc} (see --help)", status=2) from None
    where = numba.config.CACHE_DIR or "beside the package's modules (__pycache__)"
    print(f"compiling or loading skvectorflow's kernels; Numba's cache: {where}", flush=True)
    total = load_all_kernels(
        report=lambda name, seconds: print(f"  {name}: {seconds:.1f} s", flush=True), only=args.only)
    print(f"done in {total:.1f} s; fits in new processes load them from the cache")
    return 0


# ---- the commands -------------------------------------------------------------

class _Command(NamedTuple):
    """One sub-command: its name, its help, how to add its flags and how to run it."""

    name: str
    summary: str
    description: str
    add_arguments: object
    run: object


_COMMANDS = (
    _Command(
        "demo",
        "train a linear model and an MLP on synthetic sparse data and compare them",
        "Make a synthetic sparse binary classification problem, hold out 20% of it, train a "
        "linear model (logistic regression, AdaGrad) and an MLP with 16 ReLU units (AdaGrad), "
        "and print held-out ROC AUC, log-loss, accuracy and training speed.",
        _add_demo_arguments, _run_demo),
    _Command(
        "train",
        "fit an estimator on a svmlight/libsvm or .npz file and save it",
        "Fit an estimator on DATA, printing per-epoch progress, optionally score it on "
        "held-out rows, and write it in the safe model format (arrays and JSON, loaded without "
        "running code; --pickle writes joblib instead). Files: svmlight/libsvm text "
        "('<label> [qid:<query>] <column>:<value> ...', column ids used as they are) or an .npz "
        "holding the CSR arrays data, indices, indptr, shape and the labels y (and qid). "
        "Labels: class labels for mlp-classifier, fm-classifier and dlrm-classifier, values "
        "for mlp-regressor and fm-regressor, graded relevance for ranker (whose lines need "
        "qid:<query>), and signed times for survival: t > 0 is an event observed at time t, "
        "-t a row censored at time t. dlrm-classifier also needs the field of each column: "
        "--field-map FILE, or the map a folder written by 'convert --format criteo' stores.",
        _add_train_arguments, _run_train),
    _Command(
        "predict",
        "write the predictions of a saved model for a data file, one a line",
        "Load a model written by 'skvectorflow train' and write one prediction for each row "
        "of DATA: the class label (or with --proba the class probabilities), the regression "
        "value, the expected survival time (1 / rate), or the ranking score.",
        _add_predict_arguments, _run_predict),
    _Command(
        "convert",
        "stream a svmlight/libsvm or Parquet file into the memory-mapped format",
        "Convert SOURCE to a folder of memory-mapped arrays (skvectorflow.io's format) in one "
        "streaming pass with bounded memory; train, predict and every estimator read it "
        "without a copy. A malformed line is reported with its number, and DEST is removed "
        "on an error.",
        _add_convert_arguments, _run_convert),
    _Command(
        "compile",
        "compile the Numba kernels now (or load them from the cache), with progress",
        "Compile every Numba kernel of the estimators, or load it from Numba's on-disk cache, "
        "and print the time each took. The first fit in a fresh environment compiles them "
        "(seconds per estimator and loss); running this once while building a container image "
        "or a shared environment moves that wait out of the first fit. Every kernel takes many "
        "minutes: --only picks those of the models you train. Set NUMBA_CACHE_DIR to a "
        "writable folder when the package's own folder is read-only.",
        _add_compile_arguments, _run_compile),
)


def _build_parser():
    """The command-line parser, with one sub-parser per entry of ``_COMMANDS``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = _ArgumentParser(
        prog="skvectorflow",
        description=(
            "scikit-learn estimators for very sparse, very high-dimensional data, "
            "trained by Hogwild SGD on every core."
        ),
    )
    parser.add_argument("--version", action="version", version=f"skvectorflow {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        sub = commands.add_parser(command.name, help=command.summary,
                                  description=command.description,
                                  formatter_class=_HelpFormatter)
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def _one_line(text):
    """``text`` with its whitespace, newlines included, collapsed to single spaces."""
    return " ".join(str(text).split())


def _input_failure(args, exc):
    """One line for a failure of the files a command reads: which files, and what went wrong."""
    # train's --model is a kind of estimator; predict's MODEL is a file.
    inputs = ("model", "data") if args.command == "predict" else ("data", "test", "source")
    names = [getattr(args, name, None) for name in inputs]
    files = ", ".join(str(name) for name in names if name is not None) or "the input"
    detail = _one_line(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return (f"{files}: out of memory ({detail}). A model holds a row of weights per "
                "column, and X is as wide as the largest column id + 1: check the file's "
                "column ids, or hash the features into fewer columns")
    if isinstance(exc, (EOFError, zlib.error)):
        return f"{files}: the file ends early or is corrupt (a truncated copy?): {detail}"
    return f"{files}: a number is too large to read ({detail})"


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 for a bad command line, 1 for bad
        data or a failed run; every error is one line on stderr.

    Examples
    --------
    >>> from skvectorflow.__main__ import main
    >>> main(["demo", "--n-samples", "2000", "--n-features", "4096",
    ...       "--epochs", "1"])  # doctest: +SKIP
    0
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad flag
        return exc.code if isinstance(exc.code, int) else 1
    prog = f"{parser.prog} {args.command}"
    try:
        return args.handler(args)
    except BrokenPipeError:  # `... predict | head`: the reader is gone, stop quietly
        sys.stderr.close()
        return 0
    except _CommandError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.status
    except DataFileError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    # Failures a data file causes below the readers' own checks (a truncated
    # archive, a number too large for the parser, a width too large for
    # memory): named by the command's input files, never a traceback.
    except (MemoryError, OverflowError, EOFError, zlib.error) as exc:
        print(f"{prog}: error: {_input_failure(args, exc)}", file=sys.stderr)
        return 1
    # Parameters the estimator rejects (InvalidParameterError is a ValueError),
    # targets it cannot use, and files that cannot be written.
    except (ValueError, TypeError, OSError) as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
