"""Update rules of the engine against NumPy references, step by step."""

import numpy as np
import pytest

from skvectorflow._engine import hogwild, optimizers

H0 = 3
ALPHA = 0.01
L1 = 0.02
EPS = 1e-8
BETA_1, BETA_2 = 0.9, 0.999


def config_for(optimizer, schedule="constant", l1=L1, rate=0.1):
    return hogwild.make_train_config(
        loss=0, use_callback=0, activation=0, optimizer=optimizers.OPTIMIZER_CODES[optimizer],
        learning_rate_schedule=optimizers.LEARNING_RATE_CODES[schedule], learning_rate=rate,
        power_t=0.5, alpha=ALPHA, l1=l1, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPS,
        huber_delta=1.0, batch_size=1, n_outputs=1, n_targets=1)


def soft_threshold(w, t):
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


def penalty_flow(w, tau, alpha, l1):
    """Float64 reference of ``regularization.penalty_flow``."""
    if alpha == 0.0:
        return soft_threshold(w, l1 * tau)
    offset = l1 / alpha
    return np.sign(w) * np.maximum((np.abs(w) + offset) * np.exp(-alpha * tau) - offset, 0.0)


def schedule_rate(schedule, rate, t):
    return rate / t**0.5 if schedule == "invscaling" else rate


class EagerTable:
    """Float64 reference of the input table's updates, the penalty on every row at every step.

    ``discrete=True`` applies the penalty as scikit-learn's SGD does,
    ``w *= 1 - eta * alpha`` then L1's truncation by ``eta * l1``, where
    ``eta`` is the coordinate's rate; otherwise the exact flow of one step.
    """

    def __init__(self, optimizer, weights, schedule, rate, l1, discrete=False):
        self.optimizer, self.schedule, self.rate, self.l1 = optimizer, schedule, rate, l1
        self.discrete = discrete
        self.w = weights.astype(np.float64).copy()
        self.acc = np.zeros_like(self.w)
        self.row_acc = np.zeros(self.w.shape[0])
        self.m = np.zeros_like(self.w)
        self.v = np.zeros_like(self.w)

    def penalty_factor(self):
        """Each weight's rate factor for the penalty (1, or its AdaGrad divisor)."""
        # AdaGrad: no rate before a weight's first gradient.
        if self.optimizer == "adagrad":
            return np.where(self.acc > 0, 1.0 / (np.sqrt(self.acc) + EPS), 0.0)
        if self.optimizer == "rowwise_adagrad":
            factor = np.where(self.row_acc > 0, 1.0 / (np.sqrt(self.row_acc) + EPS), 0.0)
            return np.broadcast_to(factor[:, None], self.w.shape)
        return np.ones_like(self.w)

    def step(self, t, touched, grads, scale):
        eta = schedule_rate(self.schedule, self.rate, t)
        for row, grad in zip(touched, grads):
            g = scale * grad
            if self.optimizer == "sgd":
                self.w[row] -= eta * g
            elif self.optimizer == "adagrad":
                self.acc[row] += g * g
                self.w[row] -= eta * g / (np.sqrt(self.acc[row]) + EPS)
            elif self.optimizer == "rowwise_adagrad":
                self.row_acc[row] += np.mean(g * g)
                self.w[row] -= eta / (np.sqrt(self.row_acc[row]) + EPS) * g
            else:
                self.m[row] = BETA_1 * self.m[row] + (1 - BETA_1) * g
                self.v[row] = BETA_2 * self.v[row] + (1 - BETA_2) * g * g
                corrected = eta * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
                self.w[row] -= corrected / (np.sqrt(self.v[row]) + EPS) * self.m[row]
        # The penalty after the gradient step (proximal), on every row.
        tau = eta * self.penalty_factor()
        if self.discrete:
            self.w = soft_threshold(self.w * (1.0 - tau * ALPHA), tau * self.l1)
        else:
            self.w = penalty_flow(self.w, tau, ALPHA, self.l1)


def run_lazy_and_eager(optimizer, schedule, l1, n_steps, discrete=False, rate=0.1):
    """The engine's lazy updates and the eager reference on one random sequence of sparse steps."""
    rng = np.random.default_rng(17)
    n_rows = 6
    code = optimizers.OPTIMIZER_CODES[optimizer]
    table = np.zeros((n_rows, H0 + optimizers.input_state_width(code, H0)), np.float32)
    table[:, :H0] = rng.normal(size=(n_rows, H0))
    eager = EagerTable(optimizer, table[:, :H0], schedule, rate, l1, discrete)
    config = config_for(optimizer, schedule=schedule, l1=l1, rate=rate)
    rules = optimizers.OPTIMIZER_RULES[code]
    scales = np.full(n_rows, 0.7, np.float32)
    for step in range(1, n_steps + 1):
        # Rows 0-1 are frequent, the others rare; row 5 is never touched.
        touched = np.flatnonzero(rng.random(n_rows) < [0.9, 0.6, 0.1, 0.05, 0.02, 0.0]).astype(np.int32)
        grads = rng.normal(size=(max(touched.size, 1), H0)).astype(np.float32)
        if touched.size:
            rules.input_rows(table, touched, scales, 0, touched.size, H0, grads, 0,
                             rules.step_rate(config, step), step, config) if touched.size == 1 else [
                rules.input_rows(table, touched, scales, k, k + 1, H0, grads, k,
                                 rules.step_rate(config, step), step, config)
                for k in range(touched.size)]
        eager.step(step, touched, grads[:touched.size].astype(np.float64), 0.7)
    optimizers.CATCH_UP_ROWS[code](table, 0, n_rows, H0, n_steps, config)
    return table, eager


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
@pytest.mark.parametrize("schedule", ["constant", "invscaling"])
@pytest.mark.parametrize("l1", [0.0, L1])
def test_lazy_penalty_equals_penalty_on_every_row_at_every_step(optimizer, schedule, l1):
    # 80 steps: invscaling's cumulative rate crosses from its exact sum to
    # its Euler-Maclaurin form (32 steps).
    table, eager = run_lazy_and_eager(optimizer, schedule, l1, n_steps=80)
    np.testing.assert_allclose(table[:, :H0], eager.w, rtol=2e-5, atol=2e-6)
    # Every row is current; the rare ones were shrunk although rarely touched.
    assert np.all(table.view(np.int32)[:, -1] == 80)
    start = np.random.default_rng(17).normal(size=(6, H0))
    never_touched = np.abs(table[5, :H0])
    if optimizer in ("sgd", "adam"):
        assert np.all(never_touched < np.abs(start[5]))
    else:
        # AdaGrad has no rate for a weight before its first gradient.
        np.testing.assert_array_equal(table[5, :H0], start[5].astype(np.float32))


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
@pytest.mark.parametrize("l1", [0.0, L1])
def test_lazy_penalty_is_scikit_learns_penalty_to_first_order(optimizer, l1):
    # scikit-learn's SGD shrinks w by (1 - eta * alpha) and truncates by
    # eta * l1 at every step; the closed form differs at O((eta * alpha)^2).
    table, eager = run_lazy_and_eager(optimizer, "constant", l1, n_steps=60, discrete=True, rate=0.05)
    # The old touched-rows-only penalty misses by ~3% on the rare rows.
    np.testing.assert_allclose(table[:, :H0], eager.w, rtol=1e-4, atol=5e-5)


def test_cumulative_rate_sums_the_schedule():
    from skvectorflow._engine.optimizers.regularization import cumulative_rate

    config = config_for("sgd", schedule="invscaling", rate=0.2)
    rate = float(np.float32(0.2))  # the config's float32 learning rate
    exact = np.cumsum(rate / np.arange(1, 3001) ** 0.5)
    clock = np.array([cumulative_rate(config, s) for s in range(0, 3001)])
    # Only differences are used: the clock may be offset by a constant.
    np.testing.assert_allclose(clock[1:] - clock[0], exact, rtol=1e-9)
    np.testing.assert_allclose(np.diff(clock)[[0, 31, 32, 999]], rate / np.array([1, 32, 33, 1000]) ** 0.5,
                               rtol=1e-7)
    constant = config_for("sgd", rate=0.2)
    assert cumulative_rate(constant, 7) - cumulative_rate(constant, 3) == pytest.approx(0.8, rel=1e-6)


def test_penalty_flow_stops_at_zero_and_composes():
    from skvectorflow._engine.optimizers.regularization import penalty_flow as flow

    for w in (0.8, -0.3, 0.0):
        for alpha, l1 in ((0.5, 0.0), (0.0, 0.2), (0.5, 0.2)):
            once = flow(w, 1.5, alpha, l1)
            twice = flow(flow(w, 0.4, alpha, l1), 1.1, alpha, l1)
            assert once == pytest.approx(twice, abs=1e-12)
            assert once == pytest.approx(penalty_flow(np.float64(w), 1.5, alpha, l1), abs=1e-12)
            assert abs(once) <= abs(w) and (once == 0.0 or np.sign(once) == np.sign(w))
    # L1 reaches zero in finite time and stays there.
    assert flow(0.1, 10.0, 0.5, 0.2) == 0.0


def reference_dense_steps(optimizer, w, grads, rate, l1):
    """Float64 reference of successive dense steps (``alpha * w`` in the gradient, L1 proximal)."""
    w = w.astype(np.float64).copy()
    acc = np.zeros_like(w)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, grad in enumerate(grads, start=1):
        g = grad + ALPHA * w
        if optimizer == "sgd":
            step = rate
            w = w - step * g
        elif optimizer == "adagrad":
            acc += g * g
            step = rate / (np.sqrt(acc) + EPS)
            w = w - step * g
        else:
            m = BETA_1 * m + (1 - BETA_1) * g
            v = BETA_2 * v + (1 - BETA_2) * g * g
            corrected = rate * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
            step = corrected / (np.sqrt(v) + EPS)
            w = w - step * m
        w = soft_threshold(w, step * l1)
    return w


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "adam"])
def test_dense_update_matches_reference_and_skips_penalty_when_asked(optimizer):
    rng = np.random.default_rng(23)
    params = rng.normal(size=H0).astype(np.float32)
    start = params.copy()
    state = np.zeros(optimizers.dense_state_width(optimizers.OPTIMIZER_CODES[optimizer]) * H0,
                     np.float32)
    grads = rng.normal(size=(4, H0)).astype(np.float32)
    config = config_for(optimizer)
    for step, grad in enumerate(grads, start=1):
        rules = optimizers.OPTIMIZER_RULES[int(config.optimizer)]
        rules.dense(params, state, grad, 0, H0, 1.0, rules.step_rate(config, step), True, config)
    expected = reference_dense_steps(optimizer, start, grads.astype(np.float64), 0.1, L1)
    np.testing.assert_allclose(params, expected, rtol=2e-5, atol=2e-6)

    # Unpenalised (biases): plain steps, no shrinkage.
    bias = np.array([0.5], np.float32)
    state = np.zeros(optimizers.dense_state_width(optimizers.OPTIMIZER_CODES[optimizer]),
                     np.float32)
    optimizers.OPTIMIZER_RULES[int(config.optimizer)].dense(bias, state, np.zeros(1, np.float32), 0, 1, 1.0,
                                                            0.1, False, config)
    assert bias[0] == np.float32(0.5)


def test_invscaling_schedule():
    config = config_for("sgd", schedule="invscaling", rate=0.2)
    assert optimizers.sgd.step_rate(config, 16) == pytest.approx(0.2 / 4.0, rel=1e-6)
    assert optimizers.sgd.step_rate(config_for("sgd"), 16) == pytest.approx(0.1, rel=1e-6)


def test_rowwise_adagrad_keeps_one_accumulator_per_row():
    code = optimizers.OPTIMIZER_CODES["rowwise_adagrad"]
    # State columns after the weights, the step stamp included.
    assert optimizers.input_state_width(code, 16) == 1 + 1
    assert optimizers.input_state_width(optimizers.OPTIMIZER_CODES["adagrad"], 16) == 16 + 1
    assert optimizers.input_state_width(optimizers.OPTIMIZER_CODES["adam"], 16) == 32 + 1
    assert optimizers.input_state_width(optimizers.OPTIMIZER_CODES["sgd"], 16) == 0 + 1
