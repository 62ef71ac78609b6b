"""Tests for skvectorflow.recommendation: factorization machines on the Hogwild engine."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skvectorflow import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    FactorizationMachineRegressor,
    SparseMLPClassifier,
    SparseMLPRegressor,
)
from skvectorflow._engine import fields_batch, hogwild, network, objectives, optimizers
from skvectorflow._engine.kernels import ACTIVATION_CODES
from skvectorflow.datasets import make_criteo_like
from skvectorflow.fields import FieldHasher


def reference_factorization_forward(rows, table, dense, layout, activation):
    """Float64 outputs of a factorization network for rows given as (indices, values) pairs.

    The pairwise term is summed over explicit pairs ``j < k`` (not by the
    sum-of-squares identity the kernels use), so the test checks the identity too.
    """
    sizes = [int(s) for s in layout.layer_sizes]
    h0, n_out = sizes[0], sizes[-1]
    outputs = []
    for indices, values in rows:
        linear = (values[:, None] * table[indices, :n_out]).sum(0)
        factors = table[indices, n_out:n_out + h0]
        z = dense[:h0].copy()
        for a in range(len(indices)):
            for b in range(a + 1, len(indices)):
                z = z + values[a] * values[b] * factors[a] * factors[b]
        for layer in range(1, len(sizes)):
            w0, b0 = int(layout.weight_offsets[layer]), int(layout.bias_offsets[layer])
            weights = dense[w0:w0 + sizes[layer - 1] * sizes[layer]].reshape(sizes[layer - 1], sizes[layer])
            z = z @ weights + dense[b0:b0 + sizes[layer]]
            if layer < len(sizes) - 1:
                z = np.tanh(z) if activation == "tanh" else z
        outputs.append(z + linear)
    return np.array(outputs)


def mean_loss(outputs, targets, n_outputs):
    if n_outputs == 1:
        return float(np.mean(0.5 * (outputs[:, 0] - targets[:, 0]) ** 2))
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    labels = targets[:, 0].astype(int)
    return float(np.mean(log_norm - shifted[np.arange(len(labels)), labels]))


def central_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = f()
        flat[i] = saved - eps
        down = f()
        flat[i] = saved
        flat_grad[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("hidden, n_outputs", [((), 1), ((), 3), ((5,), 1), ((4, 3), 3)])
def test_one_sgd_step_follows_the_finite_difference_gradient(hidden, n_outputs, batch_size):
    """Through run_epoch: the FM term's forward pass, every parameter's gradient, and the update.

    One plain-SGD step of size ``lr`` must move every parameter (linear weights,
    factors, the output and hidden layers, biases) by ``-lr`` times the
    finite-difference gradient of the float64 reference's loss (the mean over
    the rows of the batch; with ``batch_size=1`` there is one row).
    """
    rng = np.random.default_rng(len(hidden) * 10 + n_outputs + batch_size)
    n_features, n_factors = 8, 3
    layout = network.make_layout([n_factors, *hidden, n_outputs], network.INPUT_FACTORIZATION)
    table = rng.normal(scale=0.5, size=(n_features, network.table_width(layout))).astype(np.float32)
    # Plain SGD's row ends in the step stamp of the lazy penalty, from zero.
    table = np.hstack([table, np.zeros((n_features, 1), np.float32)])
    dense = rng.normal(scale=0.5, size=network.n_dense_params(layout)).astype(np.float32)
    # Three rows sharing feature 2, so the batch sums that row's gradients.
    rows = [(np.array([0, 2, 5], np.int32), np.array([0.7, 1.2, -0.4], np.float32)),
            (np.array([1, 2, 3, 7], np.int32), np.array([0.5, 0.9, 1.1, 0.3], np.float32)),
            (np.array([2, 4], np.int32), np.array([1.3, 0.6], np.float32))][:batch_size]
    X = sp.csr_matrix((np.concatenate([v for _, v in rows]), np.concatenate([i for i, _ in rows]),
                       np.cumsum([0] + [len(i) for i, _ in rows])), shape=(len(rows), n_features))
    if n_outputs == 1:
        loss, targets = objectives.SQUARED_ERROR, rng.normal(size=(len(rows), 1))
    else:
        loss, targets = objectives.MULTINOMIAL_LOG_LOSS, np.array([[2.0], [0.0], [1.0]])[:len(rows)]
    targets = targets.astype(np.float32)
    lr = 1e-3
    config = hogwild.make_train_config(
        loss=loss, use_callback=0, activation=ACTIVATION_CODES["tanh"], optimizer=optimizers.SGD,
        learning_rate_schedule=optimizers.CONSTANT, learning_rate=lr, power_t=0.5, alpha=0.0,
        l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=1.0, batch_size=batch_size,
        n_outputs=n_outputs, n_targets=1)
    scratch = [hogwild.make_thread_scratch(layout, dense.size, 1, 1, 4, batch_size)]
    new_table, new_dense = table.copy(), dense.copy()
    result = hogwild.run_epoch(
        (X.indptr.astype(np.int64), X.indices, X.data), targets, np.ones(len(rows), np.float32),
        np.zeros(0, np.int64), np.array([0, len(rows)], np.int64), np.array([0], np.int64),
        (new_table, new_dense, np.zeros(0, np.float32)), layout, config, None, scratch, 0)
    assert result.status == hogwild.STATUS_OK
    assert result.n_steps == (1 if batch_size > 1 else len(rows))

    table64, dense64 = table.astype(np.float64), dense.astype(np.float64)
    rows64 = [(i, v.astype(np.float64)) for i, v in rows]

    def objective():
        outputs = reference_factorization_forward(rows64, table64, dense64, layout, "tanh")
        return mean_loss(outputs, targets.astype(np.float64), n_outputs)

    np.testing.assert_allclose((dense - new_dense) / lr, central_difference(objective, dense64),
                               rtol=5e-3, atol=5e-4)
    np.testing.assert_allclose((table - new_table) / lr, central_difference(objective, table64),
                               rtol=5e-3, atol=5e-4)


def test_predict_matches_the_pairwise_reference():
    rng = np.random.default_rng(0)
    X = sp.random(60, 20, density=0.25, format="csr", dtype=np.float32, random_state=1)
    y = rng.normal(size=60)
    model = FactorizationMachineRegressor(n_factors=4, max_iter=2, random_state=0).fit(X, y)
    state = model._network
    rows = [(X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]].astype(np.float64))
            for i in range(60)]
    expected = reference_factorization_forward(rows, state.input_table.astype(np.float64),
                                               state.dense_params.astype(np.float64), state.layout,
                                               "relu")[:, 0]
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-4, atol=1e-5)
    assert model.coef_.shape == (20, 1) and model.factors_.shape == (20, 4)
    assert model.coefs_[0].shape == (20, 5)


def test_factorization_machines_beat_logistic_regression_on_interacting_fields():
    X, y, _ = make_criteo_like(24000, n_fields=16, hash_bits=10, max_cardinality=1000,
                               interaction_strength=2.0, random_state=0)
    train, test = slice(0, 18000), slice(18000, None)
    linear = max(
        roc_auc_score(y[test], SparseMLPClassifier(max_iter=epochs, tol=None, random_state=0)
                      .fit(X[train], y[train]).decision_function(X[test]))
        for epochs in (1, 3))
    fm = FactorizationMachineClassifier(n_factors=8, learning_rate_init=0.03, max_iter=3, tol=None,
                                        random_state=0).fit(X[train], y[train])
    fm_auc = roc_auc_score(y[test], fm.decision_function(X[test]))
    assert fm_auc > linear + 0.015, (fm_auc, linear)


def test_mini_batches_and_threads_train_as_well():
    X, y, _ = make_criteo_like(6000, n_fields=8, hash_bits=8, random_state=2)
    aucs = []
    for params in ({}, {"batch_size": 32, "learning_rate_init": 0.1}, {"n_jobs": 2}):
        model = FactorizationMachineClassifier(n_factors=4, max_iter=3, tol=None, random_state=0,
                                               **params).fit(X[:4500], y[:4500])
        aucs.append(roc_auc_score(y[4500:], model.decision_function(X[4500:])))
    assert min(aucs) > 0.6 and max(aucs) - min(aucs) < 0.05, aucs


def test_pickle_round_trip_and_grid_search_over_n_factors():
    X, y, _ = make_criteo_like(1500, n_fields=6, hash_bits=6, random_state=3)
    search = GridSearchCV(FactorizationMachineClassifier(max_iter=2, random_state=0),
                          {"n_factors": [2, 6]}, cv=2, scoring="roc_auc").fit(X, y)
    assert search.best_params_["n_factors"] in (2, 6)
    model = search.best_estimator_
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))


def test_pipeline_from_a_dataframe():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({
        "clicks": rng.poisson(3, 800),
        "site": rng.choice(["a", "b", "c", None], 800),
        "device": rng.choice(["ios", "android"], 800),
    })
    y = ((frame["site"] == "a") ^ (frame["device"] == "ios")).to_numpy().astype(int)
    pipeline = make_pipeline(FieldHasher(hash_bits=6),
                             FactorizationMachineClassifier(n_factors=4, max_iter=10, random_state=0))
    pipeline.fit(frame, y)
    # An exclusive-or of two fields is a pure pairwise interaction.
    assert pipeline.score(frame, y) > 0.95


def test_loss_callback_trains_the_factorization_machine():
    X = sp.random(300, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    y = np.asarray(X[:, 0].toarray().ravel() * X[:, 1].toarray().ravel() * 10 + X.sum(axis=1).A1)
    builtin = FactorizationMachineRegressor(max_iter=3, tol=None, random_state=0, n_jobs=1).fit(X, y)
    callback = FactorizationMachineRegressor(max_iter=3, tol=None, random_state=0, n_jobs=1,
                                             loss_callback="squared_error").fit(X, y)
    np.testing.assert_allclose(callback.predict(X), builtin.predict(X), rtol=1e-4, atol=1e-4)
    assert callback.loss_curve_[-1] < callback.loss_curve_[0]


def test_bad_n_factors_and_warm_start_mismatch():
    X = sp.random(50, 10, density=0.3, format="csr", dtype=np.float32, random_state=0)
    y = np.arange(50) % 2
    with pytest.raises(ValueError, match="'n_factors' parameter"):
        FactorizationMachineClassifier(n_factors=0).fit(X, y)
    model = FactorizationMachineClassifier(n_factors=3, warm_start=True, max_iter=1).fit(X, y)
    before = model.factors_.copy()
    model.set_params(n_factors=5)
    with pytest.raises(ValueError, match="warm_start/partial_fit needs the fitted layer sizes"):
        model.fit(X, y)
    np.testing.assert_array_equal(model.factors_, before)


# ---- DLRM ------------------------------------------------------------------------


def reference_fields_forward(rows, table, dense, layout, activation):
    """Float64 outputs of a fields (DLRM) network, written from its definition."""
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0.0))
    spec = layout.input_spec
    d, n_fields = int(spec[network.SPEC_TABLE_WIDTH]), int(spec[network.SPEC_N_FIELDS])
    roles = np.asarray(layout.column_role)
    bottom = [int(s) for s in layout.bottom_sizes]
    top = [int(s) for s in layout.layer_sizes]
    outputs = []
    for indices, values in rows:
        pooled = np.zeros((n_fields, d))
        dense_x = np.zeros(max(bottom[0], 1) if bottom else 0)
        for j, x in zip(indices, values):
            if roles[j] >= 0:
                pooled[roles[j]] += x * table[j, :d]
            else:
                dense_x[-1 - roles[j]] += x
        vectors = list(pooled)
        if bottom:
            a = dense_x
            for layer in range(1, len(bottom)):
                w0, b0 = int(layout.bottom_weight_offsets[layer]), int(layout.bottom_bias_offsets[layer])
                weights = dense[w0:w0 + bottom[layer - 1] * bottom[layer]].reshape(bottom[layer - 1], bottom[layer])
                a = act(a @ weights + dense[b0:b0 + bottom[layer]])
            vectors = [a, *vectors]
        if spec[network.SPEC_INTERACTION] == network.INTERACTION_DOT:
            z = [a] if bottom else []
            z = list(np.concatenate(z)) if z else []
            z += [vectors[i] @ vectors[j] for i in range(1, len(vectors)) for j in range(i)]
            z = np.array(z)
        else:
            z = np.concatenate(vectors)
        z = z + dense[:top[0]]
        for layer in range(1, len(top)):
            w0, b0 = int(layout.weight_offsets[layer]), int(layout.bias_offsets[layer])
            weights = dense[w0:w0 + top[layer - 1] * top[layer]].reshape(top[layer - 1], top[layer])
            z = z @ weights + dense[b0:b0 + top[layer]]
            if layer < len(top) - 1:
                z = act(z)
        outputs.append(z)
    return np.array(outputs)


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("bottom, interaction", [((4,), network.INTERACTION_DOT), (None, network.INTERACTION_DOT),
                                                 ((), network.INTERACTION_CAT)])
@pytest.mark.parametrize("top", [(), (5,)])
def test_dlrm_sgd_step_follows_the_finite_difference_gradient(bottom, interaction, top, batch_size):
    """Pooled (multi-hot) embeddings, the bottom MLP, the interaction and the top MLP."""
    rng = np.random.default_rng(batch_size * 7 + len(top) + (0 if bottom is None else 3 + len(bottom)))
    d = 3
    # Columns 0-1 dense, 2-4 field 0, 5-7 field 1, 8-9 field 2.
    field_of_column = np.array([-1, -1, 0, 0, 0, 1, 1, 1, 2, 2])
    if bottom is None:
        field_of_column = field_of_column[2:]
    n_features = field_of_column.size
    layout = network.make_layout([1, *top, 1], network.INPUT_FIELDS, field_of_column, bottom, d, interaction)
    table = rng.normal(scale=0.6, size=(n_features, d)).astype(np.float32)
    # Plain SGD's row ends in the step stamp of the lazy penalty, from zero.
    table = np.hstack([table, np.zeros((n_features, 1), np.float32)])
    dense = rng.normal(scale=0.5, size=network.n_dense_params(layout)).astype(np.float32)
    offset = 0 if bottom is None else 2
    rows = [(np.array([0, 1, 2, 4, 6, 9]) - 2 + offset, [0.7, -1.2, 1.0, 0.5, 1.0, 1.0]),
            (np.array([1, 3, 5, 7, 8]) - 2 + offset, [0.4, 1.0, 1.0, 0.3, 1.0]),
            (np.array([0, 2, 6, 9]) - 2 + offset, [1.3, 1.0, 1.0, 2.0])][:batch_size]
    rows = [(i[i >= 0].astype(np.int32), np.asarray(v, np.float32)[i >= 0]) for i, v in rows]
    X = sp.csr_matrix((np.concatenate([v for _, v in rows]), np.concatenate([i for i, _ in rows]),
                       np.cumsum([0] + [len(i) for i, _ in rows])), shape=(len(rows), n_features))
    targets = rng.normal(size=(len(rows), 1)).astype(np.float32)
    lr = 1e-3
    config = hogwild.make_train_config(
        loss=objectives.SQUARED_ERROR, use_callback=0, activation=ACTIVATION_CODES["tanh"],
        optimizer=optimizers.SGD, learning_rate_schedule=optimizers.CONSTANT, learning_rate=lr,
        power_t=0.5, alpha=0.0, l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=1.0,
        batch_size=batch_size, n_outputs=1, n_targets=1)
    scratch = [hogwild.make_thread_scratch(layout, dense.size, 1, 1, 6, batch_size)]
    new_table, new_dense = table.copy(), dense.copy()
    result = hogwild.run_epoch(
        (X.indptr.astype(np.int64), X.indices, X.data), targets, np.ones(len(rows), np.float32),
        np.zeros(0, np.int64), np.array([0, len(rows)], np.int64), np.array([0], np.int64),
        (new_table, new_dense, np.zeros(0, np.float32)), layout, config, None, scratch, 0)
    assert result.status == hogwild.STATUS_OK

    table64, dense64 = table.astype(np.float64), dense.astype(np.float64)
    rows64 = [(i, v.astype(np.float64)) for i, v in rows]

    def objective():
        outputs = reference_fields_forward(rows64, table64, dense64, layout, "tanh")
        return mean_loss(outputs, targets.astype(np.float64), 1)

    np.testing.assert_allclose((dense - new_dense) / lr, central_difference(objective, dense64),
                               rtol=5e-3, atol=5e-4)
    np.testing.assert_allclose((table - new_table) / lr, central_difference(objective, table64),
                               rtol=5e-3, atol=5e-4)


@pytest.mark.parametrize("optimizer", [optimizers.SGD, optimizers.ROWWISE_ADAGRAD])
@pytest.mark.parametrize("bottom, interaction", [((6, 5), network.INTERACTION_DOT), (None, network.INTERACTION_DOT),
                                                 ((), network.INTERACTION_CAT)])
def test_batched_fields_epoch_takes_the_row_by_row_steps(bottom, interaction, optimizer):
    """The matrix-matrix epoch (fields_batch) against the row-by-row one, batch for batch.

    Eleven rows in two blocks visited out of order, batches of four (the last
    shorter, one spanning the blocks), weighted rows, relu (whose zeros the
    backward pass must respect) and a repeated feature within a batch.
    """
    rng = np.random.default_rng(len(bottom or ()) + 10 * interaction + 100 * optimizer)
    d, batch_size = 4, 4
    field_of_column = np.array([-1, -1, -1, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    if bottom is None:
        field_of_column = field_of_column[3:]
    n_features = field_of_column.size
    layout = network.make_layout([1, 7, 1], network.INPUT_FIELDS, field_of_column, bottom, d, interaction)
    state_width = optimizers.input_state_width(optimizer, d)
    table = np.zeros((n_features, d + state_width), np.float32)
    table[:, :d] = rng.normal(scale=0.6, size=(n_features, d))
    dense = rng.normal(scale=0.5, size=network.n_dense_params(layout)).astype(np.float32)
    dense_state = np.zeros(optimizers.dense_state_width(optimizer) * dense.size, np.float32)
    X = sp.random(11, n_features, density=0.5, format="csr", dtype=np.float32, random_state=rng.integers(1000))
    X.data = rng.normal(size=X.data.size).astype(np.float32)
    X.indices = X.indices.astype(np.int32)
    targets = rng.normal(size=(11, 1)).astype(np.float32)
    sample_weight = rng.uniform(0.5, 2.0, size=11).astype(np.float32)
    block_bounds, block_order = np.array([0, 6, 11], np.int64), np.array([1, 0], np.int64)
    config = hogwild.make_train_config(
        loss=objectives.SQUARED_ERROR, use_callback=0, activation=ACTIVATION_CODES["relu"],
        optimizer=optimizer, learning_rate_schedule=optimizers.CONSTANT, learning_rate=0.05,
        power_t=0.5, alpha=1e-3, l1=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=1.0,
        batch_size=batch_size, n_outputs=1, n_targets=1)
    csr = (X.indptr.astype(np.int64), X.indices, X.data)
    max_nnz = int(np.diff(X.indptr).max())
    assert hogwild.uses_batched_fields(layout, batch_size, True)

    batched = (table.copy(), dense.copy(), dense_state.copy())
    batched_stats = hogwild.run_epoch(csr, targets, sample_weight, np.zeros(0, np.int64), block_bounds,
                                      block_order, batched, layout, config, None,
                                      [hogwild.make_thread_scratch(layout, dense.size, 1, 1, max_nnz,
                                                                   batch_size)], 0)
    by_row = (table.copy(), dense.copy(), dense_state.copy())
    row_stats = np.zeros(hogwild.N_STATS)
    row_kernel = hogwild.train_blocks_kernel(network.INPUT_FIELDS, optimizer, objectives.ANY_LOSS)
    row_kernel(*csr, targets, sample_weight, np.zeros(0, np.int64), block_bounds, block_order,
               *by_row, layout, config, hogwild.no_loss_callback.dispatcher,
               hogwild.make_thread_scratch(layout, dense.size, 1, 1, max_nnz, batch_size), 1, 1, row_stats)
    # run_epoch brings every row's lazy penalty up to date at its end; the bare kernel does not.
    hogwild.bring_rows_current(by_row[0], d, int(row_stats[hogwild.STAT_UPDATES]), config)

    assert batched_stats.status == hogwild.STATUS_OK and row_stats[hogwild.STAT_STATUS] == hogwild.STATUS_OK
    assert batched_stats.n_steps == row_stats[hogwild.STAT_UPDATES] == 3
    np.testing.assert_allclose(batched_stats.loss_sum, row_stats[hogwild.STAT_LOSS], rtol=1e-5)
    assert not np.array_equal(batched[0], table) and not np.array_equal(batched[1], dense)
    for after_batches, after_rows in zip(batched, by_row):
        np.testing.assert_allclose(after_batches, after_rows, rtol=1e-5, atol=1e-6)


def test_batched_fields_scratch_is_bounded_by_the_mini_batch_table():
    """A huge batch_size cannot make each thread's batch matrices huge."""
    layout = network.make_layout([1, 8, 1], network.INPUT_FIELDS, np.array([-1, 0, 1]), (8,), 4)
    scratch = hogwild.make_thread_scratch(layout, network.n_dense_params(layout), 1, 1, 40, 10**9)
    assert scratch.batch_rows.size == (1 << 20) // 40
    assert scratch.batch_buffer.size == fields_batch.batch_buffer_length(layout, (1 << 20) // 40)
    unbatched = hogwild.make_thread_scratch(layout, network.n_dense_params(layout), 1, 1, 40, 1)
    assert unbatched.batch_rows.size == 1 and unbatched.batch_buffer.size == 1


def _small_dlrm(field_of_column, **params):
    defaults = dict(embedding_dim=4, bottom_mlp=(8,), top_mlp=(8,), max_iter=2, tol=None,
                    random_state=0)
    return DLRMClassifier(field_of_column=field_of_column, **{**defaults, **params})


def test_dlrm_predicts_what_the_reference_forward_gives():
    X, y, field_of_column = make_criteo_like(300, n_fields=5, n_dense=3, hash_bits=4, random_state=0)
    for interaction in ("dot", "cat"):
        model = _small_dlrm(field_of_column, interaction=interaction).fit(X, y)
        state = model._network
        rows = [(X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]].astype(np.float64))
                for i in range(X.shape[0])]
        expected = reference_fields_forward(rows, state.input_table.astype(np.float64),
                                            state.dense_params.astype(np.float64), state.layout, "relu")
        np.testing.assert_allclose(model.decision_function(X), expected[:, 0], rtol=1e-4, atol=1e-4)
        assert model.embeddings_.shape == (X.shape[1], 4) and model.n_fields_ == 5


def test_dlrm_multi_hot_fields_pool_by_value():
    """Two columns of one field in a row act as the value-weighted sum of their embeddings."""
    field_of_column = np.array([-1, 0, 0, 0, 1, 1])
    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.integers(0, 2, size=(200, 6)).astype(np.float32))
    y = (X[:, 1].toarray().ravel() + X[:, 4].toarray().ravel() > 1).astype(int)
    model = _small_dlrm(field_of_column, max_iter=20).fit(X, y)
    assert model.score(X, y) > 0.9
    table = model.embeddings_
    merged = sp.csr_matrix(([1.0, 0.5, 1.0], [1, 2, 4], [0, 3]), shape=(1, 6), dtype=np.float32)
    # The same pooled embedding from one column whose embedding is that sum.
    single = model.decision_function(merged)
    pooled = table[1] + 0.5 * table[2]
    table[3] = pooled  # column 3 stands for the bag (a view: this edits the model)
    replaced = sp.csr_matrix(([1.0, 1.0], [3, 4], [0, 2]), shape=(1, 6), dtype=np.float32)
    np.testing.assert_allclose(model.decision_function(replaced), single, rtol=1e-5)


def test_dlrm_beats_logistic_regression_on_interacting_fields():
    X, y, field_of_column = make_criteo_like(20000, n_fields=12, hash_bits=8, max_cardinality=200,
                                             interaction_strength=2.0, random_state=0)
    train, test = slice(0, 15000), slice(15000, None)
    linear = max(
        roc_auc_score(y[test], SparseMLPClassifier(max_iter=epochs, tol=None, random_state=0)
                      .fit(X[train], y[train]).decision_function(X[test]))
        for epochs in (1, 3, 5))
    # Averaged over initialisations: one seed's held-out AUC varies by about
    # 0.007 on this small sample, which would make a single draw's margin luck.
    dlrm_auc = np.mean([
        roc_auc_score(y[test], _small_dlrm(field_of_column, embedding_dim=8, bottom_mlp=(16,), top_mlp=(16,),
                                           max_iter=4, random_state=seed)
                      .fit(X[train], y[train]).decision_function(X[test]))
        for seed in range(4)])
    assert dlrm_auc > linear + 0.01, (dlrm_auc, linear)


@pytest.mark.parametrize(
    "field_of_column, params, error, message",
    [
        (np.array([-1, 0, 1]), {}, ValueError, "field_of_column has 3 entries but X has 6 columns"),
        (np.array([-1, 0, 0, 2, 2, 2]), {}, ValueError, "field 1 has no columns"),
        (np.array([0, 0, 1, 1, 2, 2]), {}, ValueError, "marks no dense column .* but bottom_mlp is set"),
        (np.array([-1, 0, 0, 1, 1, 1]), {"bottom_mlp": None}, ValueError, "bottom_mlp is None"),
        (np.array([-1, 0, 0, 1, 1, 1]), {"top_mlp": (4, 0)}, ValueError, "top_mlp must contain positive"),
        (np.array([-1, 0, 0, 1, 1, 1]), {"embedding_dim": 0}, ValueError, "'embedding_dim' parameter"),
        (np.array([-1, 0, 0, 1, 1, 1]), {"interaction": "sum"}, ValueError, "'interaction' parameter"),
    ],
)
def test_dlrm_bad_input_raises_and_keeps_the_fitted_model(field_of_column, params, error, message):
    rng = np.random.default_rng(1)
    X = sp.random(80, 6, density=0.5, format="csr", dtype=np.float32, random_state=1)
    y = rng.integers(0, 2, 80)
    model = _small_dlrm(np.array([-1, 0, 0, 1, 1, 1])).fit(X, y)
    before = model.predict_proba(X)
    model.set_params(field_of_column=field_of_column, **params)
    with pytest.raises(error, match=message):
        model.fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), before)


def test_dlrm_pipeline_grid_search_and_pickle():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({
        "clicks": rng.poisson(3, 600),
        "site": rng.choice(["a", "b", "c", None], 600),
        "device": rng.choice(["ios", "android"], 600),
    })
    y = ((frame["site"] == "a") ^ (frame["device"] == "ios")).to_numpy().astype(int)
    hasher = FieldHasher(hash_bits=5).fit(frame)
    # The field map depends only on the hasher's settings and the columns, so it
    # is known before the pipeline is fitted (and clones with it).
    pipeline = make_pipeline(FieldHasher(hash_bits=5),
                             _small_dlrm(hasher.field_of_column_, max_iter=15, top_mlp=(16,)))
    search = GridSearchCV(pipeline, {"dlrmclassifier__embedding_dim": [2, 6]}, cv=2).fit(frame, y)
    assert search.best_score_ > 0.9
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(restored.predict_proba(frame), search.best_estimator_.predict_proba(frame))


@pytest.mark.parametrize("estimator, parent", [
    (FactorizationMachineClassifier(), SparseMLPClassifier()),
    (FactorizationMachineRegressor(), SparseMLPRegressor()),
    (DLRMClassifier(), SparseMLPClassifier()),
])
def test_every_shared_training_parameter_is_a_parameter_here_too(estimator, parent):
    # A parameter the base reads but the signature lacks would be lost by clone.
    shared = set(parent.get_params()) - {"hidden_layer_sizes"}
    assert shared <= set(estimator.get_params()), shared - set(estimator.get_params())


@pytest.mark.parametrize("Estimator, params, fragment", [
    (FactorizationMachineRegressor, {"n_factors": True}, "n_factors must be a positive integer"),
    (FactorizationMachineClassifier, {"hidden_layer_sizes": (2.5,)}, "hidden_layer_sizes must be"),
    (DLRMClassifier, {"embedding_dim": True}, "embedding_dim must be a positive integer"),
    (DLRMClassifier, {"top_mlp": (2.5,)}, "top_mlp must be a positive integer"),
    (DLRMClassifier, {"bottom_mlp": (4.0,)}, "bottom_mlp must be a positive integer"),
])
def test_non_integer_sizes_are_refused(Estimator, params, fragment):
    X = sp.random(60, 12, density=0.3, format="csr", random_state=0, dtype=np.float32)
    y = np.arange(60) % 2
    with pytest.raises(ValueError, match=fragment):
        Estimator(max_iter=1, **params).fit(X, y)
