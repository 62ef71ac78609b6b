"""Held-out AUC after each epoch, for several ``alpha``: does regularisation reach rare features?

Before the lazy penalty, ``alpha`` shrank a weight only when its feature
occurred, and moved held-out AUC by 0.001; with it, ``alpha`` acts on every
weight at every step (``SGDClassifier``'s meaning).  One line per model and
``alpha``: the AUC on the last 20% of the rows after epochs 1, 2, ... (the
model is trained on and never sees the rest), with ``early_stopping=False``
so that every epoch is shown::

    python -m benchmarks.alpha_sweep --data criteo --models linear,fm
    python -m benchmarks.alpha_sweep --data zipf --models linear,mlp,fm --alphas 0,1e-5,1e-4,1e-3
"""

import argparse
import sys
import time

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from skvectorflow import DLRMClassifier, FactorizationMachineClassifier, SparseMLPClassifier
from skvectorflow.criteo import make_criteo_like
from skvectorflow.datasets import make_sparse_classification


def load(data, n_samples):
    """``(X, y, field_of_column)``; the field map is None for the Zipf set."""
    if data == "criteo":
        X, y, field_of_column = make_criteo_like(n_samples, max_cardinality=20_000, hash_bits=14,
                                                 interaction_strength=1.5, random_state=5)[:3]
        return X, y, field_of_column
    X, y = make_sparse_classification(n_samples, 2**18, 20, nonlinearity=0.7, random_state=5)
    return X, y, None


def make_model(kind, field_of_column, **params):
    """One of the swept models, trained one epoch per ``fit`` (warm start)."""
    if kind == "linear":
        return SparseMLPClassifier(**params)
    if kind == "mlp":
        return SparseMLPClassifier(hidden_layer_sizes=(16,), **params)
    if kind == "fm":
        return FactorizationMachineClassifier(**params)
    if kind == "dlrm":
        return DLRMClassifier(field_of_column=field_of_column, embedding_dim=16, bottom_mlp=(64, 16),
                              top_mlp=(64,), **params)
    raise ValueError(f"unknown model {kind!r}; expected linear, mlp, fm or dlrm")


def main(argv=None):
    """``python -m benchmarks.alpha_sweep``: print one line of AUC by epoch per model and alpha."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["criteo", "zipf"], default="criteo")
    parser.add_argument("--n-samples", type=int, default=60_000)
    parser.add_argument("--models", default="linear,fm")
    parser.add_argument("--alphas", default="0,1e-5,1e-4,1e-3")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    X, y, field_of_column = load(args.data, args.n_samples)
    n_train = int(0.8 * X.shape[0])
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    for C in (0.03, 0.1, 0.3, 1.0):
        baseline = LogisticRegression(C=C, max_iter=1000).fit(X_train, y_train)
        print(f"{args.data}  LogisticRegression(C={C})  "
              f"{roc_auc_score(y_test, baseline.predict_proba(X_test)[:, 1]):.4f}", flush=True)
    for kind in args.models.split(","):
        for alpha in (float(a) for a in args.alphas.split(",")):
            model = make_model(kind, field_of_column, alpha=alpha, learning_rate_init=args.learning_rate,
                               max_iter=1, warm_start=True, tol=None, early_stopping=False, random_state=0)
            started, aucs = time.perf_counter(), []
            for _ in range(args.epochs):
                model.fit(X_train, y_train)
                aucs.append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
            print(f"{args.data}  {kind}  lr={args.learning_rate}  alpha={alpha:g}  "
                  + " ".join(f"{auc:.4f}" for auc in aucs) + f"  ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
