"""Losses: the built-ins and the ``loss_callback`` contract.

The contract
------------
A loss callback is a function ``f(pred, target, weight, grad) -> loss`` over
the float32 arrays of one *work unit* (one row for the MLP estimators):

``pred`` : float32 array of length ``n_rows * n_outputs``
    The network's raw (linear) outputs for the unit's rows, row-major.
``target`` : float32 array of length ``n_rows * n_targets``
    The encoded targets of those rows (values for regression, 0/1 for binary
    classification, the class index for multiclass).
``weight`` : float32 array of length ``n_rows``
    Their sample weights.
``grad`` : float32 array, same length as ``pred``
    To be filled with the gradient of the returned loss with respect to
    ``pred``.  The engine skips the backward pass when it is all zero.

It returns the unit's weighted loss as a float32; the training loss reported
in ``loss_curve_`` is its sum over an epoch divided by the summed weights.  A
loss or gradient that is not finite stops training with an error naming the
callback.

The function must be compilable by ``numba.njit`` in nopython mode (numpy
arithmetic, ``math``, loops; no Python objects).  It is compiled once per
process, the first time an estimator fits with it; a function Numba cannot
compile is reported as a ``TypeError`` before anything is trained.  Write it as
a module-level ``def`` so that estimators holding it can be pickled.

Example: squared error, written as a callback::

    def squared_error(pred, target, weight, grad):
        loss = 0.0
        n_outputs = pred.shape[0] // weight.shape[0]
        for i in range(pred.shape[0]):
            residual = pred[i] - target[i]
            w = weight[i // n_outputs]
            grad[i] = w * residual
            loss += 0.5 * w * residual * residual
        return np.float32(loss)

Built-in losses run inside the compiled epoch, selected by name (the
estimators' ``loss`` parameter).  Each also exists in callback form in
``BUILTIN_CALLBACKS``; passing its name as ``loss_callback`` runs it through
the callback path (useful to check a callback of your own against it).
"""

import re
import weakref

import numba
import numpy as np

from ._engine import objectives
from ._engine.objectives import LOSS_SIGNATURE

__all__ = ["LOSS_SIGNATURE", "BUILTIN_CALLBACKS", "compile_loss_callback"]

# Built-in loss codes of the engine, by the names the estimators accept.
REGRESSION_LOSSES = {
    "squared_error": objectives.SQUARED_ERROR,
    "huber": objectives.HUBER,
    "poisson": objectives.POISSON,
}

# Huber's threshold in the callback form, where the signature leaves no room
# for a parameter.
CALLBACK_HUBER_DELTA = 1.0


@numba.njit(nogil=True, cache=True)
def _builtin_as_callback(code, pred, target, weight, grad):
    n_rows = weight.shape[0]
    n_outputs = pred.shape[0] // n_rows
    n_targets = target.shape[0] // n_rows
    return np.float32(
        objectives.builtin_loss(code, pred, target, weight, grad, n_rows, n_outputs,
                                n_targets, CALLBACK_HUBER_DELTA)
    )


def squared_error(pred, target, weight, grad):
    """Squared error ``0.5 * (pred - target)**2`` in callback form."""
    return _builtin_as_callback(objectives.SQUARED_ERROR, pred, target, weight, grad)


def huber(pred, target, weight, grad):
    """Huber loss with threshold 1.0 on the residual, in callback form."""
    return _builtin_as_callback(objectives.HUBER, pred, target, weight, grad)


def poisson(pred, target, weight, grad):
    """Poisson deviance ``exp(pred) - target * pred`` (``pred`` is the log-mean), in callback form."""
    return _builtin_as_callback(objectives.POISSON, pred, target, weight, grad)


def binary_log_loss(pred, target, weight, grad):
    """Logistic loss of one logit against a 0/1 target, in callback form."""
    return _builtin_as_callback(objectives.BINARY_LOG_LOSS, pred, target, weight, grad)


def multinomial_log_loss(pred, target, weight, grad):
    """Softmax cross-entropy of the logits against a class index, in callback form."""
    return _builtin_as_callback(objectives.MULTINOMIAL_LOG_LOSS, pred, target, weight, grad)


def exponential_survival(pred, target, weight, grad):
    """Exponential survival NLL ``t * exp(pred) - d * pred`` against targets ``(t, d)``, in callback form."""
    return _builtin_as_callback(objectives.EXPONENTIAL_SURVIVAL, pred, target, weight, grad)


def hinge(pred, target, weight, grad):
    """Hinge loss (one-vs-rest over outputs), in callback form."""
    return _builtin_as_callback(objectives.HINGE, pred, target, weight, grad)


BUILTIN_CALLBACKS = {
    "squared_error": squared_error,
    "huber": huber,
    "poisson": poisson,
    "binary_log_loss": binary_log_loss,
    "multinomial_log_loss": multinomial_log_loss,
    "hinge": hinge,
    "exponential_survival": exponential_survival,
}

# Compiled callbacks, by function identity: a clone of an estimator holds the
# same function object, so a grid search compiles each callback once.
_compiled_callbacks = weakref.WeakKeyDictionary()


def _callback_name(function):
    return getattr(function, "__qualname__", None) or repr(function)


def _numba_reason(exc):
    """The informative lines of a Numba compilation error (not its generic header)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # Numba colours its messages
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [
        line for line in lines
        if not line.startswith(("Failed in nopython mode pipeline", "During:", "File ", "^", "<source"))
    ]
    return " ".join(useful[:3]) or type(exc).__name__


def compile_loss_callback(loss_callback):
    """Compile a ``loss_callback`` for the engine.

    Parameters
    ----------
    loss_callback : callable or str
        A function following the contract in this module's docstring (plain
        Python, or already decorated with ``numba.njit``), or the name of an
        entry of ``BUILTIN_CALLBACKS``.

    Returns
    -------
    compiled : numba dispatcher
        Compiled for ``LOSS_SIGNATURE``.

    Raises
    ------
    ValueError
        If a string names no built-in callback.
    TypeError
        If the function is not callable or Numba cannot compile it for the
        signature; the message names the function.
    """
    if isinstance(loss_callback, str):
        if loss_callback not in BUILTIN_CALLBACKS:
            raise ValueError(
                f"loss_callback={loss_callback!r} names no built-in loss; "
                f"expected one of {sorted(BUILTIN_CALLBACKS)} or a function."
            )
        loss_callback = BUILTIN_CALLBACKS[loss_callback]
    if not callable(loss_callback):
        raise TypeError(
            f"loss_callback must be a function f(pred, target, weight, grad) -> loss "
            f"or a built-in loss name, got {type(loss_callback).__name__}."
        )
    try:
        return _compiled_callbacks[loss_callback]
    except (KeyError, TypeError):
        pass
    if isinstance(loss_callback, numba.core.registry.CPUDispatcher):
        dispatcher = loss_callback
    else:
        dispatcher = numba.njit(nogil=True)(loss_callback)
    try:
        dispatcher.compile(LOSS_SIGNATURE)
    except Exception as exc:
        raise TypeError(
            f"loss_callback {_callback_name(loss_callback)!r} could not be compiled by Numba "
            f"for the signature f(pred: float32[::1], target: float32[::1], "
            f"weight: float32[::1], grad: float32[::1]) -> float32. Numba said: "
            f"{_numba_reason(exc)}"
        ) from exc
    try:
        _compiled_callbacks[loss_callback] = dispatcher
    except TypeError:  # not weak-referenceable: compile again next time
        pass
    return dispatcher
