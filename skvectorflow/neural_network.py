"""SparseMLPRegressor and SparseMLPClassifier: linear models and shallow nets on sparse X."""

import warnings
from numbers import Real

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from ._base import (FITTED_ATTRIBUTES_DOC, NETWORK_PARAMETERS_DOC, TRAINING_PARAMETERS_DOC,
                    BaseSparseMLP)
from ._engine import objectives
from .losses import REGRESSION_LOSSES

__all__ = ["SparseMLPClassifier", "SparseMLPRegressor"]

# Largest mean a Poisson model predicts.  The engine clips the log-mean at
# ``MAX_EXP_ARGUMENT`` (30) in the training loss, and prediction clips at the
# same point: beyond it the loss is that of the clip point, so outputs above 30
# are not fitted means, and exp() of them would be extrapolation.  The cap is
# not raised to float32's limit (exp(88)): AdaGrad and Adam accumulate the
# squared gradient ``(exp(p) - y)**2`` in float32, which overflows from
# p ~ 44 on.  Predictions that hit the cap, and targets above it, warn.
POISSON_PREDICTION_CAP = float(np.exp(objectives.MAX_EXP_ARGUMENT))

_LOSS_CALLBACK_PARAMETER = """\
    loss_callback : callable or str, default=None
        A custom loss ``f(pred, target, weight, grad) -> loss`` over the
        arrays of one row, compiled with Numba at ``fit`` (see
        :mod:`skvectorflow.losses` for the contract), or the name of a
        built-in loss in callback form (``skvectorflow.losses.BUILTIN_CALLBACKS``),
        which keeps the model picklable without code.  It replaces the training
        loss; ``loss`` still defines how targets are encoded and how outputs
        are turned into predictions.

"""

_SHARED_PARAMETERS = NETWORK_PARAMETERS_DOC + _LOSS_CALLBACK_PARAMETER + TRAINING_PARAMETERS_DOC
_SHARED_ATTRIBUTES = FITTED_ATTRIBUTES_DOC


class SparseMLPRegressor(RegressorMixin, BaseSparseMLP):
    __doc__ = f"""Linear models and shallow neural networks for regression on sparse data.

    Trained by Hogwild SGD over threads: each thread runs a compiled, GIL-free
    loop over its share of the rows and updates the shared parameters without
    locks; the input layer is an embedding table updated only where a row has
    non-zeros, so an epoch costs time in proportion to the non-zeros of X.
    Float32 CSR input with int32 indices is used without a copy.

    Parameters
    ----------
    loss : {{'squared_error', 'huber', 'poisson'}}, default='squared_error'
        Training loss.  ``'poisson'`` models the log of the mean (predictions
        are ``exp`` of the network output; targets must be non-negative).
        Means are capped at ``exp(30)`` (about 1.07e13), with a warning when
        a target or a prediction reaches the cap: rescale larger counts.
{_SHARED_PARAMETERS}
    huber_delta : float, default=1.0
        Residual beyond which the Huber loss grows linearly.

    Attributes
    ----------
{_SHARED_ATTRIBUTES}
    See Also
    --------
    SparseMLPClassifier : The classifier on the same engine.
    sklearn.neural_network.MLPRegressor : Dense-input MLP.
    sklearn.linear_model.SGDRegressor : Linear models by SGD.

    Examples
    --------
    >>> from skvectorflow import SparseMLPRegressor
    >>> from skvectorflow.datasets import make_sparse_regression
    >>> X, y = make_sparse_regression(n_samples=2000, n_features=1000, random_state=0)
    >>> model = SparseMLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **BaseSparseMLP._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        hidden_layer_sizes=(),
        activation="relu",
        loss_callback=None,
        optimizer="adagrad",
        alpha=1e-4,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        shuffle_window_size=1 << 20,
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        ftrl_beta=1.0,
        huber_delta=1.0,
        verbose=0,
        n_jobs=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss_callback = loss_callback
        self.optimizer = optimizer
        self.alpha = alpha
        self.l1 = l1
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.shuffle_block_size = shuffle_block_size
        self.shuffle_window_size = shuffle_window_size
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.ftrl_beta = ftrl_beta
        self.huber_delta = huber_delta
        self.verbose = verbose
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 CSR with int32 indices is used without a copy.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows.

        Returns
        -------
        self : SparseMLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over X and y, starting from the current model if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : SparseMLPRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets for X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        outputs = self._raw_outputs(X).astype(np.float64)
        if self.loss == "poisson":
            n_capped = int(np.count_nonzero(outputs > objectives.MAX_EXP_ARGUMENT))
            if n_capped:
                warnings.warn(
                    f"{n_capped} of {outputs.size} Poisson predictions were capped at "
                    f"exp({objectives.MAX_EXP_ARGUMENT:g}) = {POISSON_PREDICTION_CAP:.4g}, the "
                    f"largest mean loss='poisson' models (the training loss clips its log-mean "
                    f"there too); rescale y (e.g. predict y / 1e6) if means this large are real.",
                    UserWarning, stacklevel=2)
            outputs = np.exp(np.minimum(outputs, objectives.MAX_EXP_ARGUMENT))
        return outputs.ravel() if self._y_was_1d else outputs

    # ---- subclass hooks ----
    def _encode_targets(self, y, first_call, classes=None):
        if y is None:
            raise ValueError("SparseMLPRegressor requires y to be passed, but the target y is None.")
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 0 or y.ndim > 2:
            raise ValueError(f"y must be 1-d or 2-d, got an array of shape {y.shape}.")
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        if np.any(np.abs(y) > np.finfo(np.float32).max):
            raise ValueError(
                "Input y has values too large for float32 (the engine's precision); rescale y."
            )
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' requires non-negative targets y; y has negative values.")
        if self.loss == "poisson" and first_call and np.any(y > POISSON_PREDICTION_CAP):
            warnings.warn(
                f"y has values above exp({objectives.MAX_EXP_ARGUMENT:g}) = "
                f"{POISSON_PREDICTION_CAP:.4g}, the largest mean loss='poisson' models: their "
                f"predictions will be capped there. Rescale y (e.g. fit y / 1e6).",
                UserWarning, stacklevel=6)
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError(
                f"y has 0 columns (shape {y.shape}); {type(self).__name__} needs at least one "
                f"target column.")
        y_was_1d = y.ndim == 1
        targets = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.float32)
        if first_call:
            self._y_was_1d = y_was_1d
            self.n_outputs_ = targets.shape[1]
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} outputs but the model was fitted with {self.n_outputs_}."
            )
        return targets

    def _loss_code(self):
        return REGRESSION_LOSSES[self.loss]

    def _huber_delta(self):
        return self.huber_delta

    def _validation_score(self, outputs, targets, sample_weight, unit_bounds):
        if self.loss == "poisson":
            outputs = np.exp(np.minimum(outputs.astype(np.float64), objectives.MAX_EXP_ARGUMENT))
        return r2_score(targets, outputs, sample_weight=sample_weight)


class SparseMLPClassifier(ClassifierMixin, BaseSparseMLP):
    __doc__ = f"""Linear models and shallow neural networks for classification on sparse data.

    Binary problems train one logit (logistic loss) and multiclass problems
    one logit per class (softmax cross-entropy); ``loss='hinge'`` trains a
    linear SVM (one-vs-rest for multiclass) when ``hidden_layer_sizes=()``.
    Training is Hogwild SGD over threads with sparse updates of the input
    layer, as in :class:`SparseMLPRegressor`.

    Parameters
    ----------
    loss : {{'log_loss', 'hinge'}}, default='log_loss'
        Training loss.  ``predict_proba`` needs ``'log_loss'``.
{_SHARED_PARAMETERS}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
{_SHARED_ATTRIBUTES}
    See Also
    --------
    SparseMLPRegressor : The regressor on the same engine.
    sklearn.linear_model.SGDClassifier : Linear classifiers by SGD.
    sklearn.neural_network.MLPClassifier : Dense-input MLP.

    Examples
    --------
    >>> from skvectorflow import SparseMLPClassifier
    >>> from skvectorflow.datasets import make_sparse_classification
    >>> X, y = make_sparse_classification(n_samples=2000, n_features=1000, random_state=0)
    >>> clf = SparseMLPClassifier(max_iter=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseSparseMLP._parameter_constraints,
        "loss": [StrOptions({"log_loss", "hinge"})],
    }

    def __init__(
        self,
        loss="log_loss",
        *,
        hidden_layer_sizes=(),
        activation="relu",
        loss_callback=None,
        optimizer="adagrad",
        alpha=1e-4,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        shuffle_window_size=1 << 20,
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        ftrl_beta=1.0,
        verbose=0,
        n_jobs=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss_callback = loss_callback
        self.optimizer = optimizer
        self.alpha = alpha
        self.l1 = l1
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.shuffle_block_size = shuffle_block_size
        self.shuffle_window_size = shuffle_window_size
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.ftrl_beta = ftrl_beta
        self.verbose = verbose
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 CSR with int32 indices is used without a copy.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows.

        Returns
        -------
        self : SparseMLPClassifier
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over X and y, starting from the current model if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem.  Required on the first call, when the
            chunk may not hold them all; must not change afterwards.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : SparseMLPClassifier
        """
        first_call = not hasattr(self, "classes_") or not hasattr(self, "_network")
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def decision_function(self, X):
        """Raw scores (logits, or SVM margins) for X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
        """
        outputs = self._raw_outputs(X).astype(np.float64)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def predict(self, X):
        """Predict class labels for X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def _check_proba(self):
        if self.loss != "log_loss":
            raise AttributeError(f"predict_proba is not available when loss={self.loss!r}")
        return True

    @available_if(_check_proba)
    def predict_proba(self, X):
        """Class probabilities for X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            # expit(-s), not 1 - expit(s): the latter rounds to 0 beyond
            # s ~ 37, where predict_log_proba would disagree with its log.
            return np.column_stack([expit(-scores), expit(scores)])
        return softmax(scores, axis=1)

    @available_if(_check_proba)
    def predict_log_proba(self, X):
        """Logarithm of the class probabilities for X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return np.log(np.clip(self.predict_proba(X), np.finfo(np.float64).tiny, None))

    # ---- subclass hooks ----
    def _encode_targets(self, y, first_call, classes=None):
        if y is None:
            raise ValueError("SparseMLPClassifier requires y to be passed, but the target y is None.")
        if type_of_target(y) in ("multilabel-indicator", "multiclass-multioutput"):
            raise ValueError(
                "SparseMLPClassifier supports binary and multiclass targets, not multilabel "
                "or multi-output ones; y must be 1-d."
            )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first_call:
            encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
            if classes is not None:
                unknown = np.setdiff1d(y, encoder.classes_)
                if unknown.size:
                    raise ValueError(f"y has labels {unknown.tolist()} that are not in classes.")
            if encoder.classes_.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                    f"but the data contains only one class: {encoder.classes_[0]!r}."
                )
            self.classes_ = encoder.classes_
            self.n_outputs_ = 1 if self.classes_.size == 2 else self.classes_.size
        else:
            unknown = np.setdiff1d(y, self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y has labels {unknown.tolist()} that were not seen in the first fit; "
                    f"classes are {self.classes_.tolist()}."
                )
        codes = np.searchsorted(self.classes_, y)
        return np.ascontiguousarray(codes.reshape(-1, 1), dtype=np.float32)

    def _loss_code(self):
        if self.loss == "hinge":
            return objectives.HINGE
        if self.classes_.size == 2:
            return objectives.BINARY_LOG_LOSS
        return objectives.MULTINOMIAL_LOG_LOSS

    def _validation_score(self, outputs, targets, sample_weight, unit_bounds):
        if outputs.shape[1] == 1:
            predicted = (outputs[:, 0] > 0).astype(np.intp)
        else:
            predicted = np.argmax(outputs, axis=1)
        return accuracy_score(targets[:, 0].astype(np.intp), predicted, sample_weight=sample_weight)
