"""The estimator base shared by every skvectorflow model.

``BaseSparseMLP`` turns scikit-learn's API into calls of the engine: it
validates parameters and data, converts X once to the engine's CSR types,
owns the parameters, and runs epochs (one engine call per epoch) with warm
starts, ``partial_fit``, early stopping and progress output.  Subclasses add
only their target encoding, their built-in losses, the null model that starts
the output bias, and their output transform.
"""

import os
import time
import warnings
from numbers import Integral, Real

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._engine import hogwild, network, objectives, optimizers
from ._engine.csr import CSR_HAS_DUPLICATES, CheckedCSR, check_csr, max_unit_nnz
from ._engine.kernels import ACTIVATION_CODES
from .losses import compile_loss_callback

# Largest column index the engine's int32 indices can hold.
MAX_N_FEATURES = np.iinfo(np.int32).max

# early_stopping='auto' holds out a validation set above this many training
# rows (HistGradientBoostingClassifier's rule): below it a tenth of the rows
# is too few to judge an epoch by, and too many to give up.
AUTO_EARLY_STOPPING_MIN_ROWS = 10_000

# Values of X checked for finiteness at a time on the predict path.
_FINITE_CHECK_SLICE = 1 << 22


def effective_n_threads(n_jobs):
    """Number of threads for ``n_jobs``, honouring joblib and the environment.

    ``None`` defers to joblib's ``parallel_config`` (1 outside one), so sweeps
    that already run in parallel do not oversubscribe, but never exceeds the
    cores of this machine: a cluster backend's ``n_jobs`` counts the cluster's
    workers (joblib's Dask backend reports every worker thread, on the client
    and again inside its own tasks), not threads this process can use.
    ``-1`` means every core joblib sees, ``-2`` all but one, and so on.  The
    result never exceeds ``OMP_NUM_THREADS`` or ``NUMBA_NUM_THREADS`` when they
    are set: Dask's worker processes start with ``OMP_NUM_THREADS=1`` and
    joblib's loky workers with their share of the cores, and this is how they
    cap nested parallelism.
    """
    if n_jobs is None:
        n_threads = min(joblib.effective_n_jobs(None), joblib.cpu_count())
    elif n_jobs < 0:
        n_threads = joblib.cpu_count() + 1 + n_jobs
    else:
        n_threads = n_jobs
    for variable in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        value = os.environ.get(variable, "")
        if value.strip().isdigit() and int(value) > 0:
            n_threads = min(n_threads, int(value))
    return max(1, int(n_threads))


def verified_csr(X, name="X"):
    """X with its CSR structure verified, ready for ``as_engine_csr``.

    scipy trusts a matrix's arrays; the kernels index tables with them
    without bounds checks.  One compiled pass (``check_csr``) verifies that
    ``indptr`` starts at 0, never decreases and ends at ``nnz``, and that
    every column index lies in ``[0, n_features)``; int64 indices are checked
    before they are narrowed to int32, and strided arrays made contiguous.
    A row that repeats a column is summed into one entry (a copy), as
    scipy's arithmetic counts it; the ``has_canonical_format`` flag is never
    trusted for that.  Float32 data with int32 or int64 indices is used as it
    is.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array, or ndarray
        Already through scikit-learn's validation (float32).
    name : str, default="X"
        What error messages call it.

    Returns
    -------
    X : CSR matrix or ndarray

    Raises
    ------
    ValueError
        Naming the array, entry and row that break the structure.
    """
    if not sp.issparse(X):
        return X
    checked, layout = check_csr(X.indptr, X.indices, X.data, X.shape[1], n_rows=X.shape[0], name=name)
    if layout & CSR_HAS_DUPLICATES:
        summed = sp.csr_matrix((checked.data, checked.indices, checked.indptr), shape=X.shape, copy=True)
        summed.sum_duplicates()
        return summed
    if checked.indices is not X.indices or checked.data is not X.data:
        # Narrowed or made contiguous: later slicing (validation rows, query
        # order) and the engine must see the same verified arrays.
        X = sp.csr_matrix(X.shape, dtype=np.float32)
        X.data, X.indices, X.indptr = checked.data, checked.indices, checked.indptr
    return X


def as_engine_csr(X):
    """The engine's view of X from ``verified_csr`` (or rows sliced from it), without a copy.

    Float32 data and int32 indices are used as they are; only ``indptr`` is
    widened to int64 when needed (one integer per row).  Dense input becomes
    CSR.

    Returns
    -------
    csr : CheckedCSR
    """
    if not sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float32)
    return CheckedCSR(X.indptr.astype(np.int64, copy=False), X.indices.astype(np.int32, copy=False),
                      X.data.astype(np.float32, copy=False), X.shape[1])


def _unit_rows(unit_bounds, units):
    """First row of each given unit (units are rows when ``unit_bounds`` is empty)."""
    return units if unit_bounds.size == 0 else unit_bounds[units]


def _is_engine_ready_csr(X):
    """Whether X is a 2-d float32 CSR matrix or array (validated without conversion)."""
    return sp.issparse(X) and X.format == "csr" and X.dtype == np.float32 and X.ndim == 2



def _is_integer(value):
    """Whether ``value`` is an int or NumPy integer (bools are not: ``True`` is no width)."""
    return isinstance(value, (Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_layer_widths(name, widths, allow_none=False):
    """The tuple of positive integer widths ``widths`` stands for, or raise naming ``name``.

    An integer is one layer.  Floats are refused, ``2.0`` included, as
    scikit-learn's ``MLPClassifier`` refuses them: ``int()`` would silently
    truncate ``2.5`` to 2, and a float width is more likely a mistake (a
    ratio, a misplaced argument) than a width.  Bools are refused too.

    Parameters
    ----------
    name : str
        The parameter, for the message.
    widths : int, sequence of int, or None
    allow_none : bool, default=False
        Whether ``None`` (returned as is) is allowed.

    Returns
    -------
    widths : tuple of int or None
    """
    if widths is None and allow_none:
        return None
    values = (widths,) if np.ndim(widths) == 0 and not isinstance(widths, (str, bytes)) else widths
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if values is None or isinstance(widths, (str, bytes)) or not all(_is_integer(w) for w in values):
        raise ValueError(
            f"{name} must be a positive integer or a sequence of positive integers, got "
            f"{widths!r}.")
    if any(w < 1 for w in values):
        raise ValueError(f"{name} must contain positive integers only, got {widths!r}.")
    return tuple(int(w) for w in values)


def check_positive_size(name, value):
    """``value`` as an int if it is a positive integer (not a bool or float), else raise naming ``name``."""
    if not _is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class NetworkState:
    """The trainable arrays of a fitted network and their layout.

    Parameters
    ----------
    layout : NetworkLayout
    input_table, dense_params, dense_state : ndarray of float32
        See ``skvectorflow._engine.network``.
    """

    def __init__(self, layout, input_table, dense_params, dense_state):
        self.layout = layout
        self.input_table = input_table
        self.dense_params = dense_params
        self.dense_state = dense_state

    def copy(self):
        return NetworkState(
            self.layout, self.input_table.copy(), self.dense_params.copy(), self.dense_state.copy()
        )

    def is_finite(self):
        """Whether every parameter is finite (one pass, no temporary of the table's size)."""
        return bool(
            np.isfinite(np.sum(self.input_table, dtype=np.float64))
            and np.isfinite(np.sum(self.dense_params, dtype=np.float64))
        )


_COMMON_PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"relu", "tanh", "identity", "logistic"})],
    "loss_callback": [None, callable, str],
    "optimizer": [StrOptions(set(optimizers.OPTIMIZER_CODES))],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "l1": [Interval(Real, 0, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions(set(optimizers.LEARNING_RATE_CODES))],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left"), None],
    "shuffle": ["boolean"],
    "shuffle_block_size": [Interval(Integral, 1, None, closed="left")],
    "shuffle_window_size": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
    "early_stopping": ["boolean", StrOptions({"auto"})],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "warm_start": ["boolean"],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "ftrl_beta": [Interval(Real, 0, None, closed="neither")],
    "verbose": ["verbose"],
    "n_jobs": [Integral, None],
}


# Parameter and attribute docs shared by the estimators' numpydoc docstrings
# (each estimator adds its own ``loss``/``loss_callback`` entries).
NETWORK_PARAMETERS_DOC = """
    hidden_layer_sizes : tuple of int, default=()
        Widths of the hidden layers.  ``()`` trains a linear model (the input
        layer maps features straight to the outputs); ``(16,)`` one hidden
        layer of 16 units.  The first hidden layer is the sparse input layer:
        an ``(n_features, h0)`` table whose rows are updated only where a
        training row has non-zeros.

    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation of the hidden layers (unused by a linear model).

"""

TRAINING_PARAMETERS_DOC = """\
    optimizer : {'adagrad', 'rowwise_adagrad', 'adam', 'sgd', 'ftrl'}, default='adagrad'
        Update rule.  The input layer is updated lazily (only the rows a unit
        touches).  ``'rowwise_adagrad'`` keeps one AdaGrad accumulator per
        input-table row instead of one per weight (as DLRM does), nearly
        halving the input layer's memory traffic; dense layers use AdaGrad.
        ``'ftrl'`` is FTRL-Proximal (McMahan et al., 2013), the classic
        optimizer of sparse click models: per-coordinate rates
        ``learning_rate_init / (ftrl_beta + sqrt(n))`` (``n`` the
        coordinate's sum of squared gradients) on every parameter, input
        table and dense layers alike, with ``l1`` and ``alpha`` in its
        closed form.  There they are FTRL's per-coordinate lambda_1 and
        lambda_2 (as in the paper, Vowpal Wabbit and Angel), not a
        shrinkage per step: a weight is exactly 0 while its accumulated
        gradient ``|z|`` is at most ``l1``, so a larger ``l1`` gives a
        sparser model, and a weight no row updates keeps its value.  FTRL
        needs ``learning_rate='constant'`` (its rates are its own schedule)
        and stores two values of state per parameter.

    alpha : float, default=1e-4
        L2 penalty, with ``SGDClassifier``'s meaning: every weight is shrunk
        at every step, by ``alpha`` times the step's learning rate (for
        AdaGrad and row-wise AdaGrad, times the weight's own per-coordinate
        rate; Adam decays weights decoupled, as AdamW).  Input-table rows are
        shrunk lazily, in closed form, when next touched and at the end of
        every epoch, so rare features are regularised as much as frequent
        ones and ``coefs_`` is always exact.  Biases are not penalised.  With
        ``optimizer='ftrl'``, FTRL's per-coordinate L2 (lambda_2), a term of
        its closed form.  See the "Regularisation and defaults" page of the
        user guide.

    l1 : float, default=0.0
        L1 penalty, with the same meaning and lazy update as ``alpha``, as a
        proximal step: it sets weights exactly to zero.  With
        ``optimizer='ftrl'``, FTRL's per-coordinate L1 (lambda_1): weights
        whose ``|z|`` is at most ``l1`` are zero.

    batch_size : int, default=1
        Units (rows) per update.  ``1`` is per-row Hogwild SGD; larger
        batches average the gradients of ``batch_size`` rows of one thread
        before one update (a feature occurring in several of them is updated
        once).

    learning_rate : {'constant', 'invscaling'}, default='constant'
        Schedule of the base step: constant, or ``learning_rate_init / t**power_t``
        at update ``t``.

    learning_rate_init : float, default=0.05
        Base step size.

    power_t : float, default=0.5
        Exponent of the ``'invscaling'`` schedule.

    max_iter : int, default=10
        Maximum number of epochs (passes over the data).

    tol : float or None, default=1e-4
        Training stops when the loss (or the validation score, with early
        stopping) has not improved by at least ``tol`` for ``n_iter_no_change``
        epochs.  ``None`` runs all ``max_iter`` epochs.

    shuffle : bool, default=True
        Visit blocks of rows in a new random order every epoch.

    shuffle_block_size : int, default=128
        Rows per shuffled block.  Rows of a block are visited in storage order,
        which keeps reads of X sequential; on the benchmark data, blocks of
        64-256 rows trained as well as a full row shuffle at a fraction of its
        cost.  Use 1 for a full shuffle (e.g. when X is sorted by target).

    shuffle_window_size : int or None, default=1048576
        Rows (queries for a ranker) per shuffle window.  Consecutive blocks are
        grouped into windows; an epoch visits the windows in a random order
        and the blocks of each window in a random order, so at any time the
        reads of X stay within one window.  This keeps an X memory-mapped from
        disk read mostly sequentially (see ``docs/out_of_core.md``).  Data of
        at most one window is shuffled exactly as with ``None``, which
        shuffles blocks over all of X.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split.  With
        ``n_jobs=1`` an int makes training bit-for-bit reproducible; with more
        threads, Hogwild's update interleaving varies between runs.

    early_stopping : 'auto' or bool, default='auto'
        Hold out ``validation_fraction`` of the rows (in shuffle blocks) and
        stop when the validation score stops improving; the best model seen is
        kept, so training longer never makes the model worse on the held-out
        rows.  ``'auto'`` enables it when the training data has more than
        10,000 rows, as ``HistGradientBoostingClassifier`` does.  Ignored by
        ``partial_fit`` and by ``skvectorflow.dask`` (where ``'auto'`` means
        off).

    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.

    n_iter_no_change : int, default=3
        Epochs without improvement of at least ``tol`` before stopping.

    warm_start : bool, default=False
        Continue from the fitted parameters in ``fit`` instead of starting anew.

    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's moment estimates.

    epsilon : float, default=1e-8
        Added to the denominator of AdaGrad and Adam steps.

    ftrl_beta : float, default=1.0
        FTRL-Proximal's beta (``optimizer='ftrl'`` only): a coordinate's rate
        is ``learning_rate_init / (ftrl_beta + sqrt(n))``, so ``ftrl_beta``
        damps the first steps of every coordinate.  Must be positive.

    verbose : int, default=0
        Print one line per epoch: training loss, validation score when early
        stopping, rows/s, ns per non-zero and seconds.

    n_jobs : int, default=None
        Hogwild threads.  ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context (and never more than this
        machine's cores); ``-1`` means all cores.  Never more than
        ``OMP_NUM_THREADS`` or ``NUMBA_NUM_THREADS`` when set (Dask's worker
        processes set ``OMP_NUM_THREADS=1``).
"""

FITTED_ATTRIBUTES_DOC = """
    coefs_ : list of ndarray
        Weight matrix of each layer.  ``coefs_[0]`` has shape
        ``(n_features_in_, h0)`` and is a view of the training table.

    intercepts_ : list of ndarray
        Bias vector of each layer.

    n_iter_ : int
        Epochs run.

    t_ : int
        Optimizer updates applied.

    loss_curve_ : list of float
        Mean training loss (without penalties) of each epoch.

    best_loss_ : float or None
        Lowest training loss; None with early stopping.

    validation_scores_ : list of float or None
        Validation score of each epoch with early stopping, else None.

    best_validation_score_ : float or None
        Best validation score with early stopping, else None.

    n_features_in_ : int
        Number of features seen during fit.

    n_outputs_ : int
        Number of network outputs.
"""


class BaseSparseMLP(BaseEstimator):
    """Base of the estimators trained by the Hogwild engine (not for direct use)."""

    _parameter_constraints = dict(_COMMON_PARAMETER_CONSTRAINTS)

    # ---- what subclasses provide -------------------------------------------------
    def _encode_targets(self, y, first_call, classes=None):
        """Validate ``y``; return float32 targets of shape (n_samples, n_targets).

        Sets the target attributes (``classes_``, ``n_outputs_``) on the first
        call and checks ``y`` against them on later ones.
        """
        raise NotImplementedError

    def _loss_code(self):
        """Engine code of the built-in loss, for the fitted targets."""
        raise NotImplementedError

    def _validation_score(self, outputs, targets, sample_weight, unit_bounds):
        """Score (higher is better) of raw network outputs on held-out targets.

        ``unit_bounds`` gives the held-out units' row ranges (empty when every
        row is a unit).
        """
        raise NotImplementedError

    def _group_units(self, X, targets, sample_weight, qid):
        """Arrange the rows into work units; return ``(X, targets, sample_weight, unit_bounds)``.

        By default every row is a unit (empty ``unit_bounds``).  A subclass
        whose loss sees several rows at once (a ranker's queries) reorders
        the rows so that each unit is contiguous and returns its row ranges.
        """
        if qid is not None:
            raise TypeError(f"{type(self).__name__} does not take qid.")
        return X, targets, sample_weight, np.zeros(0, dtype=np.int64)

    def _network_layout(self, hidden_sizes, n_outputs, n_features):
        """The ``NetworkLayout`` to train (validating what it depends on).

        The default is an MLP: ``hidden_sizes`` then the outputs, with the
        sparse sum as input layer.
        """
        return network.make_layout(list(hidden_sizes) + [n_outputs])

    def _max_pairs_per_query(self):
        """Pairs a query loss may draw per unit (0: no limit; unused by row losses)."""
        return 0

    def _huber_delta(self):
        return 1.0

    def _loss_name(self):
        """How error messages name the built-in training loss."""
        return f"loss {self.loss!r}"

    def _initial_outputs(self, targets, sample_weight, compiled_callback, n_outputs):
        """Start of the output bias: the constant outputs that minimise the loss.

        The null model of the loss being trained (built-in or callback): the
        prior log-odds, the mean, the null-model hazard...  In closed form
        where the built-in loss has one; otherwise by the engine's Newton
        iterations.  Subclasses with another closed form override this.
        """
        if compiled_callback is None:
            constant = objectives.closed_form_constant_outputs(self._loss_code(), targets, sample_weight,
                                                               n_outputs)
            if constant is not None:
                return constant
        return objectives.fit_constant_outputs(
            self._loss_code(), compiled_callback is not None,
            compiled_callback or objectives.no_loss_callback.dispatcher,
            targets, sample_weight, n_outputs, np.float32(self._huber_delta()))

    # ---- parameters ---------------------------------------------------------------
    def _more_validate_params(self):
        sizes = check_layer_widths("hidden_layer_sizes", self.hidden_layer_sizes)
        if self.optimizer == "ftrl" and self.learning_rate != "constant":
            raise ValueError(
                f"optimizer='ftrl' sets a rate per coordinate (learning_rate_init / (ftrl_beta + "
                f"sqrt(n))) and takes no schedule: learning_rate must be 'constant', got "
                f"{self.learning_rate!r}.")
        if self.loss_callback is not None:
            compile_loss_callback(self.loss_callback)
        return sizes

    # ---- fitted attributes --------------------------------------------------------
    @property
    def coefs_(self):
        """list of ndarray: weight matrix of each layer; ``coefs_[0]`` is the
        ``(n_features, h0)`` input layer (a view of the training table)."""
        check_is_fitted(self)
        return network.layer_views(self._network.layout, self._network.input_table,
                                   self._network.dense_params)[0]

    @property
    def intercepts_(self):
        """list of ndarray: bias vector of each layer."""
        check_is_fitted(self)
        return network.layer_views(self._network.layout, self._network.input_table,
                                   self._network.dense_params)[1]

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_network")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ---- training -----------------------------------------------------------------
    def _validate_X(self, X, reset):
        if not reset and _is_engine_ready_csr(X) and not hasattr(self, "feature_names_in_"):
            # Serving path: X already is what the engine reads.  scikit-learn's
            # validation costs ~100 us here (it probes X for dataframes), 100x
            # the prediction of one row; these are the checks it would make.
            self._check_ready_csr(X)
            return verified_csr(X)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float32, reset=reset)
        if X.shape[1] > MAX_N_FEATURES:
            raise ValueError(
                f"X has {X.shape[1]} features; at most {MAX_N_FEATURES} are supported (int32 column indices)."
            )
        return verified_csr(X)

    def _check_ready_csr(self, X):
        """scikit-learn's predict-time checks, worded as it words them, for float32 CSR."""
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                f"required by {type(self).__name__}."
            )
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        # In slices: a boolean temporary of every value would be 2 GB for a
        # memory-mapped X of 2e9 non-zeros.
        for start in range(0, X.data.size, _FINITE_CHECK_SLICE):
            values = X.data[start:start + _FINITE_CHECK_SLICE]
            if not np.isfinite(values).all():
                kind = ("NaN" if np.isnan(values).any()
                        else "infinity or a value too large for dtype('float32')")
                raise ValueError(f"Input X contains {kind}.")

    def _fit(self, X, y, sample_weight, incremental, classes=None, qid=None):
        # Validation sets fitted attributes (n_features_in_, classes_...) as
        # it goes; on any failure the estimator gets its previous state back,
        # so a fitted model is never left half-updated.
        previous_state = dict(self.__dict__)
        try:
            return self._fit_or_raise(X, y, sample_weight, incremental, classes, qid)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise

    def _fit_or_raise(self, X, y, sample_weight, incremental, classes, qid):
        continuing = hasattr(self, "_network") and (incremental or self.warm_start)
        hidden_sizes = self._more_validate_params()
        compiled_callback = (
            compile_loss_callback(self.loss_callback) if self.loss_callback is not None else None
        )
        X = self._validate_X(X, reset=not continuing)
        targets = self._encode_targets(y, first_call=not continuing, classes=classes)
        if targets.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} samples but y has {targets.shape[0]}."
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True
        )
        X, targets, sample_weight, unit_bounds = self._group_units(X, targets, sample_weight, qid)
        csr = as_engine_csr(X)
        n_samples = X.shape[0]
        rows_are_units = unit_bounds.size == 0
        n_units = n_samples if rows_are_units else unit_bounds.size - 1

        optimizer_code = optimizers.OPTIMIZER_CODES[self.optimizer]
        layout = self._network_layout(hidden_sizes, self.n_outputs_, X.shape[1])
        layer_sizes = [int(size) for size in layout.layer_sizes]
        if continuing:
            fitted_layout = self._network.layout
            if list(fitted_layout.layer_sizes) != layer_sizes or not all(
                    np.array_equal(fitted, new) for fitted, new in zip(fitted_layout, layout)):
                raise ValueError(
                    f"warm_start/partial_fit needs the fitted layer sizes "
                    f"{list(self._network.layout.layer_sizes)} and input layer, but the "
                    f"parameters and targets now give {layer_sizes} or another input layer; "
                    f"fit from scratch instead."
                )
            if self._optimizer_code != optimizer_code:
                raise ValueError(
                    f"warm_start/partial_fit cannot change the optimizer of a fitted model "
                    f"(fitted with {self._fitted_optimizer!r}, now {self.optimizer!r})."
                )
            # Train a copy, so a failure leaves the fitted model as it was.
            state = self._network.copy()
            step = self.t_
            loss_curve = list(self.loss_curve_)
            validation_scores = list(self.validation_scores_ or [])
        else:
            fan_in = max(1.0, csr[2].size / max(n_samples, 1))
            state = self._new_network_state(layout, X.shape[1], fan_in, targets, sample_weight,
                                            compiled_callback)
            step = 0
            loss_curve, validation_scores = [], []

        config = self._train_config(compiled_callback, layer_sizes[-1], targets.shape[1])
        rng = np.random.default_rng(self._seed(1 + step))
        # Seeds of the query losses' pair sampling: a stream of their own, so
        # that row losses shuffle exactly as they would without it.
        pair_rng = np.random.default_rng(self._seed(1 + step) + [1])
        early_stopping = self._uses_early_stopping(n_samples) and not incremental
        block_size = self.shuffle_block_size
        if early_stopping:
            # Blocks small enough that a validation fraction of them is a fair sample.
            block_size = max(1, min(block_size, n_units // 100))
        block_bounds = np.append(np.arange(0, n_units, block_size), n_units).astype(np.int64)
        n_blocks = block_bounds.size - 1
        blocks_per_window = (None if self.shuffle_window_size is None
                             else max(1, self.shuffle_window_size // block_size))
        train_blocks = np.arange(n_blocks, dtype=np.int64)
        if early_stopping:
            if n_blocks < 2:
                raise ValueError(
                    f"early_stopping needs at least 2 {'samples' if rows_are_units else 'queries'} to "
                    f"hold out a validation set, got {n_units}."
                )
            n_validation = int(np.clip(round(self.validation_fraction * n_blocks), 1, n_blocks - 1))
            permuted = rng.permutation(n_blocks)
            validation_blocks = np.sort(permuted[:n_validation])
            train_blocks = np.sort(permuted[n_validation:])
            # A block is a contiguous range of units, hence of rows.
            validation_units = np.concatenate(
                [np.arange(block_bounds[b], block_bounds[b + 1]) for b in validation_blocks])
            validation_rows = np.concatenate(
                [np.arange(_unit_rows(unit_bounds, block_bounds[b]),
                           _unit_rows(unit_bounds, block_bounds[b + 1]))
                 for b in validation_blocks])
            X_validation = X[validation_rows]
            validation_csr = as_engine_csr(X_validation)
            validation_targets = targets[validation_rows]
            validation_weight = sample_weight[validation_rows]
            validation_unit_bounds = (
                np.zeros(0, dtype=np.int64) if rows_are_units else np.append(
                    0, np.cumsum(unit_bounds[validation_units + 1] - unit_bounds[validation_units])))

        n_threads = min(effective_n_threads(self.n_jobs), max(1, train_blocks.size))
        # Sizes of the scratch buffers, found without an array per row (X may
        # be a memory map of a hundred million rows).
        max_unit_rows = 1 if rows_are_units or not n_units else int(np.max(np.diff(unit_bounds)))
        largest_unit_nnz = max(1, int(max_unit_nnz(csr[0], unit_bounds)))
        scratches = [
            hogwild.make_thread_scratch(state.layout, state.dense_params.size, targets.shape[1],
                                        max_unit_rows, largest_unit_nnz, self.batch_size)
            for _ in range(n_threads)
        ]
        network_arrays = (state.input_table, state.dense_params, state.dense_state)
        first_rows = _unit_rows(unit_bounds, block_bounds[train_blocks])
        stop_rows = _unit_rows(unit_bounds, block_bounds[train_blocks + 1])
        train_nnz = int(np.sum(csr[0][stop_rows] - csr[0][first_rows]))
        train_rows = int(np.sum(stop_rows - first_rows))

        max_epochs = 1 if incremental else self.max_iter
        best_loss = np.inf
        if continuing and getattr(self, "best_loss_", None) is not None:
            best_loss = self.best_loss_
        best_score = -np.inf
        best_state = None
        no_improvement = 0
        converged = False
        for _ in range(max_epochs):
            order = (hogwild.shuffled_block_order(rng, train_blocks, blocks_per_window)
                     if self.shuffle else train_blocks)
            config = config._replace(seed=np.int64(pair_rng.integers(np.iinfo(np.int64).max)))
            started = time.perf_counter()
            result = hogwild.run_epoch(
                csr, targets, sample_weight, unit_bounds, block_bounds, order, network_arrays,
                state.layout, config, compiled_callback, scratches, step)
            seconds = time.perf_counter() - started
            self._check_epoch(result, state)
            step += result.n_steps
            epoch_loss = result.loss_sum / max(result.weight_sum, np.finfo(np.float64).tiny)
            loss_curve.append(epoch_loss)
            message = (f"Epoch {len(loss_curve)}: loss {epoch_loss:.6g}, "
                       f"{train_rows / max(seconds, 1e-9):,.0f} rows/s, "
                       f"{1e9 * seconds / max(train_nnz, 1):.2f} ns/non-zero, {seconds:.2f} s")
            if early_stopping:
                outputs = hogwild.predict_outputs(
                    validation_csr, X_validation.shape[0], state.input_table, state.dense_params,
                    state.layout, config.activation, n_threads)
                score = self._validation_score(outputs, validation_targets, validation_weight,
                                               validation_unit_bounds)
                validation_scores.append(score)
                message += f", validation score {score:.6g}"
                if self.tol is not None and score < best_score + self.tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
                if score > best_score:
                    best_score = score
                    best_state = state.copy()
            elif self.tol is not None:
                if epoch_loss > best_loss - self.tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
            best_loss = min(best_loss, epoch_loss)
            if self.verbose:
                print(message, flush=True)
            if not incremental and self.tol is not None and no_improvement >= self.n_iter_no_change:
                converged = True
                if self.verbose:
                    print(f"No improvement of more than tol={self.tol} for "
                          f"{self.n_iter_no_change} epochs; stopping.", flush=True)
                break
        if not incremental and not converged and self.tol is not None and max_epochs > 1:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} epochs without the "
                f"{'validation score' if early_stopping else 'training loss'} settling "
                f"(tol={self.tol}); consider increasing max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if early_stopping and best_state is not None:
            state = best_state

        # Publish the trained state only now that training has succeeded.
        epochs_run = len(loss_curve) - (len(self.loss_curve_) if continuing else 0)
        self._publish_network(state, step, (self.n_iter_ if continuing else 0) + epochs_run,
                              loss_curve, None if early_stopping else best_loss,
                              validation_scores if early_stopping else None,
                              best_score if early_stopping else None)
        return self

    # ---- training hooks, shared with skvectorflow.dask -------------------------------
    def _uses_early_stopping(self, n_samples):
        """``early_stopping`` resolved: ``'auto'`` holds out a validation set above 10,000 rows."""
        if self.early_stopping == "auto":
            return n_samples > AUTO_EARLY_STOPPING_MIN_ROWS
        return bool(self.early_stopping)

    def _train_config(self, compiled_callback, n_outputs, n_targets):
        """The engine's record of this estimator's training hyper-parameters."""
        return hogwild.make_train_config(
            loss=self._loss_code(),
            use_callback=compiled_callback is not None,
            activation=ACTIVATION_CODES[self.activation],
            optimizer=optimizers.OPTIMIZER_CODES[self.optimizer],
            learning_rate_schedule=optimizers.LEARNING_RATE_CODES[self.learning_rate],
            learning_rate=self.learning_rate_init,
            power_t=self.power_t,
            alpha=self.alpha,
            l1=self.l1,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            ftrl_beta=self.ftrl_beta,
            huber_delta=self._huber_delta(),
            batch_size=self.batch_size,
            n_outputs=n_outputs,
            n_targets=n_targets,
            max_pairs=self._max_pairs_per_query(),
        )

    def _new_network_state(self, layout, n_features, fan_in, targets, sample_weight,
                           compiled_callback):
        """Initial parameters of ``layout``, with the output bias at the null model of the targets.

        ``fan_in`` is the mean number of non-zeros per row (see
        ``network.init_network``).
        """
        optimizer_code = optimizers.OPTIMIZER_CODES[self.optimizer]
        layer_sizes = [int(size) for size in layout.layer_sizes]
        init_rng = np.random.default_rng(self._seed(0))
        state = NetworkState(layout, *network.init_network(
            layout, n_features,
            optimizers.input_state_width(optimizer_code, network.table_width(layout)),
            optimizers.dense_state_width(optimizer_code), fan_in, init_rng))
        output_bias_start = int(layout.bias_offsets[-1]) if len(layer_sizes) > 1 else 0
        state.dense_params[output_bias_start:output_bias_start + layer_sizes[-1]] = (
            self._initial_outputs(targets, sample_weight, compiled_callback, layer_sizes[-1]))
        # State determined by the initial parameters (FTRL's z), once they are all set.
        optimizers.initialise_state(
            optimizer_code, state.input_table, network.table_width(layout), state.dense_params,
            state.dense_state, network.readonly_layout(layout),
            self._train_config(compiled_callback, layer_sizes[-1], targets.shape[1]))
        return state

    def _publish_network(self, state, step, n_iter, loss_curve, best_loss,
                         validation_scores=None, best_validation_score=None):
        """Make ``state`` the fitted model and set the fitted attributes."""
        self._network = state
        self._activation_code = ACTIVATION_CODES[self.activation]
        self._optimizer_code = optimizers.OPTIMIZER_CODES[self.optimizer]
        self._fitted_optimizer = self.optimizer
        self.t_ = step
        self.n_iter_ = n_iter
        self.loss_curve_ = loss_curve
        self.best_loss_ = best_loss
        self.validation_scores_ = validation_scores
        self.best_validation_score_ = best_validation_score

    def _check_epoch(self, result, state):
        callback = self.loss_callback
        source = (f"loss_callback {getattr(callback, '__qualname__', callback)!r}"
                  if callback is not None else self._loss_name())
        if result.status == hogwild.STATUS_NONFINITE_LOSS:
            raise ValueError(
                f"Training stopped: the {source} returned a non-finite loss on the unit starting at "
                f"row {result.bad_unit}. Check the targets and the callback; a smaller "
                f"learning_rate_init or scaled inputs help if the model diverged."
            )
        if result.status == hogwild.STATUS_NONFINITE_GRADIENT:
            raise ValueError(
                f"Training stopped: the {source} wrote a non-finite gradient on the unit starting at "
                f"row {result.bad_unit}."
            )
        if not state.is_finite():
            raise ValueError(
                "Training diverged: the parameters are no longer finite. Scale the input, "
                "lower learning_rate_init, or use the 'adagrad' optimizer."
            )

    def _seed(self, salt):
        """A seed derived from ``random_state`` and ``salt`` (never from global state).

        An int ``random_state`` gives the same seeds on every call; ``None``
        or a ``RandomState`` gives fresh ones.
        """
        base = check_random_state(self.random_state)
        if isinstance(self.random_state, (Integral, np.integer)):
            return [int(self.random_state), int(salt)]
        return [int(base.randint(np.iinfo(np.int32).max)), int(salt)]

    # ---- prediction ---------------------------------------------------------------
    def _raw_outputs(self, X):
        """Network outputs for X, shape (n_samples, n_outputs), float32."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        csr = as_engine_csr(X)
        state = self._network
        return hogwild.predict_outputs(
            csr, X.shape[0], state.input_table, state.dense_params, state.layout,
            self._activation_code, effective_n_threads(self.n_jobs))
