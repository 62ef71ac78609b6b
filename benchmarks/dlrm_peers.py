"""DLRMClassifier against a PyTorch model with the DLRM reference's architecture.

Run from the repository root::

    python -m benchmarks.dlrm_peers                         # 200,000 rows
    python -m benchmarks.dlrm_peers --n-samples 2000000     # the full size
    python -m benchmarks.dlrm_peers --configs small --threads 1

Data: ``make_criteo_like(n_samples, hash_bits, random_state=0)`` (13 dense
columns, 26 fields of ``2**hash_bits`` hashed columns, one index per field);
the first 80% of the rows train, the last 20% are held out.  Both models
train ONE epoch over the same rows, after a warm-up on 2,048 rows, on the
same number of cores: for each count in ``--threads`` (default: 1 and the
core count), ``torch.set_num_threads(n)`` for the peer (PyTorch's intra-op
threads, as the reference runs) and ``n_jobs=n`` for skvectorflow (Hogwild
threads).  Each epoch is timed ``--repeats`` times (default 3), the two
models alternating, and each model's median is reported (the machines are
shared).

Configurations (the DLRM reference's):

``reference``
    ``embedding_dim=16``, bottom MLP 13-512-256-64-16, top MLP 512-256-1,
    batch 128.
``small``
    ``embedding_dim=16``, bottom 13-64-16, top 64-1, batch 1024.

The PyTorch peer is the reference's architecture: one ``nn.EmbeddingBag``
per field (``mode="sum"``, ``sparse=True``), ReLU MLPs, the batched dot
interaction (``bmm`` of the stacked vectors, strictly lower triangle)
concatenated with the bottom output, ``BCEWithLogitsLoss``, and plain SGD
(the reference's optimizer; sparse gradients for the tables).  Its input
tensors are built before timing (data generation excluded, as in the
reference's figures).  skvectorflow runs ``DLRMClassifier`` with the same
widths and batch size.  Both timings include building the model (``fit``
allocates and initialises the tables; the peer's clock starts before its
module is constructed).

Optimizer settings: each model's come from a sweep on this data (200,000
rows, one epoch, seed 0), so that the AUC comparison is not won by a
mistuned peer.  The peer's SGD step, ``--torch-learning-rate``: 0.1 (the
reference's) gave held-out AUCs of 0.581 (reference configuration) and
0.531 (small), 1.0 gave 0.656 and 0.606, 3.0 gave 0.661 and 0.618, and 10
diverged on ``small``.  skvectorflow (``SKVECTORFLOW_SETTINGS``): on
``reference``, row-wise AdaGrad reached 0.644-0.660 (steps 0.005-0.015) and
Adam at 0.001 reached 0.669 on one thread and 0.671 on two; on ``small``,
row-wise AdaGrad at 0.01 reached 0.655 (Adam at 0.003: 0.668, 15% slower).
Larger AdaGrad steps (0.025, 0.05) are as good on one thread but unstable on
two: Hogwild threads step on weights one step stale, and AdaGrad's first
steps are the full rate (held-out AUCs from 0.50 to 0.66 between seeds).

Columns: ``threads``, ``fit s`` (one epoch, wall), ``samples/s``, held-out
``ROC AUC`` and ``log-loss``, ``GFLOP/s`` (samples/s times
``training_flops_per_sample``: the arithmetic rate the run sustained),
``vs torch`` (median samples/s over the peer's median, higher is faster for
skvectorflow) and ``paired`` (the lowest and highest ratio of the two
models' epochs timed back to back, one pair a round: a burst of load that
fell on one model alone shows as a wide range).
"""

import argparse
import itertools
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from skvectorflow import DLRMClassifier
from skvectorflow.datasets import make_criteo_like

from .engine_speed import _thread_list
from .reporting import (
    describe_machine,
    markdown_context,
    markdown_table,
    run_metadata,
    text_table,
    write_report,
)

CONFIGS = {
    "reference": {"bottom_mlp": (512, 256, 64), "top_mlp": (512, 256), "batch_size": 128},
    "small": {"bottom_mlp": (64,), "top_mlp": (64,), "batch_size": 1024},
}
# skvectorflow's optimizer per configuration (see the module's docstring).
SKVECTORFLOW_SETTINGS = {
    "reference": {"optimizer": "adam", "learning_rate_init": 0.001},
    "small": {"optimizer": "rowwise_adagrad", "learning_rate_init": 0.01},
}
EMBEDDING_DIM = 16
N_DENSE = 13
N_FIELDS = 26
WARMUP_ROWS = 2048
DEFAULT_OUTPUT = Path("benchmarks/results/dlrm_peers.json")


def forward_multiply_adds(params):
    """Multiply-adds of one sample's forward pass: both MLPs and the dot interaction.

    The embedding gathers and element-wise work are left out (they are
    memory-bound, not arithmetic).
    """
    bottom = [N_DENSE, *params["bottom_mlp"], EMBEDDING_DIM]
    n_pairs = (N_FIELDS + 1) * N_FIELDS // 2
    top = [EMBEDDING_DIM + n_pairs, *params["top_mlp"], 1]
    chain = sum(a * b for widths in (bottom, top) for a, b in itertools.pairwise(widths))
    return chain + n_pairs * EMBEDDING_DIM


def training_flops_per_sample(params):
    """Floating-point operations of one sample's training step: about 3x the forward pass.

    Forward, the back-propagated deltas and the weight gradients each cost
    one pass of multiply-adds (two flops each).
    """
    return 2 * 3 * forward_multiply_adds(params)


def torch_inputs(X, y, hash_bits):
    """Dense features, per-field indices (one per field) and labels as tensors."""
    import torch

    dense = X[:, :N_DENSE].toarray().astype(np.float32)
    categorical = X[:, N_DENSE:]
    # Exactly one entry per field and row, in field order (sorted indices).
    columns = categorical.indices.reshape(X.shape[0], N_FIELDS).astype(np.int64)
    indices = columns - (np.arange(N_FIELDS, dtype=np.int64) << hash_bits)
    return (torch.from_numpy(dense), torch.from_numpy(np.ascontiguousarray(indices)),
            torch.from_numpy(y.astype(np.float32)))


def make_torch_dlrm(bottom_mlp, top_mlp, hash_bits, seed):
    """The DLRM reference's architecture as a torch module."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    def mlp(widths, last_activation):
        layers = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2 or last_activation:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    class DLRM(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList(
                nn.EmbeddingBag(1 << hash_bits, EMBEDDING_DIM, mode="sum", sparse=True)
                for _ in range(N_FIELDS))
            bound = math.sqrt(1.0 / EMBEDDING_DIM)
            for table in self.tables:
                nn.init.uniform_(table.weight, -bound, bound)
            self.bottom = mlp([N_DENSE, *bottom_mlp, EMBEDDING_DIM], last_activation=True)
            n_vectors = N_FIELDS + 1
            top_input = EMBEDDING_DIM + n_vectors * (n_vectors - 1) // 2
            self.top = mlp([top_input, *top_mlp, 1], last_activation=False)
            rows, cols = torch.tril_indices(n_vectors, n_vectors, offset=-1)
            self.register_buffer("rows", rows)
            self.register_buffer("cols", cols)

        def forward(self, dense, indices):
            bottom = self.bottom(dense)
            batch = dense.shape[0]
            offsets = torch.arange(batch, dtype=torch.int64)
            pooled = [table(indices[:, f], offsets) for f, table in enumerate(self.tables)]
            vectors = torch.stack([bottom, *pooled], dim=1)
            dots = torch.bmm(vectors, vectors.transpose(1, 2))[:, self.rows, self.cols]
            return self.top(torch.cat([bottom, dots], dim=1)).squeeze(1)

    return DLRM()


def train_torch(model, dense, indices, labels, batch_size, learning_rate):
    """One epoch of plain SGD (sparse gradients for the tables)."""
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    loss_function = torch.nn.BCEWithLogitsLoss()
    model.train()
    for start in range(0, dense.shape[0], batch_size):
        stop = start + batch_size
        optimizer.zero_grad()
        loss = loss_function(model(dense[start:stop], indices[start:stop]), labels[start:stop])
        loss.backward()
        optimizer.step()


def predict_torch(model, dense, indices):
    import torch

    model.eval()
    with torch.no_grad():
        return torch.cat([model(dense[s:s + 65536], indices[s:s + 65536])
                          for s in range(0, dense.shape[0], 65536)]).numpy().astype(np.float64)


def scores(y, logits):
    probability = 1.0 / (1.0 + np.exp(-logits))
    return roc_auc_score(y, logits), log_loss(y, np.clip(probability, 1e-7, 1 - 1e-7))


def run_config(name, params, X, y, field_of_column, n_train, hash_bits, torch_learning_rate, repeats,
               n_threads):
    """Time both models ``repeats`` times on ``n_threads`` each, alternating; keep each one's median epoch."""
    train, test = slice(0, n_train), slice(n_train, None)
    model = DLRMClassifier(field_of_column, embedding_dim=EMBEDDING_DIM, max_iter=1, tol=None,
                           n_jobs=n_threads, random_state=0, **SKVECTORFLOW_SETTINGS[name], **params)
    model.fit(X[:WARMUP_ROWS], y[:WARMUP_ROWS])

    # Sliced once, outside the clock: the peer's tensors are views, and a CSR
    # row slice is a copy (data preparation, excluded as in the reference).
    X_train, y_train = X[train], y[train]

    def fit_skvectorflow():
        started = time.perf_counter()
        model.fit(X_train, y_train)
        return time.perf_counter() - started

    try:
        import torch
    except ImportError:
        torch = None
        print("  torch is not installed: skipping the PyTorch peer", file=sys.stderr)
    if torch is not None:
        torch.set_num_threads(n_threads)
        dense, indices, labels = torch_inputs(X, y, hash_bits)
        peer = make_torch_dlrm(params["bottom_mlp"], params["top_mlp"], hash_bits, seed=0)
        train_torch(peer, dense[:WARMUP_ROWS], indices[:WARMUP_ROWS], labels[:WARMUP_ROWS],
                    params["batch_size"], torch_learning_rate)

    def fit_torch():
        nonlocal peer
        # Timed from the model's construction, as ``fit`` is timed from the
        # estimator's: both allocate and initialise their tables inside.
        started = time.perf_counter()
        peer = make_torch_dlrm(params["bottom_mlp"], params["top_mlp"], hash_bits, seed=0)
        train_torch(peer, dense[train], indices[train], labels[train], params["batch_size"],
                    torch_learning_rate)
        return time.perf_counter() - started

    # Alternating the two, so that a burst of load on the shared machine
    # falls on both rather than on whichever ran during it.
    runs = {"skvectorflow": [], "torch DLRM": []}
    for _ in range(repeats):
        runs["skvectorflow"].append(fit_skvectorflow())
        if torch is not None:
            runs["torch DLRM"].append(fit_torch())
    scored = {"skvectorflow": scores(y[test], model.decision_function(X[test]))}
    if torch is not None:
        scored["torch DLRM"] = scores(y[test], predict_torch(peer, dense[test], indices[test]))
    # Round i's ratio: the peer's epoch time over ours, timed back to back.
    paired = [peer_s / ours_s for ours_s, peer_s in zip(runs["skvectorflow"], runs["torch DLRM"])]
    rows = []
    for run, (auc, loss) in scored.items():
        seconds = float(np.median(runs[run]))
        rows.append({"config": name, "threads": n_threads, "run": run, "fit_s": seconds,
                     "fit_s_runs": runs[run], "samples_per_s": n_train / seconds, "auc": auc, "log_loss": loss,
                     "paired_ratios": paired if run == "skvectorflow" and paired else None})
        print(f"  {name:9} {n_threads} thread(s) {run:12}: {seconds:7.2f} s (median of "
              f"{', '.join(f'{t:.2f}' for t in runs[run])}), {n_train / seconds:9,.0f} samples/s, AUC {auc:.4f}",
              flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=200_000, help="rows generated (80%% train)")
    parser.add_argument("--hash-bits", type=int, default=16, help="columns per field: 2**hash_bits")
    parser.add_argument("--configs", default="reference,small",
                        help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument("--torch-learning-rate", type=float, default=3.0,
                        help="SGD step of the PyTorch peer")
    parser.add_argument("--repeats", type=int, default=3,
                        help="epochs timed per model, alternating; the median is reported")
    parser.add_argument("--threads", type=_thread_list, default=sorted({1, os.cpu_count() or 1}),
                        help="comma-separated thread counts, each given to both models (default: 1 and every core)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    extra = {}
    try:
        import torch

        extra["torch"] = torch.__version__
    except ImportError:
        pass
    meta = run_metadata("benchmarks.dlrm_peers", sys.argv[1:] if argv is None else argv, extra)
    print(describe_machine(meta))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    meta["load_average_1min_before"] = load
    print(f"load average (1 min) before: {load:.2f}")
    started = time.perf_counter()
    X, y, field_of_column = make_criteo_like(args.n_samples, hash_bits=args.hash_bits, random_state=0)
    n_train = int(0.8 * args.n_samples)
    print(f"data: {args.n_samples:,} rows ({n_train:,} train), {X.shape[1]:,} columns, "
          f"click rate {y.mean():.3f}", flush=True)
    rows = []
    for name in configs:
        for n_threads in args.threads:
            rows += run_config(name, CONFIGS[name], X, y, field_of_column, n_train, args.hash_bits,
                               args.torch_learning_rate, args.repeats, n_threads)
    meta["wall_s"] = time.perf_counter() - started
    meta["load_average_1min_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    peers = {(row["config"], row["threads"]): row["samples_per_s"] for row in rows if row["run"] == "torch DLRM"}
    for row in rows:
        row["gflop_per_s"] = row["samples_per_s"] * training_flops_per_sample(CONFIGS[row["config"]]) / 1e9
    header = ["config", "threads", "run", "fit s", "samples/s", "ROC AUC", "log-loss", "GFLOP/s", "vs torch",
              "paired"]
    cells = [[row["config"], str(row["threads"]), row["run"], f"{row['fit_s']:.2f}", f"{row['samples_per_s']:,.0f}",
              f"{row['auc']:.4f}", f"{row['log_loss']:.4f}", f"{row['gflop_per_s']:.2f}",
              (f"{row['samples_per_s'] / peers[row['config'], row['threads']]:.2f}x"
               if (row["config"], row["threads"]) in peers else "-"),
              (f"{min(row['paired_ratios']):.2f}-{max(row['paired_ratios']):.2f}x"
               if row["paired_ratios"] else "-")]
             for row in rows]
    print()
    print(text_table(header, cells, 3))
    print(f"load average (1 min): {meta['load_average_1min_before']:.2f} before, "
          f"{meta['load_average_1min_after']:.2f} after")
    load_line = (f"- load average (1 min): {meta['load_average_1min_before']:.2f} before, "
                 f"{meta['load_average_1min_after']:.2f} after")
    markdown = "\n".join([*markdown_context("DLRM against PyTorch", meta), load_line, "",
                          *markdown_table(header, cells, 3), ""])
    write_report({"meta": meta, "rows": rows}, args.output, markdown)


if __name__ == "__main__":
    main()
