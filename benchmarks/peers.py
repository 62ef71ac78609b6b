"""The peers a user would pick instead of skvectorflow, behind one fit/predict_proba face.

Each peer trains ONE epoch on a float32/int32 CSR matrix with labels in
{0, 1} and predicts probabilities of class 1, so that the harness
(``python -m benchmarks run``) times them all the same way:

``TorchEmbeddingBag``
    PyTorch: ``nn.EmbeddingBag(mode="sum", sparse=True)`` weighted by the CSR
    values (``per_sample_weights``), then a bias (linear) or ReLU and a
    ``Linear(16, 1)`` head (MLP(16)); Adagrad, mini-batches of 1024 rows.
``VowpalWabbit``
    Vowpal Wabbit's PyPI wheel, logistic loss, one pass read from its own
    cache file (the cache is built by an untimed first pass), optionally
    ``--nn 16``.  The data are written once in VW's text format.
``CappedMLPClassifier``
    scikit-learn's ``MLPClassifier((16,))``, fed by ``partial_fit`` in chunks
    until a time budget runs out; its speed is extrapolated from the rows it
    reached and its held-out scores are those of the partial epoch.

A peer whose package is missing raises :class:`PeerUnavailable` on
construction, which the harness turns into a note.
"""

import importlib
import math
import os
import shutil
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

TORCH_BATCH_SIZE = 1024


class PeerUnavailable(RuntimeError):
    """The peer's package is not installed (or cannot run here)."""


def import_peer(name):
    """Import an optional peer package, or raise :class:`PeerUnavailable` saying how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PeerUnavailable(f"{name} is not installed ({exc}); "
                              'pip install -e ".[bench]" adds it') from None


def peer_versions():
    """Versions of the optional peers that are installed, by name."""
    versions = {}
    for name, distribution in (("torch", "torch"), ("vowpalwabbit", "vowpalwabbit")):
        try:
            versions[name] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


# ----------------------------------------------------------------------------
# PyTorch
# ----------------------------------------------------------------------------


class TorchEmbeddingBag:
    """Sparse logistic regression or MLP(16) in PyTorch, one epoch of Adagrad.

    Parameters
    ----------
    hidden : int
        0 for the linear model, else the width of the ReLU hidden layer.
    learning_rate : float
        Adagrad's learning rate.
    threads : int
        ``torch.set_num_threads`` during fit and predict.
    random_state : int
        Seed of the initial weights and of the batch order.
    """

    def __init__(self, hidden, learning_rate, threads, random_state):
        self.torch = import_peer("torch")
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.threads = threads
        self.random_state = random_state

    def _build(self, n_features):
        torch = self.torch
        torch.manual_seed(self.random_state)
        width = self.hidden or 1
        self.embedding_ = torch.nn.EmbeddingBag(n_features, width, mode="sum", sparse=True)
        if self.hidden:
            torch.nn.init.normal_(self.embedding_.weight, std=1.0 / math.sqrt(30 * width))
            self.head_ = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(width, 1))
            self.bias_ = torch.nn.Parameter(torch.zeros(width))
        else:
            torch.nn.init.zeros_(self.embedding_.weight)
            self.head_ = torch.nn.Identity()
            self.bias_ = torch.nn.Parameter(torch.zeros(1))
        self.optimizers_ = [
            torch.optim.Adagrad(list(self.embedding_.parameters()), lr=self.learning_rate),
            torch.optim.Adagrad([self.bias_, *self.head_.parameters()], lr=self.learning_rate),
        ]

    def _batches(self, X):
        """(indices, offsets, weights) tensors of each batch; built outside the timed loop."""
        torch = self.torch
        indices = torch.from_numpy(X.indices.astype(np.int64))
        weights = torch.from_numpy(X.data)
        indptr = X.indptr.astype(np.int64)
        for start in range(0, X.shape[0], TORCH_BATCH_SIZE):
            stop = min(start + TORCH_BATCH_SIZE, X.shape[0])
            lo, hi = indptr[start], indptr[stop]
            yield (start, stop, indices[lo:hi], torch.from_numpy(indptr[start:stop] - lo),
                   weights[lo:hi])

    def _logits(self, indices, offsets, weights):
        hidden = self.embedding_(indices, offsets, per_sample_weights=weights) + self.bias_
        return self.head_(hidden).squeeze(1)

    def fit(self, X, y):
        """One epoch over X's rows in shuffled batches of 1024."""
        torch = self.torch
        torch.set_num_threads(self.threads)
        self._build(X.shape[1])
        target = torch.from_numpy(np.asarray(y, dtype=np.float32))
        batches = list(self._batches(X))
        order = np.random.default_rng(self.random_state).permutation(len(batches))
        loss_function = torch.nn.BCEWithLogitsLoss()
        for b in order:
            start, stop, indices, offsets, weights = batches[b]
            for optimizer in self.optimizers_:
                optimizer.zero_grad()
            loss = loss_function(self._logits(indices, offsets, weights), target[start:stop])
            loss.backward()
            for optimizer in self.optimizers_:
                optimizer.step()
        return self

    def predict_proba(self, X):
        """Probabilities of classes 0 and 1, shape (n_rows, 2)."""
        torch = self.torch
        torch.set_num_threads(self.threads)
        out = np.empty(X.shape[0])
        with torch.no_grad():
            for start, stop, indices, offsets, weights in self._batches(X):
                out[start:stop] = torch.sigmoid(self._logits(indices, offsets, weights)).numpy()
        return np.column_stack([1.0 - out, out])

    def parameter_bytes(self):
        """Bytes of the weights and their Adagrad state."""
        sizes = sum(p.numel() * p.element_size() for p in self.embedding_.parameters())
        sizes += sum(p.numel() * p.element_size() for p in (self.bias_, *self.head_.parameters()))
        return 2 * sizes


# ----------------------------------------------------------------------------
# Vowpal Wabbit
# ----------------------------------------------------------------------------


def write_vw_text(X, y, path):
    """Write CSR rows as VW text lines ``1 |f 12:0.5 ...`` (labels in {-1, 1}).

    Feature indices are written as numbers, which VW uses as they are (no
    string hashing), so ``-b 20`` keeps 2^20 distinct weights.
    """
    labels = np.where(np.asarray(y) > 0, "1", "-1")
    indptr, indices, data = X.indptr, X.indices, X.data
    with open(path, "w") as out:
        for row in range(X.shape[0]):
            lo, hi = indptr[row], indptr[row + 1]
            features = " ".join(f"{j}:{v:.6g}" for j, v in zip(indices[lo:hi], data[lo:hi],
                                                                  strict=True))
            out.write(f"{labels[row]} |f {features}\n")


class VowpalWabbit:
    """Vowpal Wabbit, logistic loss, one pass read from its cache file.

    ``fit`` expects :meth:`prepare` to have written the training and held-out
    rows as text; its first (untimed) call builds the cache, which is what a
    VW user trains from after the first pass.

    Parameters
    ----------
    hidden : int
        0 for the linear model, else ``--nn hidden``.
    bits : int
        ``-b``: log2 of the weight count.
    """

    def __init__(self, hidden, bits):
        self.vowpalwabbit = import_peer("vowpalwabbit")
        self.hidden = hidden
        self.bits = bits

    @staticmethod
    def prepare(X_train, y_train, X_test, y_test):
        """Write both sets as VW text in a new temporary folder; return its path."""
        folder = tempfile.mkdtemp(prefix="svf-bench-vw-")
        write_vw_text(X_train, y_train, os.path.join(folder, "train.vw"))
        write_vw_text(X_test, y_test, os.path.join(folder, "test.vw"))
        return folder

    def _arguments(self, folder, extra):
        nn = f" --nn {self.hidden}" if self.hidden else ""
        return (f"--quiet --loss_function logistic -b {self.bits}{nn} --passes 1 "
                f"--cache_file {os.path.join(folder, 'train.cache')} "
                f"-d {os.path.join(folder, 'train.vw')} {extra}")

    def build_cache(self, folder):
        """One untimed pass that writes the cache file (removing an old one)."""
        cache = os.path.join(folder, "train.cache")
        if os.path.exists(cache):
            os.remove(cache)
        workspace = self.vowpalwabbit.Workspace(self._arguments(folder, ""))
        workspace.run_parser()
        workspace.finish()

    def fit(self, folder):
        """Train one pass from the cache and save the model beside it."""
        self.model_path_ = os.path.join(folder, f"model-{self.hidden}.vw")
        workspace = self.vowpalwabbit.Workspace(self._arguments(folder, f"-f {self.model_path_}"))
        workspace.run_parser()
        workspace.finish()
        return self

    def predict_proba_file(self, folder):
        """Probabilities of class 1 for the held-out text rows."""
        predictions = os.path.join(folder, f"predictions-{self.hidden}.txt")
        workspace = self.vowpalwabbit.Workspace(
            f"--quiet -t -i {self.model_path_} --link logistic "
            f"-d {os.path.join(folder, 'test.vw')} -p {predictions}")
        workspace.run_parser()
        workspace.finish()
        return np.loadtxt(predictions, usecols=0, ndmin=1)

    @staticmethod
    def cleanup(folder):
        """Remove the folder :meth:`prepare` made."""
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------
# scikit-learn's MLPClassifier, under a time budget
# ----------------------------------------------------------------------------


class CappedMLPClassifier:
    """``MLPClassifier((16,))`` fed chunk by chunk until ``time_budget`` seconds pass.

    Parameters
    ----------
    time_budget : float
        Seconds of training after which no further chunk starts.
    chunk_rows : int
        Rows per ``partial_fit`` call.
    random_state : int

    Attributes
    ----------
    rows_seen_ : int
        Training rows reached before the budget ran out (all of them when
        the epoch finished in time).
    nnz_seen_ : int
        Their non-zeros: the harness divides the time by these.
    """

    def __init__(self, time_budget, chunk_rows, random_state):
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(hidden_layer_sizes=(16,), random_state=random_state)
        self.time_budget = time_budget
        self.chunk_rows = chunk_rows

    def fit(self, X, y):
        """Train over X's rows in order until the epoch ends or the budget runs out."""
        started = time.perf_counter()
        self.rows_seen_ = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for start in range(0, X.shape[0], self.chunk_rows):
                stop = min(start + self.chunk_rows, X.shape[0])
                self.model.partial_fit(X[start:stop], y[start:stop], classes=[0, 1])
                self.rows_seen_ = stop
                if time.perf_counter() - started > self.time_budget:
                    break
        self.nnz_seen_ = int(X.indptr[self.rows_seen_] - X.indptr[0])
        return self

    def predict_proba(self, X):
        """Probabilities of classes 0 and 1, shape (n_rows, 2)."""
        return self.model.predict_proba(X)
