"""L1 and L2 penalties on every input-table weight at every step, applied lazily.

What the penalty means
----------------------
``alpha`` (L2) and ``l1`` act as in scikit-learn's ``SGDClassifier``: every
weight of the input table is shrunk at every optimizer step, whether or not
the step's rows contain its feature.  Step ``s`` moves a weight ``w`` along

.. math::

    \\frac{dw}{d\\tau} = -\\alpha w - l_1 \\operatorname{sign}(w)

for an amount of "time" :math:`\\tau_s = \\eta_s \\, r`, where
:math:`\\eta_s` is the schedule's learning rate at step ``s`` and ``r`` the
coordinate's own rate factor: 1 for SGD and
Adam, :math:`1 / (\\sqrt{G} + \\epsilon)` for AdaGrad and row-wise AdaGrad
(``G`` the weight's or row's accumulator; a weight with no gradient yet,
``G = 0``, has no AdaGrad rate and keeps its initial value).  The flow stops at 0 (L1 sets
weights exactly to zero) and has the closed form

.. math::

    w(\\tau) = \\operatorname{sign}(w_0) \\max\\Big(0, \\big(|w_0| + \\tfrac{l_1}{\\alpha}\\big)
        e^{-\\alpha \\tau} - \\tfrac{l_1}{\\alpha}\\Big)

(:math:`|w_0| - l_1 \\tau` when :math:`\\alpha = 0`).  To first order in
:math:`\\eta_s \\alpha` one step is scikit-learn's ``w *= 1 - eta * alpha``
followed by its L1 truncation by ``eta * l1``; unlike that product it never
overshoots zero when ``eta * alpha > 1``.

The penalty is a proximal step: it does not enter the gradient, so AdaGrad's
accumulators sum squared *data* gradients only, and between two touches of a
row its rate factor is constant.  For Adam this is decoupled weight decay
(AdamW, Loshchilov and Hutter 2019) at the schedule's rate, without Adam's
bias correction or its division by the second moment.

Why lazily, and how
-------------------
Shrinking the whole table at every step would cost a pass over
``n_features`` rows per step.  Instead each row records, in its last column,
the global step up to which it is current (an int32 stored in the float32
table's bits, ``missed_rate``).  When a step touches a row, the row first
catches up on the steps it missed, takes its gradient step, and then this
step's penalty (the proximal order, so that L1 leaves exact zeros): the flows of consecutive steps compose
(:math:`w(\\tau_1 + \\tau_2) = w(\\tau_2)` started from :math:`w(\\tau_1)`),
so the missed steps cost one closed form over
:math:`\\sum \\eta_s = H(s) - H(s_0)`, with ``H`` the schedule's cumulative
rate (``cumulative_rate``), O(1) per touched row.  Applying the penalty to
every row at every step (an eager reference) gives the same weights to
float rounding; ``tests/test_engine_optimizers.py`` checks that for every
optimizer with L1 and L2.  ``bring_rows_current`` brings every row up to a
step at the end of each epoch, so fitted coefficients, predictions and
pickles never depend on when a row was last touched.

Why it matters: penalising only touched rows makes the penalty proportional
to a feature's frequency, so the rare features, the ones that over-fit, are
never regularised.

Dense parameters (biases excepted) are touched at every step and keep the
plain form: ``alpha * w`` is a term of their gradient and L1 a proximal step
of ``l1`` times the step size (``dense_penalties``).  Biases are never
penalised.
"""

import math

import numba
import numpy as np

from .learning_rate import INVSCALING

# Below this step, the schedule's cumulative rate under ``invscaling`` is an
# exact sum; above it, the Euler-Maclaurin expansion with three correction
# terms is exact to float64 rounding (the next term is ~1e-12 here).
_EXACT_SUM_STEPS = 32

# Global steps a stamp can count.  An int32 stamp read as float32 (the
# table's dtype) is a finite number below 0x7F800000, so a finiteness check
# of the whole table never mistakes a stamp for a NaN.
MAX_PENALTY_STEPS = 2_000_000_000


@numba.njit(nogil=True, cache=True, inline="always")
def soft_threshold(weight, threshold):
    """``weight`` moved ``threshold`` towards 0, stopping at 0."""
    if weight > threshold:
        return weight - threshold
    if weight < -threshold:
        return weight + threshold
    return 0.0


@numba.njit(nogil=True, cache=True, inline="always")
def dense_penalties(config, penalised):
    """L2 and L1 strengths of a dense segment, as float32: zeros for a bias (``penalised`` False)."""
    if penalised:
        return np.float32(config.alpha), np.float32(config.l1)
    return np.float32(0.0), np.float32(0.0)


@numba.njit(nogil=True, cache=True, inline="always")
def _power_sum_tail(n, power):
    """``F(n)``: the Euler-Maclaurin form of ``sum_{s <= n} s**-power``, up to a constant.

    ``F(b) - F(a)`` equals ``sum_{a < s <= b} s**-power`` for ``a >= _EXACT_SUM_STEPS``.
    """
    x = float(n)
    if power == 1.0:
        integral = math.log(x)
    else:
        integral = math.pow(x, 1.0 - power) / (1.0 - power)
    f = math.pow(x, -power)
    return (integral + 0.5 * f - power * f / (12.0 * x)
            + power * (power + 1.0) * (power + 2.0) * f / (720.0 * x * x * x))


@numba.njit(nogil=True, cache=True)
def cumulative_rate(config, step):
    """The schedule's learning rates summed over steps ``1..step``, up to a constant.

    Only differences of this clock are used (the rate summed over the steps
    a row missed), so it may be offset by a constant: under ``invscaling``
    it is ``learning_rate * F(step)`` (see ``_power_sum_tail``), an exact sum
    below ``_EXACT_SUM_STEPS`` steps.  Float64 throughout: a clock in
    float32 would lose the rate of one step once it passes ~1e7 steps.
    """
    rate = float(config.learning_rate)
    if config.learning_rate_schedule != INVSCALING:
        return rate * float(step)
    power = float(config.power_t)
    if step >= _EXACT_SUM_STEPS:
        return rate * _power_sum_tail(step, power)
    missing = 0.0
    for s in range(max(step, 0) + 1, _EXACT_SUM_STEPS + 1):
        missing += math.pow(float(s), -power)
    return rate * (_power_sum_tail(_EXACT_SUM_STEPS, power) - missing)


@numba.njit(nogil=True, cache=True, inline="always")
def penalty_flow(weight, tau, alpha, l1):
    """``weight`` after the L1 + L2 flow for time ``tau`` (see the module docstring)."""
    if l1 == 0.0:
        return weight * math.exp(-alpha * tau)
    if alpha == 0.0:
        return soft_threshold(weight, l1 * tau)
    offset = l1 / alpha
    magnitude = (abs(weight) + offset) * math.exp(-alpha * tau) - offset
    if magnitude <= 0.0:
        return 0.0
    return magnitude if weight > 0.0 else -magnitude


@numba.njit(nogil=True, cache=True, inline="always")
def missed_rate(stamps, feature, step, clock, config):
    """The schedule's rate summed over the steps row ``feature`` missed, up to ``step``; stamps it.

    Parameters
    ----------
    stamps : int32[:, ::1]
        The input table's bits as int32 (``input_table.view(np.int32)``);
        the row's stamp is changed in place.
    feature, step : int
    clock : float
        ``cumulative_rate(config, step)``.
    config : TrainConfig

    Returns
    -------
    elapsed : float
        0 when the row is already current.
    """
    column = stamps.shape[1] - 1
    last = stamps[feature, column]
    if last >= step:
        # Hogwild threads number their steps in turn: a row another thread
        # stamped a step or two ahead has nothing to catch up.
        return 0.0
    stamps[feature, column] = step
    return clock - cumulative_rate(config, last)


@numba.njit(nogil=True, cache=True, inline="always")
def shrink_row(input_table, feature, n_weights, tau, config):
    """The penalty flow for time ``tau`` on weights ``0 .. n_weights - 1`` of row ``feature``."""
    alpha = float(config.alpha)
    l1 = float(config.l1)
    if l1 == 0.0:
        # One exp for the row, not one per weight.
        decay = np.float32(math.exp(-alpha * tau))
        for c in range(n_weights):
            input_table[feature, c] *= decay
        return
    for c in range(n_weights):
        input_table[feature, c] = penalty_flow(float(input_table[feature, c]), tau, alpha, l1)


@numba.njit(nogil=True, cache=True, inline="always")
def penalty_active(config):
    """Whether the input table is penalised at all (skips the stamps when not)."""
    return config.alpha > 0.0 or config.l1 > 0.0
