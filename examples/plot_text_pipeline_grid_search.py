"""
Text classification: HashingVectorizer, a Pipeline and GridSearchCV
===================================================================

Raw documents go through :class:`~sklearn.feature_extraction.text.HashingVectorizer`
into a :class:`~skvectorflow.SparseMLPClassifier`, in one
:class:`~sklearn.pipeline.Pipeline`, and :class:`~sklearn.model_selection.GridSearchCV`
picks the n-gram range and the model (linear or MLP) by cross-validation,
running the folds in parallel without oversubscribing the cores.

The hashing trick maps every word (and word pair) to one of 2**20 columns
without a vocabulary, so the pipeline needs no fit of its own, works on
streams, and produces float32 CSR that flows into the estimator without a
copy.
"""

# %%
# A synthetic review corpus
# -------------------------
# No download: reviews are drawn from a made-up vocabulary of 20,000 words
# with Zipf frequencies. A few hundred words carry sentiment, and a
# sentiment word is negated ("not good") a third of the time, which flips
# its meaning. Unigrams alone cannot see negation; bigrams can.
import os

import matplotlib.pyplot as plt
import numpy as np
from joblib import parallel_config
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skvectorflow import SparseMLPClassifier

N_DOCUMENTS = 12_000 if os.environ.get("SKVECTORFLOW_GALLERY") else 60_000


def make_reviews(n_documents, random_state=0):
    """Synthetic reviews and their labels (1: positive).

    Parameters
    ----------
    n_documents : int
    random_state : int

    Returns
    -------
    documents : list of str
    labels : ndarray of shape (n_documents,)
    """
    rng = np.random.default_rng(random_state)
    vocabulary = np.array([f"w{i}" for i in range(20_000)])
    frequency = 1.0 / np.arange(10, 20_010) ** 1.1
    frequency /= frequency.sum()
    positive_words = vocabulary[rng.choice(20_000, 300, replace=False)]
    negative_words = np.setdiff1d(vocabulary[rng.choice(20_000, 300, replace=False)],
                                  positive_words)
    labels = rng.integers(0, 2, n_documents)
    documents = []
    for label in labels:
        words = list(vocabulary[rng.choice(20_000, rng.integers(20, 60), p=frequency)])
        for _ in range(rng.integers(4, 9)):
            # A sentiment word that agrees with the label, or (a third of
            # the time) a negated one that disagrees with it.
            negated = rng.random() < 1 / 3
            agrees = rng.random() < 0.85
            polarity = (label == 1) == agrees
            if negated:
                polarity = not polarity
            word = rng.choice(positive_words if polarity else negative_words)
            words.insert(rng.integers(0, len(words) + 1), f"not {word}" if negated else word)
        documents.append(" ".join(words))
    return documents, labels


documents, labels = make_reviews(N_DOCUMENTS)
docs_train, docs_test, y_train, y_test = train_test_split(documents, labels, test_size=0.25,
                                                          random_state=0)
print(docs_train[0][:200], "...")

# %%
# The pipeline
# ------------
# ``dtype=np.float32`` makes the vectorizer emit the engine's value type, and
# ``alternate_sign=False`` keeps every hashed count positive.
pipeline = make_pipeline(
    HashingVectorizer(n_features=2**20, alternate_sign=False, dtype=np.float32),
    SparseMLPClassifier(max_iter=3, tol=None, learning_rate_init=0.2, random_state=0),
)

# %%
# The grid search, and who gets the cores
# ---------------------------------------
# Two levels of parallelism compete for the cores: the search's folds and
# each fit's Hogwild threads. Give them to one level only:
#
# * ``GridSearchCV(n_jobs=k)`` runs ``k`` fits at once in worker processes,
#   and the estimator's default ``n_jobs=None`` then trains each fit on one
#   thread (joblib caps the workers' threads, and skvectorflow honours
#   the cap), as here;
# * or ``GridSearchCV(n_jobs=1)`` with the estimator's ``n_jobs=-1``: one fit
#   at a time, on every core; better when there are few candidates or one
#   large training set that the workers would each have to receive.
#
# ``joblib.parallel_config(n_jobs=...)`` sets the default of every
# ``n_jobs=None`` inside it (the search's and the estimator's), and inside a
# search's workers the estimator still uses one thread.
param_grid = {
    "hashingvectorizer__ngram_range": [(1, 1), (1, 2)],
    "sparsemlpclassifier__hidden_layer_sizes": [(), (16,)],
}
search = GridSearchCV(pipeline, param_grid, cv=3, scoring="roc_auc")
with parallel_config(n_jobs=2):
    search.fit(docs_train, y_train)
print("best parameters:", search.best_params_)
print(f"held-out ROC AUC of the refitted best pipeline: {search.score(docs_test, y_test):.4f}")
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"{score:.4f}  {params}")

# %%
# Results
# -------
# Bigrams are what matter here: only they see "not good". The MLP cannot
# recover negation from unigrams either, since the hashed features no
# longer hold word order; given bigrams, the linear model takes most of the
# gain and the MLP adds a little (the interaction of the two halves of a
# bigram with the rest of the review).
results = search.cv_results_
names = [f"ngrams {p['hashingvectorizer__ngram_range']}\n"
         f"hidden {p['sparsemlpclassifier__hidden_layer_sizes']}" for p in results["params"]]
fig, ax = plt.subplots(figsize=(8, 4))
ax.bar(range(len(names)), results["mean_test_score"], yerr=results["std_test_score"],
       color=["tab:blue", "tab:red"] * 2)
ax.set_xticks(range(len(names)), names)
low = min(results["mean_test_score"]) - 0.05
ax.set_ylim(max(0.5, low), 1.0)
ax.set_ylabel("cross-validated ROC AUC")
ax.set_title("GridSearchCV over the Pipeline")
fig.tight_layout()
plt.show()
