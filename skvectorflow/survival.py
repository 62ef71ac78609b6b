"""Survival analysis on sparse data: the exponential model, its target and its metrics.

``SurvivalExponentialRegressor`` fits the weighted maximum-likelihood
exponential survival model with right-censoring, the model Netflix built
Vectorflow's callback API for.  Targets are scikit-survival's structured
arrays (one boolean event field, one float time field), so the estimator
drops into code written for scikit-survival without depending on it.

Conventions
-----------
The network's output is the log hazard rate ``eta(x)``.  ``predict`` returns
the expected survival time ``1 / rate``, so *higher means longer survival*,
and ``score`` is Harrell's concordance index of those times.  scikit-survival
scores risks instead (higher means shorter survival):
``sksurv.metrics.concordance_index_censored(event, time, -model.predict(X))``
gives the same value as ``model.score(X, y)`` (so does ``predict_rate(X)`` with
``tied_tol=0``: its default absolute tolerance merges rates closer than 1e-8).
"""

import math
import warnings

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import make_scorer
from sklearn.utils.validation import _check_sample_weight, column_or_1d

from ._base import (FITTED_ATTRIBUTES_DOC, NETWORK_PARAMETERS_DOC, TRAINING_PARAMETERS_DOC,
                    BaseSparseMLP)
from ._engine import objectives
from ._engine.concordance import concordant_pair_weights

__all__ = [
    "SurvivalExponentialRegressor",
    "make_survival_target",
    "concordance_index",
    "concordance_index_scorer",
    "mean_exponential_nll",
    "neg_mean_exponential_nll_scorer",
    "survival_arrays",
]

_HOW_TO_BUILD_Y = (
    "Build it with skvectorflow.survival.make_survival_target(event, time) or "
    "sksurv.util.Surv.from_arrays(event, time)."
)


def make_survival_target(event, time, *, event_name="event", time_name="time"):
    """Structured survival target from an event indicator and observed times.

    The same array ``sksurv.util.Surv.from_arrays(event, time)`` makes: one
    boolean field (the event was observed) and one float field (the time of
    the event, or of censoring when it was not observed).

    Parameters
    ----------
    event : array-like of shape (n_samples,)
        True (or 1) where the event was observed, False (or 0) where the row
        is right-censored.
    time : array-like of shape (n_samples,)
        Positive, finite times.
    event_name, time_name : str, default='event', 'time'
        Field names.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        Structured array of dtype ``[(event_name, bool), (time_name, float64)]``.

    Raises
    ------
    ValueError
        If the lengths differ, ``event`` is not boolean-like, or a time is
        not positive and finite.

    Examples
    --------
    >>> from skvectorflow.survival import make_survival_target
    >>> make_survival_target([True, False], [3.0, 5.5])
    array([( True, 3. ), (False, 5.5)],
          dtype=[('event', '?'), ('time', '<f8')])
    """
    if event_name == time_name:
        raise ValueError(f"event_name and time_name must differ, both are {event_name!r}.")
    event = _as_event_indicator(column_or_1d(event, warn=False), "event")
    time = np.asarray(column_or_1d(time, warn=False))
    if not np.issubdtype(time.dtype, np.number) or np.issubdtype(time.dtype, np.complexfloating):
        raise ValueError(f"time must be numeric, got dtype {time.dtype}.")
    time = time.astype(np.float64)
    if event.shape[0] != time.shape[0]:
        raise ValueError(f"event has {event.shape[0]} values but time has {time.shape[0]}.")
    _check_times(time, "time")
    y = np.empty(time.shape[0], dtype=[(event_name, bool), (time_name, np.float64)])
    y[event_name] = event
    y[time_name] = time
    return y


def _as_event_indicator(values, name):
    """``values`` as booleans, if they are booleans or 0/1 numbers."""
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    if np.issubdtype(values.dtype, np.number) and not np.issubdtype(values.dtype, np.complexfloating):
        observed = np.unique(values)
        if np.all(np.isin(observed, (0, 1))):
            return values.astype(bool)
        shown = ", ".join(repr(v.item()) for v in observed[:5])
        raise ValueError(
            f"The event indicator {name} must be boolean-like (True/False or 0/1); it holds {shown}"
            f"{'...' if observed.size > 5 else ''}."
        )
    raise ValueError(
        f"The event indicator {name} must be boolean-like (True/False or 0/1), got dtype {values.dtype}."
    )


def _check_times(time, name):
    bad = ~(np.isfinite(time) & (time > 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        count = int(bad.sum())
        hint = (" A time of 0 has no likelihood under a continuous-time model: shift such times "
                "by a small amount." if np.any(time == 0) else "")
        raise ValueError(
            f"Survival times ({name}) must be positive and finite; {count} "
            f"{'is' if count == 1 else 'are'} not (the first, at row {first}, is "
            f"{float(time[first])}).{hint}"
        )


def survival_arrays(y):
    """The event indicator and times of a structured survival target.

    Fields are found by dtype: the boolean field is the event, the other (a
    number) the time.  Without a boolean field, an integer field holding only
    0 and 1 is the event when the other field is a float.

    Parameters
    ----------
    y : structured ndarray of shape (n_samples,)
        As made by :func:`make_survival_target` or scikit-survival's
        ``Surv.from_arrays``.

    Returns
    -------
    event : ndarray of bool, shape (n_samples,)
    time : ndarray of float64, shape (n_samples,)
    """
    if y is None:
        raise ValueError(
            "This survival estimator requires y to be passed, but the target y is None. "
            + _HOW_TO_BUILD_Y
        )
    y = np.asarray(y)
    names = y.dtype.names
    if names is None:
        raise ValueError(
            f"y must be a structured array with a boolean event field and a float time field; got a "
            f"plain array of dtype {y.dtype} and shape {y.shape}. {_HOW_TO_BUILD_Y}"
        )
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}.")
    if len(names) != 2:
        raise ValueError(
            f"y must have exactly two fields (event and time), got {len(names)}: {list(names)}. "
            + _HOW_TO_BUILD_Y
        )
    kinds = {name: y.dtype[name] for name in names}
    boolean = [name for name in names if kinds[name] == bool]
    if len(boolean) == 1:
        event_name = boolean[0]
    elif len(boolean) == 2:
        raise ValueError(f"Both fields of y are boolean ({list(names)}); the time field must be a number.")
    else:
        integer = [name for name in names if np.issubdtype(kinds[name], np.integer)]
        floating = [name for name in names if np.issubdtype(kinds[name], np.floating)]
        if len(integer) == 1 and len(floating) == 1:
            event_name = integer[0]
        else:
            fields = ", ".join(f"{name!r}: {kinds[name]}" for name in names)
            raise ValueError(
                f"Cannot tell y's event field from its time field ({fields}): the event field must "
                f"be boolean. " + _HOW_TO_BUILD_Y
            )
    time_name = names[1] if names[0] == event_name else names[0]
    if not np.issubdtype(kinds[time_name], np.number) or np.issubdtype(kinds[time_name], np.complexfloating):
        raise ValueError(f"y's time field {time_name!r} must be numeric, got dtype {kinds[time_name]}.")
    event = _as_event_indicator(y[event_name], f"field {event_name!r} of y")
    time = np.asarray(y[time_name], dtype=np.float64)
    _check_times(time, f"field {time_name!r} of y")
    return event, time


def _check_metric_inputs(y_true, predicted_time, sample_weight):
    """Validated ``(event, time, predicted_time, sample_weight)`` of a survival metric."""
    event, time = survival_arrays(y_true)
    predicted = np.asarray(column_or_1d(predicted_time, warn=False), dtype=np.float64)
    if predicted.shape[0] != time.shape[0]:
        raise ValueError(
            f"y_true has {time.shape[0]} samples but predicted_time has {predicted.shape[0]}."
        )
    if np.isnan(predicted).any():
        raise ValueError("predicted_time contains NaN.")
    weight = _check_sample_weight(sample_weight, predicted, dtype=np.float64, ensure_non_negative=True)
    return event, time, predicted, weight


def concordance_index(y_true, predicted_time, sample_weight=None):
    """Harrell's concordance index of predicted survival times.

    The share of comparable pairs whose order the predictions get right: a
    pair is comparable when one row had the event and the other is known to
    have survived it (a later time, or a censored row at the same time); it
    is concordant when the row with the event has the shorter predicted
    time.  Equal predictions count one half.  Computed in O(n log n).

    Parameters
    ----------
    y_true : structured ndarray of shape (n_samples,)
        Survival target (see :func:`make_survival_target`).
    predicted_time : array-like of shape (n_samples,)
        Predicted survival times or any score that is *higher for longer
        survival*, such as ``SurvivalExponentialRegressor.predict``.  For a
        risk score (higher means shorter survival, scikit-survival's
        convention), pass its negative.
    sample_weight : array-like of shape (n_samples,), default=None
        A pair counts ``w_i * w_j``: an integer weight counts like repeating
        the row.

    Returns
    -------
    c_index : float
        1 for a perfect ranking, 0.5 for a random one; NaN, with an
        ``UndefinedMetricWarning``, when there is no comparable pair (no
        event, or every event at the latest time).

    Examples
    --------
    >>> from skvectorflow.survival import concordance_index, make_survival_target
    >>> y = make_survival_target([True, True, False], [1.0, 2.0, 3.0])
    >>> concordance_index(y, [1.5, 2.5, 9.0])
    1.0
    """
    event, time, predicted, weight = _check_metric_inputs(y_true, predicted_time, sample_weight)
    distinct, prediction_rank = np.unique(predicted, return_inverse=True)
    concordant, tied, discordant = concordant_pair_weights(
        np.argsort(time, kind="stable").astype(np.int64), time, event,
        prediction_rank.astype(np.int64).ravel(), distinct.size, weight)
    comparable = concordant + tied + discordant
    if comparable <= 0.0:
        warnings.warn(
            "The concordance index is undefined: no pair of rows is comparable (no event before "
            "the latest time, or only zero weights).",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    return float((concordant + 0.5 * tied) / comparable)


def mean_exponential_nll(y_true, predicted_time, sample_weight=None):
    """Weighted mean negative log-likelihood of an exponential survival model.

    Row ``i`` with event indicator ``d``, time ``t`` and rate
    ``lambda = 1 / predicted_time`` contributes ``t * lambda - d * log(lambda)``
    (the log-density of the event time for an event, the log-survival for a
    censored row).  Lower is better.

    Parameters
    ----------
    y_true : structured ndarray of shape (n_samples,)
        Survival target (see :func:`make_survival_target`).
    predicted_time : array-like of shape (n_samples,)
        Expected survival times ``1 / lambda``, as
        ``SurvivalExponentialRegressor.predict`` returns them.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    nll : float
    """
    event, time, predicted, weight = _check_metric_inputs(y_true, predicted_time, sample_weight)
    if not np.all(predicted > 0):
        raise ValueError("predicted_time must be positive (expected survival times).")
    log_rate = -np.log(predicted)
    nll = time * np.exp(log_rate) - event * log_rate
    return float(np.average(nll, weights=weight))


concordance_index_scorer = make_scorer(concordance_index)
concordance_index_scorer.__doc__ = (
    "Scorer for ``GridSearchCV(scoring=...)``: Harrell's C of ``predict`` (higher is better).")
neg_mean_exponential_nll_scorer = make_scorer(mean_exponential_nll, greater_is_better=False)
neg_mean_exponential_nll_scorer.__doc__ = (
    "Scorer for ``GridSearchCV(scoring=...)``: minus the mean exponential NLL of ``predict``.")


_SURVIVAL_LOSS_CALLBACK_PARAMETER = """\
    loss_callback : callable or str, default=None
        A custom loss ``f(pred, target, weight, grad) -> loss`` over the
        arrays of one row, compiled with Numba at ``fit`` (see
        :mod:`skvectorflow.losses`): ``pred`` holds the row's log-rate
        output, ``target`` its time and event indicator (1.0 or 0.0),
        ``weight`` its sample weight.  It replaces the exponential likelihood
        (another parametric family, a different censoring scheme...), while
        predictions still read the output as a log hazard rate.  A string
        names a built-in callback (``skvectorflow.losses.BUILTIN_CALLBACKS``).

"""


class SurvivalExponentialRegressor(BaseSparseMLP):
    __doc__ = f"""Exponential survival model on sparse data, weighted and right-censored.

    The network (linear by default, or an MLP) outputs the log hazard rate
    ``eta(x)`` of an exponential time to event.  Fitting minimises the
    weighted mean negative log-likelihood plus the penalties,

    ``sum_i w_i * (t_i * exp(eta(x_i)) - d_i * eta(x_i)) / sum_i w_i``,

    where ``t_i`` is the observed time and ``d_i`` is 1 if the event was
    observed and 0 if the row is right-censored at ``t_i``.  Training is
    Hogwild SGD over threads, with sparse updates of the input layer, as in
    :class:`~skvectorflow.SparseMLPRegressor`; the output bias starts at the
    null model's maximum-likelihood log-rate ``log(sum(w d) / sum(w t))``.
    Log-rates are clipped at 30 inside ``exp`` so hot rows cannot overflow.

    Parameters
    ----------
{NETWORK_PARAMETERS_DOC}{_SURVIVAL_LOSS_CALLBACK_PARAMETER}{TRAINING_PARAMETERS_DOC}
    Attributes
    ----------
{FITTED_ATTRIBUTES_DOC}
    See Also
    --------
    make_survival_target : Build the structured target ``y``.
    concordance_index : The metric of ``score``.
    mean_exponential_nll : The held-out likelihood.

    Notes
    -----
    ``y`` is a structured array with a boolean event field and a float time
    field, found by dtype: scikit-survival's ``Surv.from_arrays(event, time)``
    makes one, as does :func:`make_survival_target`.  Times must be positive
    and finite.  ``predict`` returns the expected time ``1 / rate``, so
    higher predictions mean longer survival; scikit-survival's estimators
    predict risks, where higher means shorter survival.  ``validation_scores_``
    (with ``early_stopping``) holds minus the mean validation NLL.

    Examples
    --------
    >>> from skvectorflow import SurvivalExponentialRegressor
    >>> from skvectorflow.datasets import make_sparse_survival
    >>> X, y = make_sparse_survival(n_samples=2000, n_features=1000, random_state=0)
    >>> model = SurvivalExponentialRegressor(max_iter=5, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> bool(model.score(X, y) > 0.6)
    True
    """

    def __init__(
        self,
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
        """Fit the model to X and the survival target y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 CSR with int32 indices is used without a copy.
        y : structured ndarray of shape (n_samples,)
            Event indicator and time of each row (see :func:`make_survival_target`).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; an integer weight counts like
            repeating the row.

        Returns
        -------
        self : SurvivalExponentialRegressor
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over X and y, starting from the current model if fitted.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : structured ndarray of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : SurvivalExponentialRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _log_rate(self, X):
        log_rate = self._raw_outputs(X)[:, 0].astype(np.float64)
        n_capped = int(np.count_nonzero(log_rate > objectives.MAX_EXP_ARGUMENT))
        if n_capped:
            # The training loss clips the log-rate there too: beyond it the
            # model's outputs are not fitted rates.
            warnings.warn(
                f"{n_capped} of {log_rate.size} predicted log-rates were capped at "
                f"{objectives.MAX_EXP_ARGUMENT:g} (a rate of {math.exp(objectives.MAX_EXP_ARGUMENT):.4g} per "
                f"time unit, a time of {math.exp(-objectives.MAX_EXP_ARGUMENT):.4g}), the largest the "
                f"model represents; rescale the times (e.g. fit in days rather than seconds).",
                UserWarning, stacklevel=3)
        return np.minimum(log_rate, objectives.MAX_EXP_ARGUMENT)

    def predict(self, X):
        """Expected survival time ``1 / rate`` of each row (higher: longer survival).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        time : ndarray of shape (n_samples,)
        """
        return np.exp(-self._log_rate(X))

    def predict_rate(self, X):
        """Hazard rate of each row (events per unit of time; higher: higher risk).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        rate : ndarray of shape (n_samples,)
        """
        return np.exp(self._log_rate(X))

    def predict_median_time(self, X):
        """Median survival time ``log(2) / rate`` of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        time : ndarray of shape (n_samples,)
        """
        return math.log(2.0) * np.exp(-self._log_rate(X))

    def predict_survival_function(self, X, times):
        """Probability ``exp(-rate * t)`` of each row surviving past each time.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        times : array-like of shape (n_times,)
            Non-negative, finite times.

        Returns
        -------
        survival : ndarray of shape (n_samples, n_times)
        """
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1:
            raise ValueError(f"times must be one-dimensional, got shape {times.shape}.")
        if not np.all(np.isfinite(times) & (times >= 0)):
            raise ValueError("times must be non-negative and finite.")
        rate = self.predict_rate(X)
        return np.exp(-np.outer(rate, times))

    def score(self, X, y, sample_weight=None):
        """Harrell's concordance index of ``predict(X)`` against y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : structured ndarray of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        c_index : float
            See :func:`concordance_index`; equal to scikit-survival's
            ``concordance_index_censored(event, time, -predict(X))[0]``.
        """
        return concordance_index(y, self.predict(X), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # ---- subclass hooks ----
    def _encode_targets(self, y, first_call, classes=None):
        event, time = survival_arrays(y)
        if np.any(time > np.finfo(np.float32).max):
            raise ValueError("Survival times are too large for float32 (the engine's precision); rescale them.")
        if first_call:
            self.n_outputs_ = 1
            if not event.any():
                warnings.warn(
                    "Every row of y is censored: the likelihood keeps growing as the hazard rate "
                    "goes to zero, so the fitted rates mean little. Fitting anyway.",
                    UserWarning,
                    stacklevel=4,
                )
        return np.ascontiguousarray(np.column_stack([time, event]), dtype=np.float32)

    def _loss_code(self):
        return objectives.EXPONENTIAL_SURVIVAL

    def _loss_name(self):
        return "exponential survival likelihood"

    def _initial_outputs(self, targets, sample_weight, compiled_callback, n_outputs):
        if compiled_callback is not None:
            return super()._initial_outputs(targets, sample_weight, compiled_callback, n_outputs)
        weight = sample_weight.astype(np.float64)
        exposure = float(np.dot(weight, targets[:, 0]))
        events = float(np.dot(weight, targets[:, 1]))
        if events <= 0.0:
            # No event: the maximum-likelihood rate is 0; start as if half an
            # event of average weight had been seen, so the start is finite.
            events = 0.5 * float(np.mean(weight))
        if exposure <= 0.0 or events <= 0.0:
            return np.zeros(n_outputs, dtype=np.float32)
        return np.full(n_outputs, math.log(events / exposure), dtype=np.float32)

    def _validation_score(self, outputs, targets, sample_weight, unit_bounds):
        log_rate = np.minimum(outputs[:, 0].astype(np.float64), objectives.MAX_EXP_ARGUMENT)
        time = targets[:, 0].astype(np.float64)
        event = targets[:, 1].astype(np.float64)
        nll = time * np.exp(log_rate) - event * log_rate
        return -float(np.average(nll, weights=sample_weight))
