"""Training from a memory-mapped file against training from memory: one epoch each.

Run from the repository root::

    python -m benchmarks.out_of_core                         # 10,000,000 rows (~1.7 GB on disk)
    python -m benchmarks.out_of_core --n-rows 100000000      # the full size (~16 GB on disk)
    python -m benchmarks.out_of_core --n-rows 2000000 --slice-rows 1000000   # quick

Data.  A generator streams ``--n-rows`` rows of the synthetic classification
problem of :func:`skvectorflow.datasets.make_sparse_classification` (same
Zipf-skewed columns and teacher, one teacher for the whole file) to disk in
the memory-mapped CSR format, chunk by chunk through
:class:`skvectorflow.io.CSRWriter`: ``--n-features`` columns (default
2**24), ``--nnz-per-row`` non-zeros per row (default 20).  The folder
(``--data-dir``) is reused by later runs with the same parameters.  The last
``HELD_OUT_ROWS`` rows are held out; the first rows train.

Runs, each ONE epoch of ``SparseMLPClassifier`` (linear: AdaGrad; MLP(16):
ReLU, row-wise AdaGrad), in this order:

``memmap``
    ``fit`` on the training rows of ``load_csr(folder)`` (memory-mapped,
    read-only, no copy); the training rows are a zero-copy view of the first
    rows of the maps.
``memmap cold``
    The same after the files were dropped from the page cache
    (``posix_fadvise(DONTNEED)``), so the epoch reads them from disk.  Only
    with ``--cold``.
``in memory``
    ``fit`` on the first ``--slice-rows`` training rows copied into memory
    (ordinary numpy arrays).

Columns: ``epoch s`` (the engine's epoch, from its verbose line), ``fit s``
(the whole ``fit``), ``ns/nnz`` (fit s x 1e9 / training non-zeros), ``CPU
ns/nnz`` (the same with the process's CPU time: on a shared, oversubscribed
machine it leaves out the time the fit waited for a core, though not the cache
misses other processes cause, nor a cold read's waits on the disk),
``RssAnon peak MB`` (anonymous memory of the process, sampled every 20 ms by
a thread from ``/proc/self/status``: the model, the targets, the in-memory
data; not the page cache that holds the mapped files), ``VmRSS peak MB``
(resident memory, mapped file pages included), held-out ``ROC AUC``, and
``vs in memory`` (the run's ns/nnz over the in-memory run's of the same
model; ``CPU vs in memory``, the same with CPU ns/nnz).  ``validate s`` is ``load_csr``'s structural check (one pass over
``indptr`` and ``indices``).
"""

import argparse
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score

from benchmarks.engine_speed import (
    _positive_int,
    _release_free_memory,
    _status_kib,
    _timed_fit,
)
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

# The generator's building blocks: one teacher and column ranking for the
# whole file, rows drawn chunk by chunk (make_sparse_classification draws
# everything at once, in memory).
from skvectorflow.datasets import (
    _LOGIT_SCALE,
    _draw_world,
    _make_sparse_input,
    _split_streams,
    _teacher_scores,
)
from skvectorflow.io import CSRWriter, load_csr

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_OUTPUT = RESULTS_DIR / "out_of_core.json"
DEFAULT_DATA_DIR = RESULTS_DIR / "out_of_core_data"

HELD_OUT_ROWS = 200_000
GENERATOR_CHUNK_ROWS = 1 << 20
NONLINEARITY = 0.5
RANDOM_STATE = 0
LINEAR_LEARNING_RATE = 0.5
MLP_LEARNING_RATE = 0.1
SAMPLE_SECONDS = 0.02


def write_synthetic_classification(folder, n_rows, n_features, nnz_per_row, log=print):
    """Stream ``n_rows`` rows of the benchmark's classification problem to ``folder``.

    Memory stays at the teacher (``n_features * 9`` float32) plus one chunk.
    Returns the seconds taken; a folder already holding the same data is kept.
    """
    parameters = {"n_rows": n_rows, "n_features": n_features, "nnz_per_row": nnz_per_row,
                  "nonlinearity": NONLINEARITY, "random_state": RANDOM_STATE}
    stamp = Path(folder) / "generator.json"
    if stamp.exists() and json.loads(stamp.read_text()) == parameters:
        log(f"data: reusing {folder}")
        return None
    started = time.perf_counter()
    world_rng, rows_rng, label_rng = _split_streams(np.random.default_rng(RANDOM_STATE), 3)
    column_of_rank, weights, mixing = _draw_world(world_rng, n_features, 1)
    with CSRWriter(folder, n_features=n_features, overwrite=True) as writer:
        for start in range(0, n_rows, GENERATOR_CHUNK_ROWS):
            n_chunk = min(GENERATOR_CHUNK_ROWS, n_rows - start)
            X = _make_sparse_input(rows_rng, column_of_rank, n_chunk, nnz_per_row)
            logits = _LOGIT_SCALE * _teacher_scores(X, weights, mixing, NONLINEARITY)[:, 0]
            y = (label_rng.random(n_chunk) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int8)
            writer.append(X, y)
            log(f"\rdata: {writer.n_rows:,} / {n_rows:,} rows written, "
                f"{time.perf_counter() - started:.0f} s", end="")
    log("")
    stamp.write_text(json.dumps(parameters))
    return time.perf_counter() - started


def head_rows(X, n_rows):
    """The first ``n_rows`` rows of a CSR matrix as views of its arrays (no copy)."""
    head = sp.csr_matrix((n_rows, X.shape[1]), dtype=X.dtype)
    stop = int(X.indptr[n_rows])
    head.data, head.indices, head.indptr = X.data[:stop], X.indices[:stop], X.indptr[:n_rows + 1]
    head.has_canonical_format = X.has_canonical_format
    return head


def in_memory_copy(X, n_rows):
    """The first ``n_rows`` rows of X copied into ordinary (anonymous) memory."""
    head = head_rows(X, n_rows)
    copy = sp.csr_matrix((n_rows, X.shape[1]), dtype=X.dtype)
    copy.data, copy.indices, copy.indptr = (np.array(head.data), np.array(head.indices),
                                            np.array(head.indptr))
    copy.has_canonical_format = True
    return copy


def drop_from_page_cache(folder):
    """Ask the kernel to forget the folder's file pages, so the next read comes from disk."""
    for path in Path(folder).glob("*.npy"):
        with open(path, "rb") as f:
            os.fsync(f.fileno())
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class MemorySampler:
    """Peak ``RssAnon`` and ``VmRSS`` of this process, sampled by a background thread."""

    def __init__(self):
        self.peaks = {"RssAnon": 0, "VmRSS": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        for field in self.peaks:
            self.peaks[field] = max(self.peaks[field], _status_kib(field) or 0)

    def _run(self):
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def make_model(kind, n_threads):
    common = {"max_iter": 1, "tol": None, "alpha": 1e-5, "random_state": RANDOM_STATE,
              "n_jobs": n_threads, "verbose": 1}
    if kind == "linear":
        return SparseMLPClassifier(hidden_layer_sizes=(), optimizer="adagrad",
                                   learning_rate_init=LINEAR_LEARNING_RATE, **common)
    return SparseMLPClassifier(hidden_layer_sizes=(16,), activation="relu",
                               optimizer="rowwise_adagrad",
                               learning_rate_init=MLP_LEARNING_RATE, **common)


def timed_epoch(run, kind, X, y, X_test, y_test, n_threads, repeat, log):
    """Fit one epoch of ``kind`` on X, y (the fastest of ``repeat`` fits); return the results."""
    fits = []
    for _ in range(repeat):
        model = None
        gc.collect()
        _release_free_memory()
        model = make_model(kind, n_threads)
        before = _status_kib("RssAnon") or 0
        cpu_started = time.process_time()
        with MemorySampler() as memory:
            fit_s, epoch_s = _timed_fit(model, X, y)
        fits.append((fit_s, epoch_s, time.process_time() - cpu_started))
    fit_s, epoch_s, cpu_s = min(fits)
    auc = float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    result = {
        "run": run, "model": "MLP(16)" if kind == "mlp" else "linear", "threads": n_threads,
        "rows": X.shape[0], "nnz": int(X.nnz), "fit_s": fit_s, "epoch_s": epoch_s,
        "fit_s_all": [f[0] for f in fits], "cpu_s": cpu_s,
        "cpu_ns_per_nnz": cpu_s * 1e9 / X.nnz,
        "ns_per_nnz": fit_s * 1e9 / X.nnz, "epoch_ns_per_nnz": (epoch_s or fit_s) * 1e9 / X.nnz,
        "rss_anon_before_mb": before / 1024, "rss_anon_peak_mb": memory.peaks["RssAnon"] / 1024,
        "vm_rss_peak_mb": memory.peaks["VmRSS"] / 1024, "roc_auc": auc,
    }
    log(f"  {run:<12} {result['model']:<8} {X.shape[0]:>12,} rows: epoch {epoch_s:.2f} s, "
        f"fit {fit_s:.2f} s (CPU {cpu_s:.2f} s), {result['ns_per_nnz']:.1f} ns/nnz, RssAnon peak "
        f"{result['rss_anon_peak_mb']:,.0f} MB, AUC {auc:.4f}")
    return result


def run_benchmark(n_rows, slice_rows, n_features, nnz_per_row, n_threads, data_dir, cold,
                  models=("linear", "mlp"), repeat=1, log=print):
    """Write (or reuse) the data, then time every run; return the report's body."""
    generation_s = write_synthetic_classification(data_dir, n_rows, n_features, nnz_per_row,
                                                  log=log)
    started = time.perf_counter()
    X, y = load_csr(data_dir)
    validate_s = time.perf_counter() - started
    n_train = n_rows - HELD_OUT_ROWS
    slice_rows = min(slice_rows, n_train)
    X_train, y_train = head_rows(X, n_train), y[:n_train]
    X_test = X[n_train:]  # a copy of the held-out rows
    y_test = np.array(y[n_train:])
    size_gb = sum(p.stat().st_size for p in Path(data_dir).glob("*.npy")) / 1e9
    log(f"data: {n_rows:,} rows x {n_features:,} features, {X.nnz:,} non-zeros, {size_gb:.1f} GB "
        f"on disk; load_csr's validation {validate_s:.1f} s")

    # Warm-up: load (or compile) the kernels outside the timed fits.
    for kind in models:
        _timed_fit(make_model(kind, n_threads), in_memory_copy(X, 2000), np.array(y[:2000]))

    results = []
    for kind in models:
        results.append(timed_epoch("memmap", kind, X_train, y_train, X_test, y_test, n_threads,
                                   repeat, log))
        if cold:
            # Mapped pages stay cached while mapped: unmap, drop, map again.
            del X, y, X_train, y_train
            gc.collect()
            drop_from_page_cache(data_dir)
            X, y = load_csr(data_dir, validate=False)
            X_train, y_train = head_rows(X, n_train), y[:n_train]
            # Once: a second fit would find the files cached again.
            results.append(timed_epoch("memmap cold", kind, X_train, y_train, X_test, y_test,
                                       n_threads, 1, log))
    X_memory, y_memory = in_memory_copy(X, slice_rows), np.array(y[:slice_rows])
    for kind in models:
        results.append(timed_epoch("in memory", kind, X_memory, y_memory, X_test, y_test,
                                   n_threads, repeat, log))
    del X_memory, y_memory
    for result in results:
        peer = next(r for r in results if r["run"] == "in memory" and r["model"] == result["model"])
        result["vs_in_memory"] = result["ns_per_nnz"] / peer["ns_per_nnz"]
        result["cpu_vs_in_memory"] = result["cpu_ns_per_nnz"] / peer["cpu_ns_per_nnz"]
    return {
        "data": {
            "generator": (f"write_synthetic_classification(n_rows={n_rows}, n_features="
                          f"{n_features}, nnz_per_row={nnz_per_row}), the teacher of "
                          f"make_sparse_classification(nonlinearity={NONLINEARITY}, "
                          f"random_state={RANDOM_STATE})"),
            "n_rows": n_rows, "n_features": n_features, "nnz": int(X.nnz),
            "n_train": n_train, "held_out": HELD_OUT_ROWS, "slice_rows": slice_rows,
            "size_gb": size_gb, "generation_s": generation_s, "validate_s": validate_s,
            "load_average": os.getloadavg(),
        },
        "results": results,
    }


COLUMNS = [
    ("run", "run", "{}"),
    ("model", "model", "{}"),
    ("rows", "rows", "{:,}"),
    ("epoch s", "epoch_s", "{:.2f}"),
    ("fit s", "fit_s", "{:.2f}"),
    ("ns/nnz", "ns_per_nnz", "{:.1f}"),
    ("CPU ns/nnz", "cpu_ns_per_nnz", "{:.1f}"),
    ("RssAnon peak MB", "rss_anon_peak_mb", "{:,.0f}"),
    ("VmRSS peak MB", "vm_rss_peak_mb", "{:,.0f}"),
    ("ROC AUC", "roc_auc", "{:.4f}"),
    ("vs in memory", "vs_in_memory", "{:.2f}x"),
    ("CPU vs in memory", "cpu_vs_in_memory", "{:.2f}x"),
]


def _cells(result):
    return table_cells(COLUMNS, result)


def format_markdown(report):
    data = report["data"]
    generated = ("reused from an earlier run" if data["generation_s"] is None
                 else f"written in {data['generation_s']:.0f} s")
    lines = [
        *markdown_context("skvectorflow out of core: one epoch from a memory map", report["meta"]),
        (f"- data: `{data['generator']}`: {data['n_rows']:,} rows, {data['nnz']:,} non-zeros, "
         f"{data['size_gb']:.1f} GB on disk, {generated}; `load_csr` validation "
         f"{data['validate_s']:.1f} s; the last {data['held_out']:,} rows held out"),
        (f"- `in memory` trains on the first {data['slice_rows']:,} rows copied into memory; "
         "`vs in memory` = ns/nnz over the in-memory run's of the same model"),
        f"- load average at the end: {', '.join(f'{x:.2f}' for x in data['load_average'])}",
        "",
        *markdown_table([t for t, _, _ in COLUMNS], [_cells(r) for r in report["results"]],
                        n_left=2),
    ]
    return "\n".join(lines) + "\n"


def _model_list(text):
    models = [m.strip() for m in text.split(",") if m.strip()]
    if not models or set(models) - {"linear", "mlp"}:
        raise argparse.ArgumentTypeError(f"models are 'linear' and 'mlp', got {text!r}")
    return models


def main(argv=None):
    """Run the benchmark, print the table and write the JSON and Markdown files."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.out_of_core",
        description="One epoch of a linear model and an MLP(16) from a memory-mapped file "
                    "against the same from memory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--n-rows", type=_positive_int, default=10_000_000,
                        help="rows written to disk (the last 200,000 held out); 1e8 is the full size")
    parser.add_argument("--slice-rows", type=_positive_int, default=10_000_000,
                        help="training rows of the in-memory run")
    parser.add_argument("--n-features", type=_positive_int, default=2**24)
    parser.add_argument("--nnz-per-row", type=_positive_int, default=20)
    parser.add_argument("--threads", type=_positive_int, default=1,
                        help="Hogwild threads of every fit")
    parser.add_argument("--models", type=_model_list, default=["linear", "mlp"],
                        help="comma-separated models to train: linear, mlp")
    parser.add_argument("--repeat", type=_positive_int, default=1,
                        help="timed fits per run; the fastest is reported")
    parser.add_argument("--cold", action="store_true",
                        help="also time each model after dropping the files from the page cache")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="folder of the on-disk data (reused when the parameters match)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON results file; the Markdown table goes beside it (.md)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.n_rows <= HELD_OUT_ROWS + 2000:
        parser.error(f"--n-rows must exceed {HELD_OUT_ROWS + 2000:,}")

    report = {"meta": run_metadata("benchmarks.out_of_core", argv)}
    print(describe_machine(report["meta"]), flush=True)
    started = time.perf_counter()

    def log(text, end="\n"):
        print(text, end=end, flush=True)

    report.update(run_benchmark(args.n_rows, args.slice_rows, args.n_features, args.nnz_per_row,
                                args.threads, args.data_dir, args.cold, args.models, args.repeat,
                                log=log))
    report["meta"]["wall_s"] = time.perf_counter() - started
    print()
    print(text_table([t for t, _, _ in COLUMNS], [_cells(r) for r in report["results"]],
                     n_left=2))
    write_report(report, args.output, format_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
