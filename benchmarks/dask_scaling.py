"""BSP training on Dask against one process: epochs to the same AUC, traffic, seconds per round.

Run from the repository root (needs ``pip install -e ".[dask]"``)::

    python -m benchmarks.dask_scaling                              # 200,000 rows, 2/4/8 workers
    python -m benchmarks.dask_scaling --n-samples 1000000 --workers 2,4,8,16
    python -m benchmarks.dask_scaling --hidden 16 --optimizer rowwise_adagrad

Data: one draw of ``make_sparse_classification(n_samples, n_features=2**20,
nnz_per_row=30, random_state=0)`` (Zipf-skewed column popularity); the first
80% of the rows train, the last 20% are held out and score every model by
ROC AUC.

The reference is ``SparseMLPClassifier`` (linear, AdaGrad by default) trained
in this process with one thread for ``--epochs`` epochs; its held-out AUC is
the *target*.  For each worker count W, a ``distributed.LocalCluster`` of W
process workers with one thread each trains the same model with
:func:`skvectorflow.dask.fit` on W row blocks, one epoch per call with
``warm_start`` (so the AUC is read after every epoch), for up to
``--max-epochs`` epochs, in several variants:

``mean``
    ``combine="mean"``: a row's change averaged over the blocks that changed
    it (model averaging), AdaGrad state increments summed.
``mean, server step W``
    the same with ``server_learning_rate=W``: the averaged change scaled
    back up to about the sum of the blocks' changes.
``sum``
    the defaults: the blocks' changes added (``combine="sum"``), state
    increments summed, ``rounds_per_epoch="auto"`` (2W rounds an epoch).
``sum, state mean``
    AdaGrad state increments averaged instead of summed.
``sum, 1 round/epoch``, ``sum, 4 rounds/epoch``
    the blocks synchronise once or 4 times an epoch instead of 2W times.

Every variant but the last two syncs 2W times an epoch (the default).

Columns: ``epochs to target`` (the first epoch whose held-out AUC reaches
the target minus ``--tolerance``; ``>N`` if none did), the AUC after
``--epochs`` epochs and its difference to the reference, the AUC after the
last epoch (a variant that diverges later shows here), the rounds an epoch,
``moved/whole`` per round (the bytes a round moves to and from the blocks
over what sending the whole parameter vector to every block and back would
move) and per epoch (the sum over an epoch's rounds), the mean seconds of a
round on the driver, the mean of the slowest engine task of each round, and
their difference, the fixed cost of a round (scheduling, serialisation,
combining).  The one-process row reports its seconds per epoch.

Reading the numbers: with W process workers on a machine with fewer than W
idle cores the workers share cores, so seconds per round measure
contention, not scaling (the table's header says how many cores there
were).  Epochs to target and bytes moved do not depend on the machine.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from skvectorflow import SparseMLPClassifier
from skvectorflow.datasets import make_sparse_classification

from .reporting import (
    describe_machine,
    markdown_context,
    markdown_table,
    run_metadata,
    text_table,
    write_report,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_OUTPUT = RESULTS_DIR / "dask_scaling.json"

VARIANTS = {
    "mean": lambda n_workers: {"combine": "mean"},
    "mean, server step W": lambda n_workers: {"combine": "mean",
                                              "server_learning_rate": float(n_workers)},
    "sum": lambda n_workers: {},
    "sum, state mean": lambda n_workers: {"state_combine": "mean"},
    "sum, 1 round/epoch": lambda n_workers: {"rounds_per_epoch": 1},
    "sum, 4 rounds/epoch": lambda n_workers: {"rounds_per_epoch": 4},
}


def _model(args, **params):
    return SparseMLPClassifier(
        hidden_layer_sizes=args.hidden, optimizer=args.optimizer,
        learning_rate_init=args.learning_rate, tol=None, random_state=0, n_jobs=1, **params)


def _auc(model, X, y):
    return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))


def run_one_process(args, X_train, y_train, X_test, y_test, log):
    model = _model(args, max_iter=1, warm_start=True)
    model.fit(X_train[:2_000], y_train[:2_000])  # load the kernels before timing
    model = _model(args, max_iter=1, warm_start=True)
    aucs, seconds = [], []
    for _ in range(args.max_epochs):
        started = time.perf_counter()
        model.fit(X_train, y_train)
        seconds.append(time.perf_counter() - started)
        aucs.append(_auc(model, X_test, y_test))
    log(f"one process: AUC by epoch {np.round(aucs, 4).tolist()}, {np.mean(seconds):.2f} s/epoch")
    return {"aucs": aucs, "seconds_per_epoch": float(np.mean(seconds))}


def run_cluster(args, n_workers, X_train, y_train, X_test, y_test, target, log):
    import dask.array as da
    from distributed import Client, LocalCluster

    import skvectorflow.dask as svf_dask

    started = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", worker_dashboard_address=":0",
                           silence_logs=40)
    client = Client(cluster)
    warmup = svf_dask.warmup(client)
    log(f"{n_workers} workers: cluster up in {time.perf_counter() - started:.1f} s, "
        f"kernels loaded in {max(warmup.values()):.1f} s")
    rows_per_block = -(-X_train.shape[0] // n_workers)
    # Persisted once: the blocks then live on the workers (as a reader would leave them).
    X_blocks = da.from_array(X_train, chunks=(rows_per_block, -1), asarray=False).persist()
    results = []
    try:
        for name, options in VARIANTS.items():
            model = _model(args, max_iter=1, warm_start=True)
            aucs = []
            for _ in range(args.max_epochs):
                svf_dask.fit(model, X_blocks, y_train, client=client, **options(n_workers))
                aucs.append(_auc(model, X_test, y_test))
            rounds = model.distributed_rounds_
            moved = [(s.bytes_to_workers + s.bytes_from_workers) / s.whole_vector_bytes
                     for s in rounds]
            reached = [e + 1 for e, auc in enumerate(aucs) if auc >= target - args.tolerance]
            result = {
                "workers": n_workers, "variant": name, "aucs": aucs,
                "epochs_to_target": reached[0] if reached else None,
                "rounds_per_epoch": len(rounds) // args.max_epochs,
                "moved_over_whole": float(np.mean(moved)),
                "moved_over_whole_per_epoch": float(np.sum(moved)) / args.max_epochs,
                "bytes_per_round": float(np.mean([s.bytes_to_workers + s.bytes_from_workers
                                                  for s in rounds])),
                "round_s": float(np.mean([s.seconds for s in rounds])),
                "task_s": float(np.mean([s.task_seconds for s in rounds])),
                "retried_tasks": int(sum(s.retried_tasks for s in rounds)),
            }
            log(f"  {name}: AUC by epoch {np.round(aucs, 4).tolist()}, "
                f"{result['rounds_per_epoch']} rounds/epoch, "
                f"{result['moved_over_whole']:.1%} of whole-vector traffic a round, "
                f"{result['moved_over_whole_per_epoch']:.1%} an epoch, "
                f"{result['round_s']:.2f} s/round")
            results.append(result)
    finally:
        client.close()
        cluster.close()
    return results


def format_rows(report, epochs):
    one = report["one_process"]
    target = one["aucs"][epochs - 1]
    rows = [["1 process", "-", f"{epochs}", f"{target:.4f}", "+0.0000",
             f"{one['aucs'][-1]:.4f}", "-", "-", "-", f"{one['seconds_per_epoch']:.2f}", "-",
             "-"]]
    for r in report["results"]:
        reached = r["epochs_to_target"]
        rows.append([
            f"{r['workers']} workers", r["variant"],
            str(reached) if reached else f">{len(r['aucs'])}",
            f"{r['aucs'][epochs - 1]:.4f}", f"{r['aucs'][epochs - 1] - target:+.4f}",
            f"{r['aucs'][-1]:.4f}", str(r["rounds_per_epoch"]), f"{r['moved_over_whole']:.3f}",
            f"{r['moved_over_whole_per_epoch']:.3f}", f"{r['round_s']:.2f}", f"{r['task_s']:.2f}",
            f"{r['round_s'] - r['task_s']:.2f}",
        ])
    return rows


HEADER = ["run", "variant", "epochs to target", "AUC", "vs 1 process", "last AUC",
          "rounds/epoch", "moved/whole a round", "moved/whole an epoch", "round s", "task s",
          "fixed s"]


def format_markdown(report, epochs):
    meta = report["meta"]
    lines = markdown_context("BSP training on Dask against one process", meta)
    target = report["one_process"]["aucs"][epochs - 1]
    lines += ["", f"- target: one-process held-out AUC after {epochs} epochs, {target:.4f}", ""]
    lines += markdown_table(HEADER, format_rows(report, epochs), 2)
    return "\n".join(lines) + "\n"


def _int_list(text):
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 2,4,8, got {text!r}")
    return values


def main(argv=None):
    """Run the benchmark, print the table and write the JSON and Markdown files."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dask_scaling",
        description="Epochs to the one-process AUC, bytes per round and seconds per round of "
                    "BSP training on a Dask LocalCluster.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--n-features", type=int, default=2**20)
    parser.add_argument("--workers", type=_int_list, default=[2, 4, 8])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the reference run")
    parser.add_argument("--max-epochs", type=int, default=6, help="epochs of every BSP run")
    parser.add_argument("--tolerance", type=float, default=0.001,
                        help="an epoch reaches the target within this much AUC")
    parser.add_argument("--hidden", type=lambda t: tuple(_int_list(t)) if t else (), default=(),
                        help="hidden layer sizes, e.g. 16 (default: linear)")
    parser.add_argument("--optimizer", default="adagrad")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.max_epochs < args.epochs:
        parser.error("--max-epochs must be at least --epochs")
    warnings.simplefilter("ignore", ConvergenceWarning)
    import dask
    import distributed

    started = time.perf_counter()
    meta = run_metadata("benchmarks.dask_scaling", argv,
                        {"dask": dask.__version__, "distributed": distributed.__version__})
    print(describe_machine(meta), flush=True)
    X, y = make_sparse_classification(n_samples=args.n_samples, n_features=args.n_features,
                                      nnz_per_row=30, random_state=0)
    n_train = int(0.8 * args.n_samples)
    X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]

    def log(text):
        print(text, flush=True)

    report = {"meta": meta, "settings": {k: (list(v) if isinstance(v, tuple) else v)
                                         for k, v in vars(args).items() if k != "output"}}
    report["one_process"] = run_one_process(args, X_train, y_train, X_test, y_test, log)
    target = report["one_process"]["aucs"][args.epochs - 1]
    report["results"] = []
    for n_workers in args.workers:
        report["results"] += run_cluster(args, n_workers, X_train, y_train, X_test, y_test,
                                         target, log)
    meta["wall_s"] = time.perf_counter() - started
    print()
    print(text_table(HEADER, format_rows(report, args.epochs), 2))
    print(f"\nwall time {meta['wall_s']:.0f} s")
    write_report(report, args.output, format_markdown(report, args.epochs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
