"""Gradient checks of the engine's kernels against a float64 NumPy reference.

The engine computes in float32; the reference forward pass and losses below
are written independently in float64, and central differences of the
reference are compared with the engine's analytic gradients.  Points are
random (never the symmetric hand-picked values under which a wrong
derivative can pass), and relu inputs are kept away from its kink.
Tolerance: relative 2e-3 on the gradient vector's norm, which float32
rounding of the engine meets by two orders of magnitude and a wrong
derivative misses by far more.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from skvectorflow._engine import hogwild, network, objectives, optimizers
from skvectorflow._engine.kernels import (
    ACTIVATION_CODES,
    backward_row,
    dense_layers_forward,
    predict_rows_kernel,
    sum_input_layer,
)
from skvectorflow._engine.network import readonly_layout

RTOL = 2e-3


def reference_activation(name, z):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-z))
    return z


def reference_forward(x_indices, x_values, table, dense_params, layout, activation):
    """Float64 forward pass of one sparse row, written from the layout alone."""
    sizes = [int(s) for s in layout.layer_sizes]
    h0 = sizes[0]
    z = dense_params[:h0].astype(np.float64).copy()
    for j, v in zip(x_indices, x_values):
        z += v * table[j, :h0]
    a = reference_activation(activation, z) if len(sizes) > 1 else z
    for layer in range(1, len(sizes)):
        n_in, n_out = sizes[layer - 1], sizes[layer]
        w0, b0 = int(layout.weight_offsets[layer]), int(layout.bias_offsets[layer])
        W = dense_params[w0 : w0 + n_in * n_out].reshape(n_in, n_out)
        z = a @ W + dense_params[b0 : b0 + n_out]
        a = reference_activation(activation, z) if layer < len(sizes) - 1 else z
    return a


def reference_loss(name, pred, target, weight, huber_delta=0.7):
    """Float64 losses of one row, written independently of the engine."""
    if name == "squared_error":
        return weight * 0.5 * np.sum((pred - target) ** 2)
    if name == "huber":
        r = np.abs(pred - target)
        return weight * np.sum(np.where(r <= huber_delta, 0.5 * r**2, huber_delta * (r - 0.5 * huber_delta)))
    if name == "poisson":
        return weight * np.sum(np.exp(pred) - target * pred)
    if name == "binary_log_loss":
        return weight * (np.logaddexp(0.0, pred[0]) - target[0] * pred[0])
    if name == "multinomial_log_loss":
        return weight * (np.logaddexp.reduce(pred) - pred[int(target[0])])
    if name == "hinge":
        label = int(target[0])
        signs = np.where(np.arange(pred.size) == label, 1.0, -1.0) if pred.size > 1 else np.array(
            [1.0 if label == 1 else -1.0])
        return weight * np.sum(np.maximum(0.0, 1.0 - signs * pred))
    raise ValueError(name)


LOSS_CODES = {
    "squared_error": objectives.SQUARED_ERROR,
    "huber": objectives.HUBER,
    "poisson": objectives.POISSON,
    "binary_log_loss": objectives.BINARY_LOG_LOSS,
    "multinomial_log_loss": objectives.MULTINOMIAL_LOG_LOSS,
    "hinge": objectives.HINGE,
}


def random_target(name, n_outputs, rng):
    if name in ("squared_error", "huber"):
        return rng.normal(size=n_outputs)
    if name == "poisson":
        return rng.poisson(2.0, size=n_outputs).astype(np.float64)
    if name == "binary_log_loss":
        return np.array([float(rng.integers(0, 2))])
    return np.array([float(rng.integers(0, n_outputs))])


def n_outputs_for(name):
    return {"binary_log_loss": 1, "multinomial_log_loss": 4, "hinge": 3}.get(name, 2)


def central_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]
        x.flat[i] = old + eps
        up = f()
        x.flat[i] = old - eps
        down = f()
        x.flat[i] = old
        grad.flat[i] = (up - down) / (2 * eps)
    return grad


def assert_gradient_close(analytic, numeric):
    scale = max(np.linalg.norm(numeric), 1e-8)
    assert np.linalg.norm(analytic - numeric) <= RTOL * scale, (analytic, numeric)


@pytest.mark.parametrize("name", sorted(LOSS_CODES))
def test_builtin_loss_value_and_gradient(name):
    rng = np.random.default_rng(7)
    n_outputs = n_outputs_for(name)
    for _ in range(5):
        pred = rng.normal(scale=1.5, size=n_outputs)
        if name == "hinge":  # keep every margin away from the kink at 1
            pred = np.where(np.abs(np.abs(pred) - 1.0) < 0.05, pred + 0.2, pred)
        target = random_target(name, n_outputs, rng)
        weight = float(rng.uniform(0.5, 2.0))
        grad = np.zeros(n_outputs, dtype=np.float32)
        loss = objectives.builtin_loss(
            LOSS_CODES[name], pred.astype(np.float32), target.astype(np.float32),
            np.array([weight], np.float32), grad, 1, n_outputs, target.size, np.float32(0.7))
        assert loss == pytest.approx(reference_loss(name, pred, target, weight), rel=1e-4, abs=1e-5)
        numeric = central_difference(lambda: reference_loss(name, pred, target, weight), pred)
        assert_gradient_close(grad.astype(np.float64), numeric)


def test_poisson_loss_stays_finite_on_huge_log_rates():
    grad = np.zeros(1, np.float32)
    loss = objectives.builtin_loss(objectives.POISSON, np.array([500.0], np.float32),
                                   np.array([1.0], np.float32), np.ones(1, np.float32), grad,
                                   1, 1, 1, np.float32(1.0))
    assert math.isfinite(loss) and np.isfinite(grad).all()


def make_random_network(hidden, n_outputs, n_features, rng, state_width=0):
    layout = network.make_layout(list(hidden) + [n_outputs])
    h0 = int(layout.layer_sizes[0])
    table = rng.normal(scale=0.5, size=(n_features, h0 + state_width)).astype(np.float32)
    # Optimizer state and the step stamp start at zero, as in a new model.
    table[:, h0:] = 0.0
    dense = rng.normal(scale=0.5, size=network.n_dense_params(layout)).astype(np.float32)
    return layout, table, dense


def random_row(n_features, nnz, rng):
    indices = np.sort(rng.choice(n_features, size=nnz, replace=False)).astype(np.int32)
    values = rng.uniform(0.2, 1.5, size=nnz).astype(np.float32)
    return indices, values


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("hidden", [(), (5,), (6, 4)])
@pytest.mark.parametrize("loss", ["squared_error", "multinomial_log_loss"])
def test_backprop_matches_finite_differences(activation, hidden, loss):
    """Every layer's gradient (input table rows, dense weights, biases)."""
    rng = np.random.default_rng(hash((activation, hidden, loss)) % 2**32)
    n_features = 11
    n_outputs = n_outputs_for(loss)
    layout, table, dense = make_random_network(hidden, n_outputs, n_features, rng)
    x_indices, x_values = random_row(n_features, 4, rng)
    target = random_target(loss, n_outputs, rng)
    weight = 1.3
    ro_layout = readonly_layout(layout)

    if activation == "relu" and hidden:
        # Move hidden pre-activations away from relu's kink, where the
        # derivative is undefined and finite differences straddle it.
        for _ in range(50):
            z0 = dense[: layout.layer_sizes[0]] + (x_values[:, None] * table[x_indices, : layout.layer_sizes[0]]).sum(0)
            if np.min(np.abs(z0)) > 0.05:
                break
            dense[: layout.layer_sizes[0]] += 0.1

    indptr = np.array([0, x_indices.size], dtype=np.int64)
    activations = np.zeros((1, int(np.sum(layout.layer_sizes))), np.float32)
    code = ACTIVATION_CODES[activation]
    sum_input_layer(indptr, x_indices, x_values, 0, table, dense, int(layout.layer_sizes[0]), activations, 0)
    dense_layers_forward(dense, ro_layout, code, activations, 0, True)
    out_start = int(layout.activation_offsets[-1])
    pred = activations[0, out_start : out_start + n_outputs].copy()
    reference = reference_forward(x_indices, x_values, table.astype(np.float64),
                                  dense.astype(np.float64), layout, activation)
    np.testing.assert_allclose(pred, reference, rtol=1e-5, atol=1e-5)

    grad_out = np.zeros(n_outputs, np.float32)
    objectives.builtin_loss(LOSS_CODES[loss], pred, target.astype(np.float32),
                            np.array([weight], np.float32), grad_out, 1, n_outputs, target.size,
                            np.float32(1.0))
    dense_grad = np.zeros_like(dense)
    deltas = np.zeros((2, int(np.max(layout.layer_sizes))), np.float32)
    delta0 = np.zeros((1, int(layout.layer_sizes[0])), np.float32)
    backward_row(network.INPUT_SUM, activations, 0, dense, dense_grad, ro_layout, code, grad_out, 0, deltas,
                 delta0)

    table64 = table.astype(np.float64)
    dense64 = dense.astype(np.float64)

    def objective():
        out = reference_forward(x_indices, x_values, table64, dense64, layout, activation)
        return reference_loss(loss, out, target, weight)

    assert_gradient_close(dense_grad.astype(np.float64), central_difference(objective, dense64))
    # The input layer: only the rows the sample touches have a gradient, x_k * delta0.
    numeric_table = central_difference(objective, table64)
    analytic_table = np.zeros_like(table64)
    analytic_table[x_indices] = x_values[:, None].astype(np.float64) * delta0[0].astype(np.float64)
    assert_gradient_close(analytic_table, numeric_table)
    untouched = np.setdiff1d(np.arange(n_features), x_indices)
    assert np.all(numeric_table[untouched] == 0.0)


def survival_nll(pred, target, weight, grad):
    """Exponential survival NLL ``w * (t * exp(eta) - d * eta)``; target = (time, event)."""
    loss = 0.0
    for r in range(weight.shape[0]):
        eta = pred[r]
        rate = math.exp(eta)
        time = target[2 * r]
        event = target[2 * r + 1]
        grad[r] = weight[r] * (time * rate - event)
        loss += weight[r] * (time * rate - event * eta)
    return np.float32(loss)


@pytest.mark.parametrize("hidden", [(), (4,)])
def test_one_sgd_step_with_user_callback_follows_the_gradient(hidden):
    """End to end through run_epoch: a user loss, the backward pass and the sparse update.

    One plain-SGD step of size ``lr`` on one row must move every parameter by
    ``-lr`` times the finite-difference gradient of the float64 reference.
    """
    from skvectorflow.losses import compile_loss_callback

    rng = np.random.default_rng(3)
    n_features = 9
    layout, table, dense = make_random_network(
        hidden, 1, n_features, rng,
        state_width=optimizers.input_state_width(optimizers.SGD, hidden[0] if hidden else 1))
    table *= 0.3
    dense *= 0.3
    x_indices, x_values = random_row(n_features, 3, rng)
    X = sp.csr_matrix((x_values, x_indices, [0, 3]), shape=(1, n_features))
    target = np.array([[2.5, 1.0]], dtype=np.float32)  # time, event
    weight = np.array([0.8], dtype=np.float32)
    lr = 1e-3
    config = hogwild.make_train_config(
        loss=0, use_callback=1, activation=ACTIVATION_CODES["tanh"], optimizer=optimizers.SGD,
        learning_rate_schedule=optimizers.CONSTANT, learning_rate=lr, power_t=0.5, alpha=0.0,
        l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=1.0, batch_size=1,
        n_outputs=1, n_targets=2)
    scratch = [hogwild.make_thread_scratch(layout, dense.size, 2, 1, 3, 1)]
    new_table, new_dense = table.copy(), dense.copy()
    result = hogwild.run_epoch(
        (X.indptr.astype(np.int64), X.indices, X.data), target, weight,
        np.zeros(0, np.int64), np.array([0, 1], np.int64), np.array([0], np.int64),
        (new_table, new_dense, np.zeros(0, np.float32)), layout, config,
        compile_loss_callback(survival_nll), scratch, 0)
    assert result.status == hogwild.STATUS_OK

    table64, dense64 = table.astype(np.float64), dense.astype(np.float64)

    def objective():
        eta = reference_forward(x_indices, x_values, table64, dense64, layout, "tanh")[0]
        return 0.8 * (2.5 * np.exp(eta) - 1.0 * eta)

    np.testing.assert_allclose((dense - new_dense) / lr, central_difference(objective, dense64),
                               rtol=5e-3, atol=5e-4)
    np.testing.assert_allclose((table - new_table) / lr, central_difference(objective, table64),
                               rtol=5e-3, atol=5e-4)


# (): a linear model with one output, which predict_rows runs in a loop of its own.
@pytest.mark.parametrize("hidden, n_outputs", [((6, 3), 2), ((), 1), ((), 2)])
def test_predict_rows_matches_reference_forward(hidden, n_outputs):
    rng = np.random.default_rng(11)
    layout, table, dense = make_random_network(hidden, n_outputs, 30, rng, state_width=6)
    X = sp.random(40, 30, density=0.2, format="csr", dtype=np.float32, random_state=1)
    X.data[:] = rng.uniform(0.1, 1.0, size=X.nnz)
    out = np.zeros((40, n_outputs), np.float32)
    predict_rows_kernel(network.INPUT_SUM)(X.indptr.astype(np.int64), X.indices, X.data, 0, 40, table, dense,
                                           readonly_layout(layout), ACTIVATION_CODES["tanh"], out)
    for i in range(40):
        row = X.getrow(i)
        expected = reference_forward(row.indices, row.data, table.astype(np.float64),
                                     dense.astype(np.float64), layout, "tanh")
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-5)


def test_mini_batch_applies_one_averaged_update_per_feature():
    """batch_size > 1: rows sharing a feature give that row one step with the mean gradient."""
    layout = network.make_layout([1])
    X = sp.csr_matrix(np.array([[1.0, 0.5, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 1.0]], np.float32))
    y = np.array([[1.0], [-1.0], [0.5]], np.float32)
    lr = 0.1
    config = hogwild.make_train_config(
        loss=objectives.SQUARED_ERROR, use_callback=0, activation=0, optimizer=optimizers.SGD,
        learning_rate_schedule=optimizers.CONSTANT, learning_rate=lr, power_t=0.5, alpha=0.0,
        l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=1.0, batch_size=3,
        n_outputs=1, n_targets=1)
    table = np.array([[0.3, 0.0], [-0.2, 0.0], [0.1, 0.0]], np.float32)  # weight, step stamp
    dense = np.array([0.05], np.float32)
    expected_grad = (X.toarray().T @ ((X.toarray() @ table[:, 0] + dense[0]) - y[:, 0])) / 3
    expected_bias_grad = np.mean((X.toarray() @ table[:, 0] + dense[0]) - y[:, 0])
    scratch = [hogwild.make_thread_scratch(layout, 1, 1, 1, 2, 3)]
    new_table, new_dense = table.copy(), dense.copy()
    result = hogwild.run_epoch(
        (X.indptr.astype(np.int64), X.indices, X.data), y, np.ones(3, np.float32),
        np.zeros(0, np.int64), np.array([0, 3], np.int64), np.array([0], np.int64),
        (new_table, new_dense, np.zeros(0, np.float32)), layout, config, None, scratch, 0)
    assert result.n_steps == 1
    np.testing.assert_allclose(new_table[:, 0], table[:, 0] - lr * expected_grad, rtol=1e-5)
    np.testing.assert_allclose(new_dense, dense - lr * expected_bias_grad, rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
def test_l1_sets_weights_exactly_to_zero(optimizer):
    from skvectorflow import SparseMLPRegressor

    rng = np.random.default_rng(5)
    X = sp.random(400, 50, density=0.2, format="csr", dtype=np.float32, random_state=2)
    y = X[:, :3].toarray() @ np.array([1.0, -2.0, 1.5]) + 0.01 * rng.normal(size=400)
    model = SparseMLPRegressor(optimizer=optimizer, l1=0.05, alpha=0.0, max_iter=20, tol=None,
                               learning_rate_init=0.05, random_state=0).fit(X, y)
    weights = model.coefs_[0].ravel()
    assert np.sum(weights == 0.0) >= 30
    assert np.all(weights[:3] != 0.0)


@pytest.mark.parametrize("code, n_outputs, make_targets", [
    (objectives.SQUARED_ERROR, 2, lambda rng, n: rng.normal(3.0, 2.0, size=(n, 2))),
    (objectives.POISSON, 1, lambda rng, n: rng.poisson(2.5, size=(n, 1))),
    (objectives.BINARY_LOG_LOSS, 1, lambda rng, n: (rng.random((n, 1)) < 0.3)),
    (objectives.MULTINOMIAL_LOG_LOSS, 4, lambda rng, n: rng.choice(4, p=[0.1, 0.2, 0.3, 0.4], size=(n, 1))),
    (objectives.HINGE, 3, lambda rng, n: rng.choice(3, size=(n, 1))),
])
def test_closed_form_null_model_matches_newton(code, n_outputs, make_targets):
    """The closed forms give the constant outputs Newton's method finds on the same rows."""
    rng = np.random.default_rng(code)
    targets = np.ascontiguousarray(make_targets(rng, 3000), dtype=np.float32)
    sample_weight = rng.uniform(0.2, 2.0, size=3000).astype(np.float32)
    closed = objectives.closed_form_constant_outputs(code, targets, sample_weight, n_outputs)
    newton = objectives.fit_constant_outputs(code, False, objectives.no_loss_callback.dispatcher, targets,
                                             sample_weight, n_outputs, np.float32(1.0))
    assert closed.shape == (n_outputs,) and closed.dtype == np.float32
    np.testing.assert_allclose(closed, newton, rtol=1e-4, atol=1e-4)


def test_closed_form_null_model_declines_what_it_cannot_give():
    targets = np.zeros((5, 1), np.float32)
    weight = np.ones(5, np.float32)
    # Huber has no closed form; a class no row has, or no positive count,
    # puts the minimiser at infinity; zero weight leaves nothing to fit.
    assert objectives.closed_form_constant_outputs(objectives.HUBER, targets, weight, 1) is None
    assert objectives.closed_form_constant_outputs(objectives.BINARY_LOG_LOSS, targets, weight, 1) is None
    assert objectives.closed_form_constant_outputs(objectives.MULTINOMIAL_LOG_LOSS, targets, weight, 3) is None
    assert objectives.closed_form_constant_outputs(objectives.POISSON, targets, weight, 1) is None
    assert objectives.closed_form_constant_outputs(objectives.SQUARED_ERROR, targets, 0 * weight, 1) is None


def test_closed_form_null_model_uses_newtons_rows_on_big_data():
    """Beyond CONSTANT_MODEL_MAX_ROWS rows both fit the same evenly spaced sample."""
    rng = np.random.default_rng(5)
    n = 3 * objectives.CONSTANT_MODEL_MAX_ROWS + 7
    targets = (rng.random((n, 1)) < np.linspace(0.1, 0.9, n)[:, None]).astype(np.float32)
    sample_weight = rng.uniform(0.5, 1.5, size=n).astype(np.float32)
    closed = objectives.closed_form_constant_outputs(objectives.BINARY_LOG_LOSS, targets, sample_weight, 1)
    newton = objectives.fit_constant_outputs(objectives.BINARY_LOG_LOSS, False,
                                             objectives.no_loss_callback.dispatcher, targets, sample_weight, 1,
                                             np.float32(1.0))
    np.testing.assert_allclose(closed, newton, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("loss", ["squared_error", "huber", "poisson", "binary_log_loss",
                                  "multinomial_log_loss", "hinge", "exponential_survival"])
def test_the_epoch_kernel_specialised_for_a_loss_trains_as_the_one_choosing_it_at_run_time(loss):
    """A sum layer's per-loss variant against the ``ANY_LOSS`` variant, step for step."""
    code = {name: code for code, name in objectives.KERNEL_LOSS_NAMES.items()}[loss]
    n_outputs = 3 if loss in ("multinomial_log_loss", "hinge") else 1
    rng = np.random.default_rng(code)
    X = sp.random(30, 12, density=0.3, format="csr", dtype=np.float32, random_state=code)
    if loss == "exponential_survival":
        targets = np.column_stack([rng.uniform(0.5, 3.0, 30), rng.integers(0, 2, 30)])
    elif n_outputs == 3 or loss == "binary_log_loss":
        targets = rng.integers(0, max(n_outputs, 2), size=(30, 1))
    else:
        targets = rng.poisson(2.0, size=(30, 1))
    targets = np.ascontiguousarray(targets, dtype=np.float32)
    layout, table, dense = make_random_network((4,), n_outputs, 12, rng,
                                               state_width=optimizers.input_state_width(optimizers.ADAGRAD, 4))
    config = hogwild.make_train_config(
        loss=code, use_callback=0, activation=ACTIVATION_CODES["tanh"], optimizer=optimizers.ADAGRAD,
        learning_rate_schedule=optimizers.CONSTANT, learning_rate=0.05, power_t=0.5, alpha=1e-4, l1=0.0,
        beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=0.5, batch_size=1, n_outputs=n_outputs,
        n_targets=targets.shape[1])
    csr = (X.indptr.astype(np.int64), X.indices, X.data)
    weight = rng.uniform(0.5, 1.5, 30).astype(np.float32)
    blocks, order = np.array([0, 10, 20, 30], np.int64), np.array([2, 0, 1], np.int64)
    max_nnz = max(1, int(np.diff(X.indptr).max()))
    specialised = (table.copy(), dense.copy(), np.zeros_like(dense))
    result = hogwild.run_epoch(csr, targets, weight, np.zeros(0, np.int64), blocks, order, specialised, layout,
                               config, None, [hogwild.make_thread_scratch(layout, dense.size, targets.shape[1],
                                                                          1, max_nnz, 1)], 0)
    any_loss = (table.copy(), dense.copy(), np.zeros_like(dense))
    stats = np.zeros(hogwild.N_STATS)
    hogwild.train_blocks_kernel(network.INPUT_SUM, optimizers.ADAGRAD, objectives.ANY_LOSS)(
        *csr, targets, weight, np.zeros(0, np.int64), blocks, order, *any_loss, readonly_layout(layout), config,
        hogwild.no_loss_callback.dispatcher,
        hogwild.make_thread_scratch(layout, dense.size, targets.shape[1], 1, max_nnz, 1), 1, 1, stats)
    # run_epoch ends by bringing every row's lazy penalty up to date.
    hogwild.bring_rows_current(any_loss[0], 4, int(stats[hogwild.STAT_UPDATES]), config)

    assert result.status == hogwild.STATUS_OK and stats[hogwild.STAT_STATUS] == hogwild.STATUS_OK
    np.testing.assert_allclose(result.loss_sum, stats[hogwild.STAT_LOSS], rtol=1e-6)
    assert not np.array_equal(specialised[0], table)
    for trained_specialised, trained_any in zip(specialised, any_loss):
        np.testing.assert_allclose(trained_specialised, trained_any, rtol=1e-6, atol=1e-7)
