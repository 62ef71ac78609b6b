"""
Custom losses through ``loss_callback``
=======================================

Any per-row loss can train a skvectorflow model: write it as a plain Python
function ``f(pred, target, weight, grad) -> loss`` that fills ``grad`` with
the gradient of the loss with respect to the network's outputs, and pass it
as ``loss_callback``. It is compiled with Numba once per process, and the
engine calls it for every row from its GIL-free Hogwild threads.

This example writes two: the pinball loss, which turns
:class:`~skvectorflow.SparseMLPRegressor` into a quantile regressor, and the
exponential survival likelihood with right-censoring, the loss Netflix built
Vectorflow's callback API for, checked against the dedicated
:class:`~skvectorflow.SurvivalExponentialRegressor`.
"""

# %%
# The contract
# ------------
# For one row: ``pred`` holds the raw network outputs (float32, one per
# output), ``target`` the row's encoded targets, ``weight`` a one-element
# array with its sample weight, and ``grad`` is to be filled with
# d loss / d pred. The function returns the row's weighted loss as a
# float32. NumPy arithmetic, ``math`` and loops compile; Python objects do
# not. A function Numba cannot compile is reported, naming it, before
# anything is trained. See the user guide's :ref:`losses-and-the-callback`.
import math
import os

import matplotlib.pyplot as plt
import numba
import numpy as np

from skvectorflow import SparseMLPRegressor, SurvivalExponentialRegressor
from skvectorflow.datasets import make_sparse_regression, make_sparse_survival
from skvectorflow.losses import compile_loss_callback
from skvectorflow.survival import concordance_index

SMALL = bool(os.environ.get("SKVECTORFLOW_GALLERY"))
N_SAMPLES = 40_000 if SMALL else 200_000


# %%
# Quantile regression with the pinball loss
# -----------------------------------------
# The pinball loss of quantile ``tau`` is ``tau * r`` for a residual
# ``r = target - pred >= 0`` and ``(tau - 1) * r`` below; its minimiser is
# the ``tau``-quantile of the target given the features. The callback has
# no room for a parameter, so each quantile gets its own module-level
# function (a module-level ``def`` is also what lets the fitted model pickle).
# They share a helper, which Numba must compile too, hence its decorator.
@numba.njit(cache=True)
def pinball_loss(pred, target, weight, grad, tau):
    residual = target[0] - pred[0]
    if residual >= 0.0:
        grad[0] = -tau * weight[0]
        return np.float32(weight[0] * tau * residual)
    grad[0] = (1.0 - tau) * weight[0]
    return np.float32(weight[0] * (tau - 1.0) * residual)


def pinball_10(pred, target, weight, grad):
    return pinball_loss(pred, target, weight, grad, 0.1)


def pinball_50(pred, target, weight, grad):
    return pinball_loss(pred, target, weight, grad, 0.5)


def pinball_90(pred, target, weight, grad):
    return pinball_loss(pred, target, weight, grad, 0.9)


# %%
# ``compile_loss_callback`` checks a callback on its own, as ``fit`` would,
# and raises a ``TypeError`` naming it if Numba cannot compile it.
compile_loss_callback(pinball_90)

# %%
# Data whose noise depends on the features: the spread of the target grows
# with a second, hidden linear score of the row, so the quantiles are not
# the median shifted by a constant.
X, y_mean = make_sparse_regression(n_samples=N_SAMPLES, n_features=2**16, nnz_per_row=20,
                                   random_state=0)
rng = np.random.default_rng(1)
spread_score = X @ rng.standard_normal(X.shape[1])
spread = np.exp(0.5 * (spread_score - spread_score.mean()) / spread_score.std())
y = y_mean + spread * rng.standard_normal(N_SAMPLES)
n_train = int(0.8 * N_SAMPLES)

quantiles = {}
for tau, callback in [(0.1, pinball_10), (0.5, pinball_50), (0.9, pinball_90)]:
    model = SparseMLPRegressor(hidden_layer_sizes=(16,), loss_callback=callback,
                               learning_rate_init=0.05, max_iter=3, tol=None, n_jobs=-1,
                               random_state=0)
    model.fit(X[:n_train], y[:n_train])
    quantiles[tau] = model.predict(X[n_train:])
    coverage = np.mean(y[n_train:] <= quantiles[tau])
    print(f"tau={tau}: share of held-out targets below the predicted quantile {coverage:.3f}")

# %%
# The held-out rows sorted by predicted median, with the predicted 10%-90%
# band, which should hold close to 80% of the targets (three epochs leave
# the tails a little too narrow).
order = np.argsort(quantiles[0.5])[:: max(1, (N_SAMPLES - n_train) // 400)]
inside = np.mean((y[n_train:] >= quantiles[0.1]) & (y[n_train:] <= quantiles[0.9]))
fig, ax = plt.subplots(figsize=(8, 4))
position = np.arange(order.shape[0])
ax.fill_between(position, quantiles[0.1][order], quantiles[0.9][order], alpha=0.3,
                label=f"predicted 10%-90% band ({inside:.0%} of targets inside)")
ax.plot(position, quantiles[0.5][order], "k-", label="predicted median")
ax.plot(position, y[n_train:][order], ".", markersize=3, color="tab:red",
        label="held-out target")
ax.set_xlabel("held-out rows, by predicted median")
ax.set_ylabel("target")
ax.legend()
fig.tight_layout()
plt.show()


# %%
# The exponential survival likelihood
# -----------------------------------
# With a log hazard rate ``eta = pred[0]``, an event indicator ``d`` and a
# time ``t``, the negative log-likelihood of the exponential model with
# right-censoring is ``w * (t * exp(eta) - d * eta)`` and its gradient is
# ``w * (t * exp(eta) - d)``. The regressor takes the target as two columns
# ``(t, d)`` and so has two outputs; the callback uses the first and sets
# the gradient of the second to zero.
def exponential_survival_nll(pred, target, weight, grad):
    eta = min(pred[0], 30.0)  # keeps exp() finite on a hot row
    time, event = target[0], target[1]
    rate = math.exp(eta)
    grad[0] = weight[0] * (time * rate - event)
    grad[1] = 0.0
    return np.float32(weight[0] * (time * rate - event * eta))


X, y = make_sparse_survival(n_samples=N_SAMPLES, n_features=2**16, random_state=0)
X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]
params = {"hidden_layer_sizes": (), "learning_rate_init": 0.05, "max_iter": 5, "tol": None,
          "n_jobs": -1, "random_state": 0}
callback_model = SparseMLPRegressor(loss_callback=exponential_survival_nll, **params)
callback_model.fit(X_train, np.column_stack([y_train["time"], y_train["event"]]))
builtin_model = SurvivalExponentialRegressor(**params).fit(X_train, y_train)

log_rate_callback = callback_model.predict(X_test)[:, 0]
log_rate_builtin = np.log(builtin_model.predict_rate(X_test))
print(f"held-out C-index, callback in SparseMLPRegressor: "
      f"{concordance_index(y_test, np.exp(-log_rate_callback)):.4f}")
print(f"held-out C-index, SurvivalExponentialRegressor:   {builtin_model.score(X_test, y_test):.4f}")

# %%
# Both fit the same likelihood and learn nearly the same log-rates; they
# differ only where the built-in estimator starts its bias at the null
# model's rate and the regressor at zero. The dedicated estimator adds what
# the callback cannot: the structured target of scikit-survival, scoring by
# concordance, and survival functions (see :doc:`/survival`).
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot(log_rate_builtin, log_rate_callback, ".", markersize=2, alpha=0.5)
limits = [min(log_rate_builtin.min(), log_rate_callback.min()),
          max(log_rate_builtin.max(), log_rate_callback.max())]
ax.plot(limits, limits, "k:", linewidth=1)
ax.set_xlabel("log rate, SurvivalExponentialRegressor")
ax.set_ylabel("log rate, loss_callback in SparseMLPRegressor")
ax.set_title("Same likelihood, two ways")
fig.tight_layout()
plt.show()
