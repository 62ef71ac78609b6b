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

The same command line is installed as the ``skvectorflow`` console script
(``skvectorflow demo``), which calls :func:`main`.

Examples
--------
A quick run on a small problem::

    python -m skvectorflow demo --n-samples 20000 --n-features 65536 --epochs 1
"""

import argparse
import sys
import time

import joblib
import numpy as np
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from . import SparseMLPClassifier, __version__
from ._base import effective_n_threads
from .datasets import make_sparse_classification

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


def _build_parser():
    """The command-line parser, with one sub-parser per command.

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

    demo = commands.add_parser(
        "demo",
        help="train a linear model and an MLP on synthetic sparse data and compare them",
        description=(
            "Make a synthetic sparse binary classification problem, hold out 20% of it, "
            "train a linear model (logistic regression, AdaGrad) and an MLP with 16 ReLU "
            "units (AdaGrad), and print held-out ROC AUC, log-loss, accuracy and "
            "training speed."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
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
    demo.set_defaults(handler=_run_demo)
    return parser


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


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 for a bad command line (the error is
        printed on one line on stderr).

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
    if args.command == "demo" and args.nnz_per_row > args.n_features:
        demo_prog = f"{parser.prog} demo"
        print(f"{demo_prog}: error: argument --nnz-per-row: must be at most --n-features "
              f"({args.n_features}), got {args.nnz_per_row} (see --help)", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
