"""Built-in losses of one work unit, selected by an integer code.

Every loss follows the engine's per-unit contract, the same one a user's
``loss_callback`` follows: given the network outputs ``pred`` of a unit's rows
(row-major, ``n_outputs`` per row), their targets (``n_targets`` per row) and
sample weights, it writes the gradient of the weighted loss with respect to
``pred`` into ``grad`` and returns the weighted loss summed over the unit's
rows.  Built-ins run inside the compiled epoch and cost no function-pointer
call: an epoch kernel over a sum layer is specialised for one loss and
inlines its function alone; the other kernels select it by code at run time
(both through ``builtin_loss``).  ``skvectorflow.losses`` exposes each one in
callback form as well.

Targets are encoded by the estimator: regression targets as values; binary
classification as 0/1; multiclass as the class index (a float holding an
integer), one target per row; survival as two targets per row, the observed
time and the event indicator (1 if the event was observed, 0 if censored).

``LOSS_SIGNATURE`` is the contract's compiled type.  Kernels receive a user
callback as an argument of ``LOSS_FUNCTION_TYPE``: one declared first-class
function type, so a kernel compiles once, whatever callback it is given, and
Numba's cache serves it to every process.
"""

import math

import numba
import numpy as np
from numba import types

from .compilation import KernelOnFirstUse
from .network import FLOAT_1D, READONLY_FLOAT_1D, READONLY_FLOAT_2D

LOSS_SIGNATURE = types.float32(FLOAT_1D, FLOAT_1D, FLOAT_1D, FLOAT_1D)
LOSS_FUNCTION_TYPE = types.FunctionType(LOSS_SIGNATURE)

SQUARED_ERROR = 0
HUBER = 1
POISSON = 2
BINARY_LOG_LOSS = 3
MULTINOMIAL_LOG_LOSS = 4
HINGE = 5
EXPONENTIAL_SURVIVAL = 6
# Losses of a whole query (see ``ranking``): the epoch dispatches them to
# ``ranking.query_loss``, which needs per-thread scratch and a seed.
RANK_PAIRWISE = 7
RANK_LAMBDARANK = 8
RANK_SOFTMAX = 9
FIRST_QUERY_LOSS = RANK_PAIRWISE

# exp() of a larger log-rate overflows float32; rates are clipped there, and
# the loss stays finite and its gradient bounded.
MAX_EXP_ARGUMENT = 30.0


@numba.njit(nogil=True, cache=True, inline="always")
def _log1p_exp(z):
    """``log(1 + exp(z))`` without overflow."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@numba.njit(nogil=True, cache=True, inline="always")
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# Every built-in loss below has the contract's arguments plus the unit's
# shape and Huber's threshold: ``(pred, target, weight, grad, n_rows,
# n_outputs, n_targets, huber_delta)``.  It writes the gradient of the
# weighted loss with respect to ``pred`` into ``grad`` and returns the loss
# summed over the unit's rows, ``sum_r weight[r] * loss(pred[r], target[r])``.
# Each is its own function so that an epoch kernel specialised for one loss
# (``hogwild._make_train_blocks``) inlines that loss and no other
# (``builtin_loss``).


@numba.njit(nogil=True, cache=True, inline="always")
def squared_error_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``0.5 * sum_o (p_o - y_o)**2`` per row."""
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        for o in range(n_outputs):
            residual = pred[r * n_outputs + o] - target[r * n_targets + o]
            total += 0.5 * w * residual * residual
            grad[r * n_outputs + o] = w * residual
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def huber_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``0.5 r**2`` if ``|r| <= delta`` else ``delta * (|r| - delta / 2)``, per output.

    ``r = p - y`` and ``delta`` is ``huber_delta``.
    """
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        for o in range(n_outputs):
            residual = pred[r * n_outputs + o] - target[r * n_targets + o]
            if abs(residual) <= huber_delta:
                total += 0.5 * w * residual * residual
                grad[r * n_outputs + o] = w * residual
            else:
                total += w * huber_delta * (abs(residual) - 0.5 * huber_delta)
                grad[r * n_outputs + o] = w * huber_delta * (1.0 if residual > 0.0 else -1.0)
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def poisson_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``exp(p) - y * p`` per output (``p`` is the log of the mean)."""
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        for o in range(n_outputs):
            log_mean = min(pred[r * n_outputs + o], MAX_EXP_ARGUMENT)
            mean = math.exp(log_mean)
            y = target[r * n_targets + o]
            total += w * (mean - y * log_mean)
            grad[r * n_outputs + o] = w * (mean - y)
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def binary_log_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``log(1 + exp(p)) - y * p`` of one logit against a 0/1 target."""
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        z = pred[r * n_outputs]
        y = target[r * n_targets]
        total += w * (_log1p_exp(z) - y * z)
        grad[r * n_outputs] = w * (_sigmoid(z) - y)
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def multinomial_log_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``logsumexp(p) - p_y`` of the logits against the class index ``y``."""
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        base = r * n_outputs
        label = int(target[r * n_targets])
        largest = pred[base]
        for o in range(1, n_outputs):
            largest = max(largest, pred[base + o])
        norm = 0.0
        for o in range(n_outputs):
            norm += math.exp(pred[base + o] - largest)
        log_norm = largest + math.log(norm)
        total += w * (log_norm - pred[base + label])
        for o in range(n_outputs):
            p = math.exp(pred[base + o] - log_norm)
            grad[base + o] = w * (p - (1.0 if o == label else 0.0))
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def hinge_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``max(0, 1 - s * p_o)`` per output, one-vs-rest against the class index ``y``.

    ``s = +1`` for the row's class (or ``y = 1`` with one output), ``-1``
    otherwise.
    """
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        label = int(target[r * n_targets])
        for o in range(n_outputs):
            positive = label == 1 if n_outputs == 1 else o == label
            sign = 1.0 if positive else -1.0
            margin = sign * pred[r * n_outputs + o]
            if margin < 1.0:
                total += w * (1.0 - margin)
                grad[r * n_outputs + o] = -w * sign
            else:
                grad[r * n_outputs + o] = 0.0
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def exponential_survival_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """``t * exp(p) - d * p``: the negative log-likelihood of an exponential time to event.

    ``p`` is the log-rate; the targets are ``(t, d)``, the observed time and
    the event indicator.  A censored row (``d = 0``) contributes its survival
    term ``t * exp(p)`` only.
    """
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        log_rate = min(pred[r * n_outputs], MAX_EXP_ARGUMENT)
        time = target[r * n_targets]
        event = target[r * n_targets + 1]
        cumulative_hazard = time * math.exp(log_rate)
        total += w * (cumulative_hazard - event * log_rate)
        grad[r * n_outputs] = w * (cumulative_hazard - event)
    return total


@numba.njit(nogil=True, cache=True, inline="always")
def builtin_loss(code, pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """Weighted loss of one unit by the built-in ``code``, and its gradient with respect to ``pred``.

    Parameters
    ----------
    code : int
        One of the module's loss codes.
    pred : float32[::1], length >= n_rows * n_outputs
    target : float32[::1], length >= n_rows * n_targets
    weight : float32[::1], length >= n_rows
    grad : float32[::1], length >= n_rows * n_outputs; written
    n_rows, n_outputs, n_targets : int
    huber_delta : float
        Threshold of the Huber loss on the residual.

    Returns
    -------
    loss : float
        ``sum_r weight[r] * loss(pred[r], target[r])``.

    Notes
    -----
    Each loss's formula is in its function's docstring.  Called with a
    constant ``code`` (an epoch kernel specialised for one loss), it inlines
    that loss's function alone: Numba prunes the other branches first.
    Losses with ``exp`` clip its argument at ``MAX_EXP_ARGUMENT``: beyond it
    the loss and the gradient are those of the clip point (the gradient still
    pushes the output down), so a hot row never overflows into a NaN.
    """
    if code == SQUARED_ERROR:
        return squared_error_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta)
    if code == HUBER:
        return huber_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta)
    if code == POISSON:
        return poisson_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta)
    if code == BINARY_LOG_LOSS:
        return binary_log_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta)
    if code == MULTINOMIAL_LOG_LOSS:
        return multinomial_log_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta)
    if code == EXPONENTIAL_SURVIVAL:
        return exponential_survival_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets,
                                         huber_delta)
    return hinge_loss(pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta)


def _no_loss_callback(pred, target, weight, grad):
    """Placeholder passed as the callback when a built-in loss is used (never called)."""
    return np.float32(0.0)


no_loss_callback = KernelOnFirstUse(_no_loss_callback, lambda: LOSS_SIGNATURE)


@numba.njit(nogil=True, cache=True, inline="always")
def callback_loss(callback, pred, target, weight, grad, n_rows, n_outputs, n_targets):
    """Loss of one unit by the user's ``callback``, which sees exact-length slices of the buffers."""
    return float(callback(pred[: n_rows * n_outputs], target[: n_rows * n_targets],
                          weight[:n_rows], grad[: n_rows * n_outputs]))


@numba.njit(nogil=True, cache=True, inline="always")
def unit_loss(code, use_callback, callback, pred, target, weight, grad, n_rows, n_outputs,
              n_targets, huber_delta):
    """Loss of one unit by the built-in ``code``, or by ``callback`` if ``use_callback``."""
    if use_callback:
        return callback_loss(callback, pred, target, weight, grad, n_rows, n_outputs, n_targets)
    return builtin_loss(code, pred, target, weight, grad, n_rows, n_outputs, n_targets,
                        huber_delta)


# The unit losses an epoch kernel is specialised for: a built-in's code, or
# one of these.
CALLBACK_LOSS = -1  # the user's ``loss_callback``
QUERY_LOSSES = -2  # a built-in query loss, chosen at run time (``ranking.query_loss``)
ANY_LOSS = -3  # the fit's built-in loss or callback, chosen at run time (``unit_loss``)
KERNEL_LOSS_NAMES = {
    SQUARED_ERROR: "squared_error",
    HUBER: "huber",
    POISSON: "poisson",
    BINARY_LOG_LOSS: "binary_log_loss",
    MULTINOMIAL_LOG_LOSS: "multinomial_log_loss",
    HINGE: "hinge",
    EXPONENTIAL_SURVIVAL: "exponential_survival",
    CALLBACK_LOSS: "callback",
    QUERY_LOSSES: "queries",
    ANY_LOSS: "any loss",
}


# Rows sampled to fit the constant model, and its Newton iterations.
CONSTANT_MODEL_MAX_ROWS = 20000
CONSTANT_MODEL_ITERATIONS = 40
# Largest change of the constant outputs in one iteration (a trust region:
# the curvature of exp-type losses far from their optimum understates the step).
CONSTANT_MODEL_MAX_STEP = 4.0


@numba.njit(nogil=True, cache=True)
def _mean_gradient(code, use_callback, callback, targets, sample_weight, rows_step, constant,
                   pred, grad, target, weight, huber_delta, mean_grad):
    """Weighted mean gradient of the loss at the constant outputs; False if not finite."""
    n_outputs = pred.shape[0]
    n_targets = targets.shape[1]
    for o in range(n_outputs):
        mean_grad[o] = 0.0
    total_weight = 0.0
    for row in range(0, targets.shape[0], rows_step):
        for o in range(n_outputs):
            pred[o] = constant[o]
        for t in range(n_targets):
            target[t] = targets[row, t]
        weight[0] = sample_weight[row]
        loss = unit_loss(code, use_callback, callback, pred, target, weight, grad, 1, n_outputs,
                         n_targets, huber_delta)
        if not math.isfinite(loss):
            return False
        for o in range(n_outputs):
            if not math.isfinite(grad[o]):
                return False
            mean_grad[o] += grad[o]
        total_weight += sample_weight[row]
    if total_weight <= 0.0:
        return False
    for o in range(n_outputs):
        mean_grad[o] /= total_weight
    return True


def _fit_constant_outputs(code, use_callback, callback, targets, sample_weight, n_outputs,
                          huber_delta):
    """Constant outputs minimising the weighted mean loss: the null model.

    Newton's method along the gradient direction, with the curvature measured
    by a finite difference of the loss's own gradient, so it serves built-in
    losses and user callbacks alike (for squared error it is the weighted
    mean in one step; for the exponential survival likelihood it reaches
    ``log(sum(w d) / sum(w t))``).  Uses at most ``CONSTANT_MODEL_MAX_ROWS``
    evenly spaced rows; returns zeros for a loss with no curvature (hinge)
    and stops at the last finite point if the loss overflows.

    Parameters
    ----------
    code, use_callback, callback
        The loss, as for ``unit_loss``.
    targets : float32[:, ::1], shape (n_rows, n_targets)
    sample_weight : float32[::1]
    n_outputs : int
    huber_delta : float

    Returns
    -------
    constant : float32[::1], shape (n_outputs,)
    """
    n_targets = targets.shape[1]
    rows_step = max(1, targets.shape[0] // CONSTANT_MODEL_MAX_ROWS)
    constant = np.zeros(n_outputs, dtype=np.float64)
    trial = np.zeros(n_outputs, dtype=np.float64)
    pred = np.zeros(n_outputs, dtype=np.float32)
    grad = np.zeros(n_outputs, dtype=np.float32)
    target = np.zeros(n_targets, dtype=np.float32)
    weight = np.zeros(1, dtype=np.float32)
    gradient = np.zeros(n_outputs, dtype=np.float64)
    shifted = np.zeros(n_outputs, dtype=np.float64)
    for _ in range(CONSTANT_MODEL_ITERATIONS):
        if not _mean_gradient(code, use_callback, callback, targets, sample_weight, rows_step,
                              constant, pred, grad, target, weight, huber_delta, gradient):
            break
        norm = math.sqrt(np.sum(gradient * gradient))
        if norm < 1e-7:
            break
        epsilon = 1e-3 * max(1.0, math.sqrt(np.sum(constant * constant)))
        for o in range(n_outputs):
            trial[o] = constant[o] - epsilon * gradient[o] / norm
        if not _mean_gradient(code, use_callback, callback, targets, sample_weight, rows_step,
                              trial, pred, grad, target, weight, huber_delta, shifted):
            break
        # Curvature along the descent direction u = -gradient / norm.
        curvature = 0.0
        for o in range(n_outputs):
            curvature += (shifted[o] - gradient[o]) * (-gradient[o] / norm)
        curvature /= epsilon
        if curvature <= 1e-12:
            break
        step = min(norm / curvature, CONSTANT_MODEL_MAX_STEP)
        for o in range(n_outputs):
            constant[o] -= step * gradient[o] / norm
        if step < 1e-7:
            break
    return constant.astype(np.float32)


def closed_form_constant_outputs(code, targets, sample_weight, n_outputs):
    """The null model of a built-in loss in closed form, or None where it has none here.

    The minimiser of the weighted mean loss over constant outputs, as
    ``fit_constant_outputs`` finds it by Newton's method on the same evenly
    spaced rows (at most ``CONSTANT_MODEL_MAX_ROWS``, which also keeps the
    float64 copies small), computed with NumPy: the weighted mean (squared
    error), the log of the weighted mean (Poisson), the prior log-odds
    (binary log loss), the centred log priors (multinomial log loss; softmax
    ignores a common shift, and Newton's method from zero keeps the outputs
    centred), zeros (hinge, which has no curvature to step on).  None for
    Huber, for a minimiser at infinity (a class, or a non-zero count, that no
    weighted row has) and for zero total weight: the caller then runs
    ``fit_constant_outputs``.  Needing no compiled code, it spares a first
    fit that kernel's compilation.

    Parameters
    ----------
    code : int
        A built-in loss code.
    targets : float32[:, ::1], shape (n_rows, n_targets)
    sample_weight : float32[::1]
    n_outputs : int

    Returns
    -------
    constant : float32 ndarray of shape (n_outputs,), or None
    """
    rows_step = max(1, targets.shape[0] // CONSTANT_MODEL_MAX_ROWS)
    targets = targets[::rows_step]
    weight = np.asarray(sample_weight[::rows_step], dtype=np.float64)
    total_weight = weight.sum()
    if code == HINGE:
        return np.zeros(n_outputs, dtype=np.float32)
    if not total_weight > 0.0:
        return None
    if code in (SQUARED_ERROR, POISSON):
        mean = weight @ targets.astype(np.float64) / total_weight
        if code == SQUARED_ERROR:
            return mean.astype(np.float32)
        return np.log(mean).astype(np.float32) if np.all(mean > 0.0) else None
    if code == BINARY_LOG_LOSS:
        positive = float(weight @ targets[:, 0].astype(np.float64)) / total_weight
        return (np.full(1, math.log(positive / (1.0 - positive)), dtype=np.float32)
                if 0.0 < positive < 1.0 else None)
    if code == MULTINOMIAL_LOG_LOSS:
        priors = np.bincount(targets[:, 0].astype(np.intp), weights=weight, minlength=n_outputs)
        if priors.size != n_outputs or not np.all(priors > 0.0):
            return None
        log_priors = np.log(priors / total_weight)
        return (log_priors - log_priors.mean()).astype(np.float32)
    return None


fit_constant_outputs = KernelOnFirstUse(
    _fit_constant_outputs,
    lambda: FLOAT_1D(types.int64, types.boolean, LOSS_FUNCTION_TYPE, READONLY_FLOAT_2D,
                     READONLY_FLOAT_1D, types.int64, types.float32),
)
