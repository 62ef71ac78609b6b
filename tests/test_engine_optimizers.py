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


def reference_row_steps(optimizer, w, grads, scale, rate, l1):
    """Float64 reference of successive steps on one input-table row."""
    w = w.astype(np.float64).copy()
    acc = np.zeros_like(w)
    row_acc = 0.0
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, grad in enumerate(grads, start=1):
        g = scale * grad + ALPHA * w
        if optimizer == "sgd":
            step = rate
            w = w - step * g
        elif optimizer == "adagrad":
            acc += g * g
            step = rate / (np.sqrt(acc) + EPS)
            w = w - step * g
        elif optimizer == "rowwise_adagrad":
            row_acc += np.mean(g * g)
            step = rate / (np.sqrt(row_acc) + EPS)
            w = w - step * g
        else:
            m = BETA_1 * m + (1 - BETA_1) * g
            v = BETA_2 * v + (1 - BETA_2) * g * g
            corrected = rate * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
            step = corrected / (np.sqrt(v) + EPS)
            w = w - step * m
        w = soft_threshold(w, step * l1)
    return w


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
@pytest.mark.parametrize("l1", [0.0, L1])
def test_input_row_update_matches_reference(optimizer, l1):
    rng = np.random.default_rng(17)
    width = H0 + optimizers.input_state_width(optimizers.OPTIMIZER_CODES[optimizer], H0)
    table = np.zeros((4, width), np.float32)
    table[2, :H0] = rng.normal(size=H0)
    start = table[2, :H0].copy()
    grads = rng.normal(size=(5, H0)).astype(np.float32)
    config = config_for(optimizer, l1=l1)
    features = np.array([2], np.int32)
    scales = np.array([0.7], np.float32)
    for step, grad in enumerate(grads, start=1):
        rules = optimizers.OPTIMIZER_RULES[int(config.optimizer)]
        rules.input_rows(table, features, scales, 0, 1, H0, grad[None, :], 0, rules.step_rate(config, step),
                         config)
    expected = reference_row_steps(optimizer, start, grads.astype(np.float64), 0.7, 0.1, l1)
    np.testing.assert_allclose(table[2, :H0], expected, rtol=2e-5, atol=2e-6)
    untouched = np.delete(np.arange(4), 2)
    assert np.all(table[untouched] == 0.0)


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
    expected = reference_row_steps(optimizer, start, grads.astype(np.float64), 1.0, 0.1, L1)
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
    assert optimizers.input_state_width(code, 16) == 1
    assert optimizers.input_state_width(optimizers.OPTIMIZER_CODES["adagrad"], 16) == 16
    assert optimizers.input_state_width(optimizers.OPTIMIZER_CODES["adam"], 16) == 32
    assert optimizers.input_state_width(optimizers.OPTIMIZER_CODES["sgd"], 16) == 0
