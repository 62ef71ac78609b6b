"""
Hogwild scaling: what more threads buy, and when they stop
==========================================================

skvectorflow trains with ``n_jobs`` Python threads, each running a compiled,
GIL-free loop over its share of the rows and updating the shared weights
without locks. This example measures training speed and held-out ROC AUC
for 1, 2, ... threads (up to the cores of the machine that runs it) for
three networks: a linear model, an MLP with one small hidden layer, and one
with two wide dense layers.

The more arithmetic a row costs, the better it scales. The input layer is
a large table whose rows are touched only where a row has non-zeros:
threads rarely meet there, but nearly every access is a cache miss, so a
linear model, which does little else, is bound by the memory system, and
once the threads together saturate it, more threads do not help. Hidden
layers add arithmetic per row, which spreads over cores; but dense layers
are read and written by *every* row, so with more threads their updates
contend for the same cache lines and the speed-up flattens. The
documentation is built on a 2-core machine, so its figure shows only 1 and
2 threads; run the script on a larger machine to see the curves bend.
"""

import os
import time

import joblib
import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score

from skvectorflow import SparseMLPClassifier
from skvectorflow.datasets import make_sparse_classification

SMALL = bool(os.environ.get("SKVECTORFLOW_GALLERY"))  # the documentation's build
N_SAMPLES = 60_000 if SMALL else 1_000_000
EPOCHS = 2
REPEATS = 1 if SMALL else 2

X, y = make_sparse_classification(n_samples=N_SAMPLES, n_features=2**20, random_state=0)
n_train = int(0.8 * N_SAMPLES)
X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]

networks = {"linear": (), "MLP(16)": (16,), "MLP(32, 32)": (32, 32)}
thread_counts = list(range(1, min(joblib.cpu_count(), 8) + 1))

# %%
# Measure
# -------
# A tiny fit first loads the compiled kernels of each network, so that the
# timings below exclude compilation. Each fit runs ``EPOCHS`` epochs; the
# best of ``REPEATS`` runs is kept, since a shared machine adds noise.
for hidden in networks.values():
    SparseMLPClassifier(hidden_layer_sizes=hidden, max_iter=1).fit(X_train[:500], y_train[:500])

speed, auc = {}, {}
for name, hidden in networks.items():
    for n_jobs in thread_counts:
        times = []
        for _ in range(REPEATS):
            model = SparseMLPClassifier(hidden_layer_sizes=hidden, max_iter=EPOCHS, tol=None,
                                        learning_rate_init=0.1, n_jobs=n_jobs, random_state=0)
            started = time.perf_counter()
            model.fit(X_train, y_train)
            times.append(time.perf_counter() - started)
        speed[name, n_jobs] = EPOCHS * n_train / min(times)
        auc[name, n_jobs] = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        print(f"{name:>12}, {n_jobs} thread(s): {speed[name, n_jobs]:>12,.0f} rows/s, "
              f"held-out ROC AUC {auc[name, n_jobs]:.4f}")

# %%
# Plot
# ----
# Left: the speed-up over one thread (the dotted line is perfect scaling).
# Right: held-out ROC AUC, which lock-free updates leave essentially
# unchanged: on sparse rows, two threads seldom write the same input
# weights at once.
fig, (ax_speed, ax_auc) = plt.subplots(1, 2, figsize=(10, 4))
for name in networks:
    ax_speed.plot(thread_counts, [speed[name, n] / speed[name, 1] for n in thread_counts],
                  "o-", label=f"{name} ({speed[name, 1]:,.0f} rows/s on 1 thread)")
    ax_auc.plot(thread_counts, [auc[name, n] for n in thread_counts], "o-", label=name)
ax_speed.plot(thread_counts, thread_counts, "k:", label="perfect scaling")
ax_speed.set(xlabel="threads (n_jobs)", ylabel="speed-up over 1 thread",
             title="Training speed", xticks=thread_counts)
ax_auc.set(xlabel="threads (n_jobs)", ylabel="held-out ROC AUC", title="Accuracy",
           xticks=thread_counts)
ax_speed.legend(fontsize=8)
ax_auc.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Reading the figure
# ------------------
# * On a shared or small machine the ratio moves from run to run by 10-20%:
#   compare curves from one run.
# * The linear model does the least arithmetic per byte it moves and gains
#   least from more threads; the MLPs' extra arithmetic spreads over the
#   cores, until their shared dense layers' updates contend with one another
#   (``batch_size > 1`` makes those updates less frequent).
# * Threads beyond the physical cores (hyper-threads) rarely help a
#   memory-bound loop. ``n_jobs=None`` leaves the choice to
#   ``joblib.parallel_config``, and ``OMP_NUM_THREADS`` caps it, which is
#   how grid searches and Dask workers avoid oversubscription (see
#   :doc:`/user_guide`).
