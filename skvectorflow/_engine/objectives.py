"""Built-in losses of one work unit, selected by an integer code.

Every loss follows the engine's per-unit contract, the same one a user's
``loss_callback`` follows: given the network outputs ``pred`` of a unit's rows
(row-major, ``n_outputs`` per row), their targets (``n_targets`` per row) and
sample weights, it writes the gradient of the weighted loss with respect to
``pred`` into ``grad`` and returns the weighted loss summed over the unit's
rows.  The engine selects a built-in by code inside the compiled epoch, so a
built-in costs no function-pointer call; ``skvectorflow.losses`` exposes each
one in callback form as well.

Targets are encoded by the estimator: regression targets as values; binary
classification as 0/1; multiclass as the class index (a float holding an
integer), one target per row.
"""

import math

import numba

SQUARED_ERROR = 0
HUBER = 1
POISSON = 2
BINARY_LOG_LOSS = 3
MULTINOMIAL_LOG_LOSS = 4
HINGE = 5

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


@numba.njit(nogil=True, cache=True, inline="always")
def builtin_loss(code, pred, target, weight, grad, n_rows, n_outputs, n_targets, huber_delta):
    """Weighted loss of one unit and its gradient with respect to ``pred``.

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
    squared_error: ``0.5 * sum_o (p_o - y_o)**2``.
    huber: ``0.5 r**2`` if ``|r| <= delta`` else ``delta * (|r| - delta/2)``,
    per output, ``r = p - y``.
    poisson: ``exp(p) - y * p`` (``p`` is the log of the mean).
    binary log loss: ``log(1 + exp(p)) - y * p``.
    multinomial log loss: ``logsumexp(p) - p_y``.
    hinge: ``max(0, 1 - s * p_o)`` per output, ``s = +1`` for the row's class
    (or ``y = 1`` with one output), ``-1`` otherwise (one-vs-rest).
    """
    total = 0.0
    for r in range(n_rows):
        w = weight[r]
        base = r * n_outputs
        tbase = r * n_targets
        if code == SQUARED_ERROR:
            for o in range(n_outputs):
                residual = pred[base + o] - target[tbase + o]
                total += 0.5 * w * residual * residual
                grad[base + o] = w * residual
        elif code == HUBER:
            for o in range(n_outputs):
                residual = pred[base + o] - target[tbase + o]
                if abs(residual) <= huber_delta:
                    total += 0.5 * w * residual * residual
                    grad[base + o] = w * residual
                else:
                    total += w * huber_delta * (abs(residual) - 0.5 * huber_delta)
                    grad[base + o] = w * huber_delta * (1.0 if residual > 0.0 else -1.0)
        elif code == POISSON:
            for o in range(n_outputs):
                log_mean = min(pred[base + o], MAX_EXP_ARGUMENT)
                mean = math.exp(log_mean)
                total += w * (mean - target[tbase + o] * log_mean)
                grad[base + o] = w * (mean - target[tbase + o])
        elif code == BINARY_LOG_LOSS:
            z = pred[base]
            y = target[tbase]
            total += w * (_log1p_exp(z) - y * z)
            grad[base] = w * (_sigmoid(z) - y)
        elif code == MULTINOMIAL_LOG_LOSS:
            label = int(target[tbase])
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
        else:  # HINGE
            label = int(target[tbase])
            for o in range(n_outputs):
                if n_outputs == 1:
                    sign = 1.0 if label == 1 else -1.0
                else:
                    sign = 1.0 if o == label else -1.0
                margin = sign * pred[base + o]
                if margin < 1.0:
                    total += w * (1.0 - margin)
                    grad[base + o] = -w * sign
                else:
                    grad[base + o] = 0.0
    return total
