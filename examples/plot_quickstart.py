"""
Quickstart: a linear model and an MLP on sparse CSR data
========================================================

The smallest complete use of skvectorflow: a sparse, high-dimensional binary
classification problem (think tf-idf rows or hashed categorical features),
a logistic regression and a one-hidden-layer MLP trained by Hogwild SGD on
every core, their held-out ROC AUC, and their learning curves from
``loss_curve_`` and ``validation_scores_``.
"""

# %%
# Data: float32 CSR, used without a copy
# --------------------------------------
# :func:`~skvectorflow.datasets.make_sparse_classification` makes rows that
# look like tf-idf vectors: 30 non-zeros each, over 2**18 columns whose
# popularity follows a Zipf law, labelled by a hidden teacher that is partly
# non-linear. It returns float32 CSR with int32 indices, the engine's own
# types, so ``fit`` reads the matrix in place.
import os

import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score

from skvectorflow import SparseMLPClassifier
from skvectorflow.datasets import make_sparse_classification

# The documentation build runs a smaller problem than a reader would.
N_SAMPLES = 60_000 if os.environ.get("SKVECTORFLOW_GALLERY") else 300_000

X, y = make_sparse_classification(n_samples=N_SAMPLES, n_features=2**18, nnz_per_row=30,
                                  random_state=0)
n_train = int(0.8 * N_SAMPLES)
X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
print(f"X: {X.shape[0]:,} x {X.shape[1]:,}, {X.nnz:,} non-zeros, {X.dtype}, "
      f"indices {X.indices.dtype}")

# %%
# Two models, one engine
# ----------------------
# ``hidden_layer_sizes=()`` is logistic regression; ``(16,)`` puts a layer of
# 16 ReLU units after the sparse input layer. ``early_stopping=True`` holds
# out 10% of the training rows, records the validation score of every epoch
# and keeps the best epoch's weights; ``verbose=1`` prints one line per
# epoch. ``n_jobs=-1`` trains on every core.
models = {
    "linear": SparseMLPClassifier(hidden_layer_sizes=(), learning_rate_init=0.3,
                                  max_iter=8, early_stopping=True, tol=None,
                                  n_jobs=-1, random_state=0, verbose=1),
    "MLP(16)": SparseMLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.1,
                                   max_iter=8, early_stopping=True, tol=None,
                                   n_jobs=-1, random_state=0, verbose=1),
}
for name, model in models.items():
    print(f"--- {name}")
    model.fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    print(f"{name}: held-out ROC AUC {auc:.4f}, best epoch "
          f"{max(range(model.n_iter_), key=model.validation_scores_.__getitem__) + 1}"
          f" of {model.n_iter_}")

# %%
# Learning curves
# ---------------
# ``loss_curve_`` is the mean training loss of each epoch and
# ``validation_scores_`` the accuracy on the held-out 10%. The training loss
# keeps falling, while the validation score peaks within an epoch or two and
# then declines, much faster for the MLP. Most columns are rare, and the 16 input weights of a rare column
# memorise its few rows: on sparse data an MLP over-fits by the epoch, which
# is why early stopping (or one or two epochs on plenty of rows) is the
# normal way to train one. At this size (a few rows per column) the linear
# model is as good as the MLP; on the benchmark data (1,000,000 rows over
# 2**20 columns) one epoch of the MLP reaches a held-out ROC AUC of
# 0.81-0.82 against the linear model's 0.80.
fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(10, 4))
for name, model in models.items():
    epochs = range(1, model.n_iter_ + 1)
    ax_loss.plot(epochs, model.loss_curve_, "o-", label=name)
    ax_score.plot(epochs, model.validation_scores_, "o-", label=name)
ax_loss.set(xlabel="epoch", ylabel="mean training log-loss", title="Training loss")
ax_score.set(xlabel="epoch", ylabel="validation accuracy", title="Validation score")
for ax in (ax_loss, ax_score):
    ax.legend()
fig.tight_layout()
plt.show()

# %%
# Next steps
# ----------
# * Feed text through ``HashingVectorizer`` in a Pipeline and tune it with
#   ``GridSearchCV``: :ref:`sphx_glr_auto_examples_plot_text_pipeline_grid_search.py`.
# * Write your own loss: :ref:`sphx_glr_auto_examples_plot_custom_loss.py`.
# * How the engine trains, and how to tune it: :doc:`/user_guide`.
