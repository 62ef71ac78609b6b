"""
Click models against logistic regression, epoch by epoch
========================================================

A factorization machine and DLRM are worth their cost only when they beat a
linear model on rows they were not trained on. This example trains both on
Criteo-format click data whose label depends on pairs of fields, scores the
held-out rows after every epoch, and draws the curves next to logistic
regression on the same one-hot columns.

Two settings decide whether more epochs help or hurt: ``alpha``, which
penalises every weight at every step (rare categories included, see
:doc:`/regularisation`), and early stopping, which the estimators turn on by
default above 10,000 rows. Here early stopping is off, so that every epoch
shows.
"""

# %%
# Data: 8 categorical fields with pairwise interactions
# -----------------------------------------------------
# ``make_criteo_like`` writes what ``load_criteo`` would read from a Criteo
# TSV: hashed one-hot columns per field, a few count columns, and the field
# of every column.
import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from skvectorflow import DLRMClassifier, FactorizationMachineClassifier
from skvectorflow.datasets import make_criteo_like

X, y, field_of_column = make_criteo_like(24_000, n_dense=4, n_fields=8, max_cardinality=1000, hash_bits=10,
                                         interaction_strength=3.0, missing_rate=0.0, random_state=1)
n_train = 18_000
X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
print(f"{X_train.shape[0]:,} training rows, {X_test.shape[0]:,} held out, {X.shape[1]:,} columns")

# %%
# The baseline
# ------------
# Its ``C`` is picked on the held-out rows themselves, which flatters it: the
# line below is the best a linear model of these columns can do.
baseline_auc = max(
    roc_auc_score(y_test, LogisticRegression(C=C, max_iter=1000).fit(X_train, y_train)
                  .predict_proba(X_test)[:, 1])
    for C in (0.03, 0.1, 0.3, 1.0))
print(f"logistic regression (best C): held-out AUC {baseline_auc:.3f}")

# %%
# One epoch per ``fit``
# ---------------------
# ``warm_start=True`` with ``max_iter=1`` continues from the fitted weights, so
# the loop scores the model after each pass over the training rows.
models = {
    "factorization machine": FactorizationMachineClassifier(n_factors=8, alpha=1e-3),
    "DLRM": DLRMClassifier(field_of_column=field_of_column, embedding_dim=8, bottom_mlp=(16,),
                           top_mlp=(32,), alpha=1e-3),
}
n_epochs = 4
curves = {}
for name, model in models.items():
    model.set_params(max_iter=1, warm_start=True, tol=None, early_stopping=False, random_state=0)
    curves[name] = []
    for epoch in range(n_epochs):
        model.fit(X_train, y_train)
        curves[name].append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    print(f"{name}: " + ", ".join(f"{auc:.3f}" for auc in curves[name]))

# %%
# The curves
# ----------
epochs = range(1, n_epochs + 1)
fig, ax = plt.subplots(figsize=(6, 4))
for name, aucs in curves.items():
    ax.plot(epochs, aucs, marker="o", label=name)
ax.axhline(baseline_auc, color="gray", linestyle="--", label="logistic regression")
ax.set_xlabel("epoch")
ax.set_ylabel("held-out ROC AUC")
ax.set_xticks(list(epochs))
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Both models learn the field pairs that no linear model of the columns can
# represent. Re-run with ``alpha=1e-5`` to see the other side: the training
# loss keeps falling, and after an epoch or two the held-out AUC falls with
# it as the rare categories are memorised.
