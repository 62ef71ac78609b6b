"""What the CSR structure check costs: against a one-epoch linear fit and a one-row predict.

Every path into a kernel verifies X's ``indptr`` and ``indices`` first
(``skvectorflow._base.verified_csr``; issue targets: at most 3% of a
one-epoch linear fit, at most 10% of a one-row ``predict_proba``).  This
benchmark times the check on its own and the calls that contain it, in
interleaved rounds on the same data, and reports the median of the rounds::

    python -m benchmarks.input_checks                   # 200,000 rows x 2**20 columns
    python -m benchmarks.input_checks --n-samples 1000000 --rounds 5
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.reporting import markdown_context, markdown_table, run_metadata, text_table, write_report
from skvectorflow import SparseMLPClassifier
from skvectorflow._base import verified_csr
from skvectorflow.datasets import make_sparse_classification

RESULTS = Path(__file__).parent / "results" / "input_checks.json"


def _seconds(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _median_latency(call, n_calls):
    times = np.empty(n_calls)
    for i in range(n_calls):
        started = time.perf_counter()
        call()
        times[i] = time.perf_counter() - started
    return float(np.median(times))


def run(n_samples, n_features, rounds, n_calls, log=print):
    """Median over interleaved rounds of each timing; returns the report's rows."""
    X, y = make_sparse_classification(n_samples, n_features, random_state=0)
    row = X[:1]
    model = SparseMLPClassifier(max_iter=1, n_jobs=1, tol=None, random_state=0).fit(X[:1000], y[:1000])
    model.predict_proba(row)
    verified_csr(row)
    timings = {"check_X": [], "fit_epoch": [], "check_row": [], "predict_row": []}
    for round_index in range(rounds):
        timings["check_X"].append(_seconds(lambda: verified_csr(X)))
        timings["fit_epoch"].append(_seconds(
            lambda: SparseMLPClassifier(max_iter=1, n_jobs=1, tol=None, random_state=0).fit(X, y)))
        timings["check_row"].append(_median_latency(lambda: verified_csr(row), n_calls))
        timings["predict_row"].append(_median_latency(lambda: model.predict_proba(row), n_calls))
        log(f"round {round_index + 1}/{rounds}: " + ", ".join(
            f"{name} {values[-1] * 1e6:,.1f} us" for name, values in timings.items()))
    median = {name: float(np.median(values)) for name, values in timings.items()}
    return [
        {"what": f"whole X ({X.nnz:,} non-zeros) / one-epoch linear fit", "check_us": median["check_X"] * 1e6,
         "call_us": median["fit_epoch"] * 1e6, "share": median["check_X"] / median["fit_epoch"],
         "target": 0.03},
        {"what": "one row / one-row predict_proba", "check_us": median["check_row"] * 1e6,
         "call_us": median["predict_row"] * 1e6, "share": median["check_row"] / median["predict_row"],
         "target": 0.10},
    ]


COLUMNS = [("what", "what", "{}"), ("check (us)", "check_us", "{:,.1f}"),
           ("call with check (us)", "call_us", "{:,.1f}"), ("check share", "share", "{:.1%}"),
           ("target", "target", "<= {:.0%}")]


def _cells(row):
    return [fmt.format(row[key]) for _, key, fmt in COLUMNS]


def main(argv=None):
    """``python -m benchmarks.input_checks``: print the table, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--n-features", type=int, default=2**20)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--calls", type=int, default=2000, help="one-row calls per round (median)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    meta = run_metadata("benchmarks.input_checks", sys.argv[1:] if argv is None else argv)
    rows = run(args.n_samples, args.n_features, args.rounds, args.calls)
    header = [title for title, _, _ in COLUMNS]
    print(text_table(header, [_cells(row) for row in rows], 1))
    markdown = "\n".join([*markdown_context("CSR structure check: its share of fit and predict", meta), "",
                          f"Median of {args.rounds} interleaved rounds; one-row figures are the median "
                          f"of {args.calls} calls.", "",
                          *markdown_table(header, [_cells(row) for row in rows], 1)]) + "\n"
    write_report({"meta": meta, "rows": rows}, args.output, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
