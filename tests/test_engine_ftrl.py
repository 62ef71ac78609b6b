"""FTRL-Proximal (``optimizer='ftrl'``): the rule against a float64 reference, sparsity, the estimators."""

import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from skvectorflow import DLRMClassifier, FactorizationMachineClassifier, SparseMLPClassifier
from skvectorflow.__main__ import main
from skvectorflow._engine import hogwild, optimizers
from skvectorflow.datasets import make_criteo_like, make_sparse_classification
from skvectorflow.io import load_model

H0 = 3
RATE = 0.1
BETA = 0.5
ALPHA = 0.01
L1 = 0.05
FTRL = optimizers.OPTIMIZER_CODES["ftrl"]


def ftrl_config(l1=L1, alpha=ALPHA, beta=BETA, rate=RATE):
    return hogwild.make_train_config(
        loss=0, use_callback=0, activation=0, optimizer=FTRL, learning_rate_schedule=0,
        learning_rate=rate, power_t=0.5, alpha=alpha, l1=l1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
        huber_delta=1.0, batch_size=1, n_outputs=1, n_targets=1, ftrl_beta=beta)


class ReferenceFTRL:
    """Float64 FTRL-Proximal per coordinate, Algorithm 1 of McMahan et al. (2013).

    ``w0`` is the initial weight: with ``w0 = 0`` this is the paper's
    algorithm; otherwise ``z`` starts where the closed form gives ``w0``
    (the engine's rule for initialised tables, ``optimizers.ftrl``).
    The config's values are float32; the reference uses the same numbers.
    """

    def __init__(self, w0, rate=RATE, beta=BETA, alpha=ALPHA, l1=L1):
        f32 = lambda v: float(np.float32(v))  # noqa: E731
        self.rate, self.beta, self.alpha, self.l1 = f32(rate), f32(beta), f32(alpha), f32(l1)
        self.w0 = np.asarray(w0, np.float64).copy()
        self.z = np.zeros_like(self.w0)
        self.n = np.zeros_like(self.w0)
        self.started = np.zeros(self.w0.shape, bool)

    def weights(self):
        w = -(self.z - np.sign(self.z) * self.l1) / ((self.beta + np.sqrt(self.n)) / self.rate + self.alpha)
        w = np.where(np.abs(self.z) <= self.l1, 0.0, w)
        return np.where(self.started, w, self.w0)

    def step(self, index, g):
        """One step with gradient ``g`` on the coordinates ``index``."""
        w = self.weights()[index]
        fresh = ~self.started[index] & (g != 0)
        prior = -(w * (self.beta / self.rate + self.alpha) + np.sign(w) * self.l1)
        self.z[index] = np.where(fresh, prior, self.z[index])
        sigma = (np.sqrt(self.n[index] + g * g) - np.sqrt(self.n[index])) / self.rate
        self.z[index] += g - sigma * w
        self.n[index] += g * g
        self.started[index] |= g != 0


@pytest.mark.parametrize("initial", ["zeros", "random"])
@pytest.mark.parametrize("l1", [0.0, L1])
def test_input_rows_follow_the_per_coordinate_algorithm(initial, l1):
    rng = np.random.default_rng(5)
    n_rows = 5
    table = np.zeros((n_rows, H0 + optimizers.input_state_width(FTRL, H0)), np.float32)
    assert table.shape[1] == 3 * H0 + 1
    if initial == "random":
        table[:, :H0] = rng.normal(scale=0.3, size=(n_rows, H0))
    reference = ReferenceFTRL(table[:, :H0], l1=l1)
    config = ftrl_config(l1=l1)
    rules = optimizers.OPTIMIZER_RULES[FTRL]
    for step in range(1, 41):
        touched = np.flatnonzero(rng.random(n_rows) < [0.9, 0.5, 0.2, 0.1, 0.0]).astype(np.int32)
        scales = rng.uniform(0.2, 1.5, size=max(touched.size, 1)).astype(np.float32)
        grads = rng.normal(size=(max(touched.size, 1), H0)).astype(np.float32)
        grads[0, 1] = 0.0  # a zero gradient leaves its coordinate as it is
        for k, row in enumerate(touched):
            rules.input_rows(table, touched, scales, k, k + 1, H0, grads, k,
                             rules.step_rate(config, step), step, config)
            g = scales[k].astype(np.float64) * grads[k].astype(np.float64)
            reference.step((np.full(H0, row), np.arange(H0)), g)
            assert table.view(np.int32)[row, -1] == step
        np.testing.assert_allclose(table[:, :H0], reference.weights(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(table[:, H0:2 * H0], np.where(reference.started, reference.z, 0.0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(table[:, 2 * H0:3 * H0], reference.n, rtol=1e-5)
    # Row 4 was never touched: its weights are the initial ones.
    np.testing.assert_array_equal(table[4, :H0], reference.w0[4].astype(np.float32))
    if l1 > 0:
        assert np.any(table[:4, :H0] == 0.0)


def test_catch_up_moves_the_stamp_and_recomputes_weights_from_the_state():
    rng = np.random.default_rng(7)
    table = np.zeros((4, 3 * H0 + 1), np.float32)
    table[:, :H0] = rng.normal(size=(4, H0))
    config = ftrl_config()
    rules = optimizers.OPTIMIZER_RULES[FTRL]
    grads = rng.normal(size=(3, H0)).astype(np.float32)
    features = np.array([0, 1, 2], np.int32)
    for k in range(3):
        rules.input_rows(table, features, np.ones(3, np.float32), k, k + 1, H0, grads, k, RATE, 3, config)
    trained = table.copy()
    optimizers.CATCH_UP_ROWS[FTRL](table, 0, 4, H0, 9, config)
    # FTRL has no penalty per step: catching up changes nothing but the stamps,
    # and the untouched row 3 keeps its initial weights.
    np.testing.assert_array_equal(table[:, :-1], trained[:, :-1])
    assert np.all(table.view(np.int32)[:, -1] == 9)
    # A state changed from outside (Dask's combine) is put back on the closed form.
    table[0, :H0] += 1.0
    hogwild.bring_rows_current(table, H0, 10, config)
    np.testing.assert_array_equal(table[:, :H0], trained[:, :H0])
    # Without any penalty the catch-up still runs for FTRL (here with l1 = alpha = 0).
    table[1, :H0] -= 1.0
    hogwild.bring_rows_current(table, H0, 11, ftrl_config(l1=0.0, alpha=0.0))
    z, n = table[1, H0:2 * H0], table[1, 2 * H0:3 * H0]
    np.testing.assert_allclose(table[1, :H0], -z / ((np.float32(BETA) + np.sqrt(n)) / np.float32(RATE)),
                               rtol=1e-6)
    np.testing.assert_array_equal(table[3, :H0], trained[3, :H0])
    assert np.all(table.view(np.int32)[:, -1] == 11)


def test_dense_follows_the_algorithm_and_leaves_biases_unpenalised():
    rng = np.random.default_rng(11)
    params = rng.normal(size=2 * H0).astype(np.float32)
    state = np.zeros(optimizers.dense_state_width(FTRL) * params.size, np.float32)
    weights = ReferenceFTRL(params[:H0])
    biases = ReferenceFTRL(params[H0:], alpha=0.0, l1=0.0)
    config = ftrl_config()
    rules = optimizers.OPTIMIZER_RULES[FTRL]
    for _ in range(6):
        grad = rng.normal(size=params.size).astype(np.float32)
        rules.dense(params, state, grad, 0, H0, 0.5, RATE, True, config)
        rules.dense(params, state, grad, H0, 2 * H0, 0.5, RATE, False, config)
        weights.step(np.arange(H0), 0.5 * grad[:H0].astype(np.float64))
        biases.step(np.arange(H0), 0.5 * grad[H0:].astype(np.float64))
    np.testing.assert_allclose(params, np.concatenate([weights.weights(), biases.weights()]),
                               rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def click_data():
    X, y = make_sparse_classification(n_samples=3000, n_features=3000, nnz_per_row=20, random_state=0)
    return X[:2000], y[:2000], X[2000:], y[2000:]


def _auc(model, X, y):
    return roc_auc_score(y, model.predict_proba(X)[:, 1])


def test_l1_gives_exact_zeros_growing_with_l1(click_data):
    X, y, X_test, y_test = click_data
    zeros = []
    for l1 in (0.0, 0.3, 1.0, 3.0):
        model = SparseMLPClassifier(optimizer="ftrl", l1=l1, max_iter=3, tol=None, random_state=0).fit(X, y)
        zeros.append(np.mean(model.coefs_[0] == 0.0))
    touched = np.unique(X.indices).size / X.shape[1]
    assert zeros[0] <= 1.0 - touched + 1e-9  # without L1 only unseen features are 0
    assert zeros[1] < zeros[2] < zeros[3]
    assert zeros[3] > zeros[0] + 0.3


@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("make", [
    lambda **p: SparseMLPClassifier(**p),
    lambda **p: FactorizationMachineClassifier(n_factors=4, **p),
], ids=["linear", "fm"])
def test_ftrl_trains_as_well_as_adagrad(click_data, make, batch_size):
    X, y, X_test, y_test = click_data
    common = dict(max_iter=4, tol=None, random_state=0, batch_size=batch_size)
    adagrad = _auc(make(optimizer="adagrad", **common).fit(X, y), X_test, y_test)
    ftrl = make(optimizer="ftrl", learning_rate_init=0.1 * batch_size ** 0.5, **common).fit(X, y)
    assert _auc(ftrl, X_test, y_test) > max(0.6, adagrad - 0.06)
    # The table is [w | z | n | stamp] and each stored weight is FTRL's closed form.
    table = ftrl._network.input_table
    h0 = table.shape[1] // 3
    assert table.shape[1] == 3 * h0 + 1
    z, n = table[:, h0:2 * h0], table[:, 2 * h0:3 * h0]
    started = n > 0
    rate, beta = np.float32(ftrl.learning_rate_init), np.float32(ftrl.ftrl_beta)
    closed = -(z - np.sign(z) * np.float32(ftrl.l1)) / ((beta + np.sqrt(n)) / rate + np.float32(ftrl.alpha))
    closed = np.where(np.abs(z) <= ftrl.l1, 0.0, closed)
    np.testing.assert_allclose(table[:, :h0][started], closed[started], rtol=1e-4, atol=1e-7)


def test_dlrm_trains_with_ftrl():
    X, y, field_of_column = make_criteo_like(2400, n_fields=5, n_dense=3, hash_bits=8, random_state=0)
    common = dict(field_of_column=field_of_column, embedding_dim=4, bottom_mlp=(8,), top_mlp=(8,),
                  max_iter=3, tol=None, random_state=0)
    baseline = DLRMClassifier(**common).fit(X[:1600], y[:1600])
    model = DLRMClassifier(optimizer="ftrl", **common).fit(X[:1600], y[:1600])
    assert _auc(model, X[1600:], y[1600:]) > max(0.55, _auc(baseline, X[1600:], y[1600:]) - 0.06)


def test_pickle_and_model_file_round_trip_and_partial_fit(click_data, tmp_path):
    from skvectorflow.io import save_model

    X, y, X_test, _ = click_data
    model = SparseMLPClassifier(optimizer="ftrl", l1=0.3, ftrl_beta=2.0, max_iter=2, tol=None,
                                random_state=0).fit(X, y)
    save_model(model, tmp_path / "m.svf")
    np.testing.assert_array_equal(load_model(tmp_path / "m.svf").predict_proba(X_test),
                                  model.predict_proba(X_test))
    clone = pickle.loads(pickle.dumps(model))
    assert clone.get_params()["ftrl_beta"] == 2.0
    np.testing.assert_array_equal(clone.predict_proba(X_test), model.predict_proba(X_test))
    # Training goes on from the pickled state exactly as from the original.
    model.partial_fit(X, y)
    clone.partial_fit(X, y)
    np.testing.assert_array_equal(clone._network.input_table, model._network.input_table)


@pytest.mark.parametrize("value", [0.0, -1.0, "1.0", None])
def test_bad_ftrl_beta_names_the_parameter(click_data, value):
    X, y, _, _ = click_data
    with pytest.raises(InvalidParameterError, match="'ftrl_beta' parameter"):
        SparseMLPClassifier(optimizer="ftrl", ftrl_beta=value).fit(X[:50], y[:50])


def test_ftrl_takes_no_learning_rate_schedule(click_data):
    X, y, _, _ = click_data
    with pytest.raises(ValueError, match="optimizer='ftrl'.*learning_rate must be 'constant'"):
        SparseMLPClassifier(optimizer="ftrl", learning_rate="invscaling").fit(X[:50], y[:50])


def test_cli_ftrl_flags(click_data, tmp_path, capsys):
    from sklearn.datasets import dump_svmlight_file

    X, y, _, _ = click_data
    data = tmp_path / "train.svm"
    dump_svmlight_file(X[:500], y[:500], str(data))
    path = tmp_path / "m.joblib"
    assert main(["train", str(data), "--optimizer", "ftrl", "--ftrl-beta", "0.5", "--l1", "0.1",
                 "--epochs", "1", "--n-jobs", "1", "-q", "-o", str(path)]) == 0
    params = load_model(path).get_params()
    assert (params["optimizer"], params["ftrl_beta"], params["l1"]) == ("ftrl", 0.5, 0.1)
    capsys.readouterr()
    assert main(["train", str(data), "--optimizer", "ftrl", "--ftrl-beta", "0", "-q",
                 "-o", str(tmp_path / "bad.joblib")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "'ftrl_beta' parameter" in err, err


def test_initial_state_gives_each_initial_weight_its_z():
    from skvectorflow._engine import network

    rng = np.random.default_rng(13)
    layout = network.make_layout([H0, 2, 1])
    table, dense, dense_state = network.init_network(layout, 6, optimizers.input_state_width(FTRL, H0),
                                                     optimizers.dense_state_width(FTRL), 2.0, rng)
    dense[:] = rng.normal(size=dense.size)  # biases included
    config = ftrl_config()
    optimizers.initialise_state(FTRL, table, H0, dense, dense_state, network.readonly_layout(layout), config)
    reference = ReferenceFTRL(table[:, :H0])
    prior = -(reference.w0 * (reference.beta / reference.rate + reference.alpha)
              + np.sign(reference.w0) * reference.l1)
    np.testing.assert_allclose(table[:, H0:2 * H0], prior, rtol=1e-6)
    # The closed form of that state is the initial weight, so training's first
    # step starts from it; biases (not penalised) have no L1/L2 term.
    z = dense_state[:dense.size]
    closed = -(z - np.sign(z) * L1) / (BETA / RATE + ALPHA)
    bias = np.zeros(dense.size, bool)
    bias[:H0] = True
    bias[int(layout.bias_offsets[1]):int(layout.bias_offsets[1]) + 2] = True
    bias[int(layout.bias_offsets[2]):] = True
    np.testing.assert_allclose(z[bias], -dense[bias] * BETA / RATE, rtol=1e-5)
    np.testing.assert_allclose(closed[~bias], dense[~bias], rtol=1e-5)
    assert np.all(dense_state[dense.size:] == 0)
