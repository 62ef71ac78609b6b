"""
Learning to rank: the three losses, grid-searched by query
==========================================================

:class:`~skvectorflow.SparseMLPRanker` scores documents so that, within each
query, the more relevant ones come first. Rows of one query must stay
together when cross-validating, so the search splits by query with
:class:`~sklearn.model_selection.GroupKFold`, and scikit-learn's metadata
routing hands each fit and each score the ``qid`` of its rows.
"""

# %%
# Data
# ----
# :func:`~skvectorflow.datasets.make_sparse_ranking` deals sparse documents
# out to queries and grades their relevance 0-4 from a hidden score plus a
# per-query offset (some queries have more relevant documents than others).
import os

import matplotlib.pyplot as plt
import numpy as np
import sklearn
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold

from skvectorflow import SparseMLPRanker
from skvectorflow.datasets import make_sparse_ranking
from skvectorflow.ranking import mean_ndcg

N_QUERIES = 1_500 if os.environ.get("SKVECTORFLOW_GALLERY") else 10_000

X, y, qid = make_sparse_ranking(n_queries=N_QUERIES, docs_per_query=20, n_features=2**16,
                                random_state=0)
# The generator's queries are independent: hold out the last fifth of them.
test = qid >= np.quantile(np.unique(qid), 0.8)
X_train, y_train, qid_train = X[~test], y[~test], qid[~test]
X_test, y_test, qid_test = X[test], y[test], qid[test]
print(f"{np.unique(qid_train).shape[0]} training queries, {np.unique(qid_test).shape[0]} "
      f"held out, {X.shape[1]:,} columns; grades {np.bincount(y.astype(int))}")

# %%
# Grid search over the loss, by query
# -----------------------------------
# ``GroupKFold`` keeps each query in one fold (``groups=qid``), and with
# metadata routing enabled ``GridSearchCV`` passes every fit and score the
# ``qid`` of its rows: the ranker requests it by default. ``score`` is the
# mean NDCG@10 over the queries. ``config_context`` enables routing for this
# block only.
grid = {"loss": ["pairwise", "lambdarank", "softmax"]}
ranker = SparseMLPRanker(max_iter=5, tol=None, learning_rate_init=0.05, random_state=0)
with sklearn.config_context(enable_metadata_routing=True):
    search = GridSearchCV(ranker, grid, cv=GroupKFold(n_splits=3), n_jobs=1)
    search.fit(X_train, y_train, qid=qid_train, groups=qid_train)
for params, score, std in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"],
                              search.cv_results_["std_test_score"]):
    print(f"{params['loss']:>10}: cross-validated NDCG@10 {score:.4f} +- {std:.4f}")
print("best:", search.best_params_)

# %%
# NDCG at every cut-off, on held-out queries
# ------------------------------------------
# Each loss refitted on all training queries, next to a pointwise baseline
# (ridge regression on the grades, which cannot see that queries differ in
# how many relevant documents they hold). NDCG@k scores the top ``k`` of
# each query's ranking against the ideal order; higher is better.
cutoffs = np.arange(1, 21)
curves = {}
for loss in grid["loss"]:
    model = SparseMLPRanker(loss=loss, max_iter=5, tol=None, learning_rate_init=0.05,
                            n_jobs=-1, random_state=0).fit(X_train, y_train, qid=qid_train)
    scores = model.predict(X_test)
    curves[loss] = [mean_ndcg(y_test, scores, qid_test, k=k) for k in cutoffs]
ridge_scores = Ridge(alpha=1.0).fit(X_train, y_train).predict(X_test)
curves["ridge (pointwise)"] = [mean_ndcg(y_test, ridge_scores, qid_test, k=k) for k in cutoffs]

fig, ax = plt.subplots(figsize=(7, 4))
for name, curve in curves.items():
    ax.plot(cutoffs, curve, "o-" if "ridge" not in name else "k--", markersize=3, label=name)
ax.set_xlabel("cut-off k")
ax.set_ylabel("held-out mean NDCG@k")
ax.set_title("Ranking quality by cut-off")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The pair losses (``pairwise``, and ``lambdarank`` which weights each pair
# by how much swapping it would change NDCG) and the listwise ``softmax``
# all learn only the order within a query, which is what NDCG measures.
# :doc:`/ranking` explains the losses, pair sampling and the per-query
# weights.
