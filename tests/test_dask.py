"""skvectorflow on Dask: sweeps on the joblib backend, BSP training, distributed predict.

One 2-worker LocalCluster with process workers (as a real cluster has) serves
the whole module; the worker-loss test kills one of its processes and waits
for Dask's nanny to bring it back.
"""

import os
import pickle
import signal
import subprocess
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score

import skvectorflow.dask as svf_dask
from skvectorflow import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    SparseMLPClassifier,
    SparseMLPRanker,
    SparseMLPRegressor,
    SurvivalExponentialRegressor,
)
from skvectorflow._base import effective_n_threads
from skvectorflow.datasets import (
    make_criteo_like,
    make_sparse_classification,
    make_sparse_ranking,
    make_sparse_survival,
)
from skvectorflow.ranking import mean_ndcg
from skvectorflow.survival import concordance_index


WARMED_UP_KERNELS = ["_train_blocks[sum, adagrad, binary_log_loss]", "_predict_rows[sum]"]


@pytest.fixture(scope="module")
def client():
    # Starting process workers sets OMP_NUM_THREADS=1 (and MKL's, OpenBLAS's) in
    # THIS process's environment too (distributed's nanny pre-spawn settings),
    # which caps every later local fit at one thread: restore it afterwards.
    environment = dict(os.environ)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", worker_dashboard_address=":0")
    try:
        with distributed.Client(cluster) as dask_client:
            # The kernels most tests here run; the others compile on first use.
            svf_dask.warmup(dask_client, only=WARMED_UP_KERNELS)
            yield dask_client
    finally:
        cluster.close()
        os.environ.clear()
        os.environ.update(environment)


@pytest.fixture(scope="module")
def zipf_data():
    """Zipf-skewed classification rows, 80% to train in 2 blocks, 20% held out."""
    X, y = make_sparse_classification(n_samples=20_000, n_features=2**18, random_state=0)
    return X[:16_000], y[:16_000], X[16_000:], y[16_000:]


def _linear(max_iter=3, **params):
    # early_stopping off: the one-process fits these tests compare with train
    # on every row, as skvectorflow.dask does ('auto' would hold out 10%).
    params.setdefault("early_stopping", False)
    return SparseMLPClassifier(optimizer="adagrad", max_iter=max_iter, tol=None, random_state=0,
                               n_jobs=1, **params)


def _blocks(X, n_blocks=2):
    return da.from_array(X, chunks=(-(-X.shape[0] // n_blocks), -1), asarray=False)


def test_the_core_package_never_imports_dask():
    code = ("import sys, skvectorflow, skvectorflow.datasets; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert imported.stdout.strip() == "[]"


# ---- sweeps on joblib's Dask backend ----------------------------------------------

def test_grid_search_on_dask_backend_equals_a_local_sweep(client):
    X, y = make_sparse_classification(n_samples=1_500, n_features=2**12, random_state=1)
    X_before = X.copy()
    grid = {"alpha": [1e-5, 1e-3], "hidden_layer_sizes": [(), (4,)]}
    local = GridSearchCV(_linear(max_iter=2), grid, cv=2).fit(X, y)
    with joblib.parallel_config(backend="dask", scatter=[X, y]):
        remote = GridSearchCV(_linear(max_iter=2), grid, cv=2, n_jobs=-1).fit(X, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-6)
    assert remote.best_params_ == local.best_params_
    assert (X != X_before).nnz == 0


def test_cross_val_score_of_survival_on_dask_backend(client):
    X, y = make_sparse_survival(n_samples=1_000, n_features=2**10, random_state=2)
    model = SurvivalExponentialRegressor(max_iter=2, tol=None, random_state=0, n_jobs=1)
    local = cross_val_score(model, X, y, cv=2)
    with joblib.parallel_config(backend="dask"):
        remote = cross_val_score(model, X, y, cv=2, n_jobs=-1)
    np.testing.assert_allclose(remote, local, rtol=1e-6)


def _thread_counts(_):
    return effective_n_threads(None), effective_n_threads(-1), os.environ.get("OMP_NUM_THREADS")


def test_estimators_use_one_thread_inside_dask_tasks(client):
    # joblib's Dask backend nests itself: inside its tasks n_jobs=None asks
    # for every thread of the cluster, which must not become local threads.
    with joblib.parallel_config(backend="dask"):
        counts = joblib.Parallel(n_jobs=-1)(joblib.delayed(_thread_counts)(i) for i in range(4))
    assert counts == [(1, 1, "1")] * 4
    assert client.submit(_thread_counts, 0).result() == (1, 1, "1")


def test_warmup_reports_every_worker(client):
    seconds = svf_dask.warmup(client, only=WARMED_UP_KERNELS)
    assert set(seconds) == set(client.scheduler_info()["workers"])
    assert all(s >= 0 for s in seconds.values())


def test_warmup_rejects_a_name_no_kernel_has(client):
    with pytest.raises(ValueError, match="no kernel's name contains 'lbfgs'"):
        svf_dask.warmup(client, only=["sum, adagrad", "lbfgs"])


# ---- BSP training -----------------------------------------------------------------

def test_two_worker_bsp_auc_within_0_003_of_one_process(client, zipf_data):
    X, y, X_test, y_test = zipf_data
    one = _linear().fit(X, y)
    bsp = svf_dask.fit(_linear(), _blocks(X), y)
    auc_one = roc_auc_score(y_test, one.predict_proba(X_test)[:, 1])
    auc_bsp = roc_auc_score(y_test, bsp.predict_proba(X_test)[:, 1])
    assert auc_bsp > 0.65
    assert abs(auc_bsp - auc_one) <= 0.003
    assert bsp.n_iter_ == 3 and len(bsp.loss_curve_) == 3
    assert len(bsp.distributed_rounds_) == 3 * 4  # rounds_per_epoch="auto": 2 x 2 blocks
    assert bsp.t_ == one.t_  # one optimizer step per row, summed over the blocks


@pytest.mark.parametrize("kind", ["linear", "factorization machine"])
def test_bsp_trains_with_ftrl(client, zipf_data, kind):
    # FTRL's table rows carry z and n, combined as state; each row's weights
    # are put back on FTRL's closed form at the end of the fit.
    X, y, X_test, y_test = zipf_data
    X, y = X[:8_000], y[:8_000]

    def make():
        params = dict(optimizer="ftrl", l1=0.5, learning_rate_init=0.1, max_iter=2, tol=None,
                      random_state=0, n_jobs=1)
        if kind == "linear":
            return SparseMLPClassifier(**params)
        return FactorizationMachineClassifier(n_factors=2, **params)

    one = make().fit(X, y)
    bsp = svf_dask.fit(make(), _blocks(X), y)
    auc_one = roc_auc_score(y_test, one.predict_proba(X_test)[:, 1])
    auc_bsp = roc_auc_score(y_test, bsp.predict_proba(X_test)[:, 1])
    assert auc_bsp > 0.6 and auc_bsp > auc_one - 0.02, (auc_bsp, auc_one)
    table = bsp._network.input_table
    h0 = table.shape[1] // 3
    z, n = table[:, h0:2 * h0], table[:, 2 * h0:3 * h0]
    closed = -(z - np.sign(z) * np.float32(0.5)) / ((1.0 + np.sqrt(n)) / np.float32(0.1)
                                                    + np.float32(bsp.alpha))
    closed = np.where(np.abs(z) <= np.float32(0.5), 0.0, closed)
    started = n > 0
    np.testing.assert_allclose(table[:, :h0][started], closed[started], rtol=1e-4, atol=1e-7)
    assert np.mean(table[:, 0] == 0.0) > 0.5  # L1 leaves sparse (linear) weights


def test_bytes_per_round_at_most_a_third_of_the_whole_vector(client, zipf_data):
    X, y, _, _ = zipf_data
    rounds = []
    model = svf_dask.fit(_linear(max_iter=2), _blocks(X), y, callback=rounds.append)
    assert rounds == model.distributed_rounds_ and len(rounds) == 2 * 4
    for stats in rounds:
        moved = stats.bytes_to_workers + stats.bytes_from_workers
        assert 0 < moved <= stats.whole_vector_bytes / 3
        # Whole-vector averaging: the (2**18, 3) table (weight, AdaGrad sum, step stamp) and
        # the dense arrays, both ways, 2 blocks.
        assert stats.whole_vector_bytes == 2 * 2 * (2**18 * 3 * 4 + 2 * 4)
        assert np.isfinite(stats.loss) and stats.seconds > 0 and stats.retried_tasks == 0
    # A round sends every row its block touches but returns only those its
    # share of the epoch changed: 4 rounds an epoch move less than 4 single
    # rounds, though more than one.
    once = svf_dask.fit(_linear(max_iter=1), _blocks(X), y, rounds_per_epoch=1)
    single = sum(s.bytes_to_workers + s.bytes_from_workers for s in once.distributed_rounds_)
    per_epoch = sum(s.bytes_to_workers + s.bytes_from_workers for s in rounds if s.epoch == 1)
    assert single < per_epoch < 4 * single


def test_bsp_model_pickles_predicts_and_scores_as_usual(client, zipf_data):
    X, y, X_test, y_test = zipf_data
    model = svf_dask.fit(_linear(max_iter=1, hidden_layer_sizes=(8,)), _blocks(X), y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))
    assert restored.score(X_test, y_test) == model.score(X_test, y_test)
    assert model.n_features_in_ == X.shape[1]
    assert list(model.classes_) == [0, 1]


def test_rounds_per_epoch_syncs_more_often_and_moves_less_per_round(client, zipf_data):
    X, y, _, _ = zipf_data
    once = svf_dask.fit(_linear(max_iter=1), _blocks(X), y, rounds_per_epoch=1)
    four = svf_dask.fit(_linear(max_iter=1), _blocks(X), y, rounds_per_epoch=4)
    assert len(four.distributed_rounds_) == 4 and four.n_iter_ == 1
    assert len(four.loss_curve_) == 1
    assert [s.epoch for s in four.distributed_rounds_] == [1, 1, 1, 1]
    assert four.t_ == once.t_
    assert (four.distributed_rounds_[0].bytes_from_workers
            < once.distributed_rounds_[0].bytes_from_workers)


def test_auto_rounds_per_epoch_is_twice_the_non_empty_blocks(client, zipf_data):
    X, y, _, _ = zipf_data
    auto = svf_dask.fit(_linear(max_iter=1), _blocks(X, 3), y)
    explicit = svf_dask.fit(_linear(max_iter=1), _blocks(X, 3), y, rounds_per_epoch=6)
    assert [s.epoch for s in auto.distributed_rounds_] == [1] * 6
    np.testing.assert_array_equal(auto.coefs_[0], explicit.coefs_[0])
    # An empty block holds no rows to train: it is not counted.
    with_empty = svf_dask.fit(_linear(max_iter=1), [X[:8_000], X[:0], X[8_000:]], y)
    assert len(with_empty.distributed_rounds_) == 4


def test_server_step_and_state_combine_change_the_model(client, zipf_data):
    X, y, _, _ = zipf_data
    base = svf_dask.fit(_linear(max_iter=2), _blocks(X), y)
    again = svf_dask.fit(_linear(max_iter=2), _blocks(X), y)
    np.testing.assert_array_equal(again.coefs_[0], base.coefs_[0])  # deterministic
    for options in [{"server_learning_rate": 2.0}, {"state_combine": "mean"}, {"combine": "mean"}]:
        other = svf_dask.fit(_linear(max_iter=2), _blocks(X), y, **options)
        assert not np.array_equal(other.coefs_[0], base.coefs_[0]), options


def test_bsp_takes_a_list_of_blocks_on_workers(client, zipf_data):
    X, y, _, _ = zipf_data
    futures = client.compute([_blocks(X, 2).to_delayed()[b, 0] for b in range(2)])
    from_futures = svf_dask.fit(_linear(max_iter=1), futures, y)
    from_array = svf_dask.fit(_linear(max_iter=1), _blocks(X), y)
    np.testing.assert_array_equal(from_futures.coefs_[0], from_array.coefs_[0])
    from_local = svf_dask.fit(_linear(max_iter=1), [X[:8_000], X[8_000:]], y)
    np.testing.assert_array_equal(from_local.coefs_[0], from_array.coefs_[0])


def test_bsp_regressor_and_warm_start_continue(client):
    from skvectorflow.datasets import make_sparse_regression

    X, y = make_sparse_regression(n_samples=4_000, n_features=2**12, random_state=3)
    model = SparseMLPRegressor(max_iter=1, tol=None, random_state=0, n_jobs=1, warm_start=True)
    svf_dask.fit(model, _blocks(X), y)
    first_loss = model.loss_curve_[0]
    svf_dask.fit(model, _blocks(X), y)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    assert model.loss_curve_[1] < first_loss
    assert [s.round for s in model.distributed_rounds_] == list(range(1, 9))
    assert [s.epoch for s in model.distributed_rounds_] == [1] * 4 + [2] * 4
    assert model.score(X, y) > 0.2


def test_bsp_survival_matches_one_process(client):
    X, y = make_sparse_survival(n_samples=8_000, n_features=2**14, random_state=4)
    params = {"max_iter": 3, "tol": None, "random_state": 0, "n_jobs": 1}
    one = SurvivalExponentialRegressor(**params).fit(X[:6_000], y[:6_000])
    bsp = svf_dask.fit(SurvivalExponentialRegressor(**params), _blocks(X[:6_000]), y[:6_000])
    c_one = concordance_index(y[6_000:], one.predict(X[6_000:]))
    c_bsp = concordance_index(y[6_000:], bsp.predict(X[6_000:]))
    assert c_bsp > 0.6 and abs(c_bsp - c_one) < 0.01


@pytest.mark.parametrize("kind", ["factorization machine", "DLRM"])
def test_bsp_trains_field_models_as_well_as_one_process(client, kind):
    # The FM table is wider than its first layer; DLRM's layout maps every
    # column to its field, which each block must renumber with its columns.
    X, y, field_of_column = make_criteo_like(8_000, n_fields=6, n_dense=3, hash_bits=8,
                                             random_state=5)
    params = {"max_iter": 3, "tol": None, "random_state": 0, "n_jobs": 1}
    if kind == "DLRM":
        def make():
            return DLRMClassifier(field_of_column=field_of_column, embedding_dim=4,
                                  bottom_mlp=(8,), top_mlp=(8,), **params)
    else:
        def make():
            return FactorizationMachineClassifier(n_factors=4, learning_rate_init=0.03, **params)
    one = make().fit(X[:6_000], y[:6_000])
    bsp = svf_dask.fit(make(), _blocks(X[:6_000]), y[:6_000])
    auc_one = roc_auc_score(y[6_000:], one.decision_function(X[6_000:]))
    auc_bsp = roc_auc_score(y[6_000:], bsp.decision_function(X[6_000:]))
    # BSP may train further than one process (summed changes are bigger steps).
    assert auc_bsp > 0.6 and auc_bsp > auc_one - 0.01, (auc_bsp, auc_one)


def test_bsp_ranker_keeps_queries_in_blocks(client):
    X, y, qid = make_sparse_ranking(n_queries=300, docs_per_query=20, n_features=2**12,
                                    random_state=5)
    train = qid < 240
    X_train, y_train, qid_train = X[train], y[train], qid[train]
    params = {"max_iter": 3, "tol": None, "random_state": 0, "n_jobs": 1}
    one = SparseMLPRanker(**params).fit(X_train, y_train, qid=qid_train)
    # 120 queries of 20 documents per block: chunks follow query boundaries.
    bsp = svf_dask.fit(SparseMLPRanker(**params), _blocks(X_train), y_train, qid=qid_train)
    ndcg_one = mean_ndcg(y[~train], one.predict(X[~train]), qid[~train])
    ndcg_bsp = mean_ndcg(y[~train], bsp.predict(X[~train]), qid[~train])
    assert abs(ndcg_bsp - ndcg_one) < 0.02
    straddling = da.from_array(X_train, chunks=(2_390, -1), asarray=False)
    with pytest.raises(ValueError, match="Query 119 has rows in blocks 0 and 1"):
        svf_dask.fit(SparseMLPRanker(**params), straddling, y_train, qid=qid_train)


# ---- bad input -----------------------------------------------------------------------

def _with_bad_index(X):
    X = X.copy()
    X.indices[5] = 10**8
    return X


def test_bad_input_is_named_and_a_fitted_model_is_kept(client, zipf_data):
    X, y, _, _ = zipf_data
    model = svf_dask.fit(_linear(max_iter=1, warm_start=True), _blocks(X), y)
    coefs = model.coefs_[0].copy()
    rounds = list(model.distributed_rounds_)
    bad_calls = [
        ((ValueError, "column chunks"), {"X": da.from_array(X, chunks=(8_000, 2**17), asarray=False)}),
        ((ValueError, "X has 16000 samples but y has 15999"), {"y": y[:-1]}),
        ((ValueError, "rounds_per_epoch must be 'auto' or a positive int"),
         {"rounds_per_epoch": 0}),
        ((ValueError, "rounds_per_epoch must be 'auto' or a positive int"),
         {"rounds_per_epoch": 2.5}),
        ((ValueError, "rounds_per_epoch must be 'auto' or a positive int"),
         {"rounds_per_epoch": "Auto"}),
        ((ValueError, "rounds_per_epoch must be 'auto' or a positive int"),
         {"rounds_per_epoch": True}),
        ((ValueError, "server_learning_rate"), {"server_learning_rate": -1.0}),
        ((ValueError, "state_combine"), {"state_combine": "max"}),
        ((ValueError, "combine must be one of"), {"combine": "median"}),
        ((TypeError, "list of CSR blocks"), {"X": X}),
        ((TypeError, r"X\[1\] is a str"), {"X": [X[:10], "rows"]}),
        ((ValueError, "expecting 262144 features"), {"X": _blocks(X[:, :1000])}),
        # A block whose CSR arrays point outside the table: refused on its worker, by name.
        ((ValueError, r"a block of X.indices\[5\] \(row 0\) is column 100000000, outside \[0, 262144\)"),
         {"X": [X[:8_000], _with_bad_index(X[8_000:])]}),
    ]
    for (error, message), change in bad_calls:
        arguments = {"X": _blocks(X), "y": y, **change}
        with pytest.raises(error, match=message):
            svf_dask.fit(model, arguments.pop("X"), arguments.pop("y"), **arguments)
        np.testing.assert_array_equal(model.coefs_[0], coefs)
        assert model.distributed_rounds_ == rounds
    with pytest.raises(ValueError, match="early_stopping"):
        svf_dask.fit(_linear(early_stopping=True), _blocks(X), y)
    with pytest.raises(TypeError, match="skvectorflow estimator"):
        svf_dask.fit(GridSearchCV(_linear(), {}), _blocks(X), y)


def test_divergence_in_a_task_raises_and_keeps_the_model(client, zipf_data):
    X, y, _, _ = zipf_data
    model = svf_dask.fit(_linear(max_iter=1, warm_start=True), _blocks(X), y)
    coefs = model.coefs_[0].copy()
    huge = sp.csr_matrix(X * np.float32(1e30))
    model.set_params(optimizer="adagrad", learning_rate_init=1e10)
    with pytest.raises(ValueError, match="non-finite|diverged"):
        svf_dask.fit(model, _blocks(huge), y)
    np.testing.assert_array_equal(model.coefs_[0], coefs)


# ---- distributed predict ----------------------------------------------------------

def test_predict_blocks_equals_predict_and_sends_the_model_once(client, zipf_data):
    X, y, X_test, _ = zipf_data
    model = _linear(max_iter=1, hidden_layer_sizes=(4,)).fit(X, y)
    blocks = _blocks(X_test, 4)
    proba = svf_dask.predict_blocks(model, blocks, method="predict_proba")
    labels = svf_dask.predict_blocks(model, blocks)
    np.testing.assert_array_equal(proba.compute(), model.predict_proba(X_test))
    np.testing.assert_array_equal(labels.compute(), model.predict(X_test))
    assert proba.shape == (X_test.shape[0], 2) and labels.shape == (X_test.shape[0],)
    # The model is one key of the graph (so it travels once to each worker),
    # and every block's task reads it from there.
    graph = dict(labels.__dask_graph__())
    model_keys = [key for key, node in graph.items() if getattr(node, "value", None) is model]
    predict_keys = [key for key in graph if isinstance(key, tuple)
                    and str(key[0]).startswith("_predict_block")]
    assert len(model_keys) == 1 and len(predict_keys) == 4
    assert all(model_keys[0] in graph[key].dependencies for key in predict_keys)
    with pytest.raises(ValueError, match="method must be one of"):
        svf_dask.predict_blocks(model, blocks, method="predict_rate")
    with pytest.raises(ValueError, match="expecting 262144 features"):
        svf_dask.predict_blocks(model, _blocks(X_test[:, :100]))
    with pytest.raises(ValueError, match=r"X.indices\[5\] \(row 0\) is column 100000000"):
        # Corrupted on the worker, after dask's slicing (scipy's row slicing drops
        # out-of-range columns, so a corrupted whole X would arrive repaired).
        bad_blocks = blocks.map_blocks(_with_bad_index, dtype=np.float32)
        svf_dask.predict_blocks(model, bad_blocks).compute()


# ---- losing a worker ----------------------------------------------------------------

def test_a_worker_killed_mid_training_loses_and_doubles_nothing(client, zipf_data):
    X, y, _, _ = zipf_data
    undisturbed = svf_dask.fit(_linear(max_iter=2), _blocks(X, 4), y, rounds_per_epoch=2)

    pids_before = set(client.run(os.getpid).values())

    def kill_one_worker(stats):
        if stats.round == 1:
            os.kill(min(pids_before), signal.SIGKILL)

    try:
        disturbed = svf_dask.fit(_linear(max_iter=2), _blocks(X, 4), y, rounds_per_epoch=2,
                                 callback=kill_one_worker)
    finally:
        client.wait_for_workers(2, timeout=60)
    assert min(pids_before) not in set(client.run(os.getpid).values())  # it did die
    assert [s.round for s in disturbed.distributed_rounds_] == [1, 2, 3, 4]
    assert disturbed.t_ == undisturbed.t_
    np.testing.assert_array_equal(disturbed.coefs_[0], undisturbed.coefs_[0])
    np.testing.assert_array_equal(disturbed.intercepts_[0], undisturbed.intercepts_[0])
    assert disturbed.loss_curve_ == undisturbed.loss_curve_


# ---- experimental: bounded staleness through an Actor ---------------------------------

@pytest.mark.parametrize("staleness", [0, 2])
def test_ssp_trains_close_to_one_process(client, zipf_data, staleness):
    X, y, X_test, y_test = zipf_data
    one = _linear(max_iter=2).fit(X, y)
    ssp = svf_dask.fit_ssp(_linear(max_iter=2), _blocks(X), y, staleness=staleness,
                           rounds_per_epoch=2, server_learning_rate=0.5)
    auc_one = roc_auc_score(y_test, one.predict_proba(X_test)[:, 1])
    auc_ssp = roc_auc_score(y_test, ssp.predict_proba(X_test)[:, 1])
    assert abs(auc_ssp - auc_one) < 0.01
    assert len(ssp.loss_curve_) == 2 and ssp.n_iter_ == 2 and ssp.t_ == one.t_


def test_ssp_needs_a_thread_per_block(client, zipf_data):
    X, y, _, _ = zipf_data
    model = _linear(max_iter=1)
    with pytest.raises(ValueError, match="3 blocks need that many worker threads"):
        svf_dask.fit_ssp(model, _blocks(X, 3), y)
    assert not hasattr(model, "classes_")
    with pytest.raises(ValueError, match="staleness"):
        svf_dask.fit_ssp(model, _blocks(X), y, staleness=-1)
    with pytest.raises(ValueError, match="rounds_per_epoch must be 'auto' or a positive int"):
        svf_dask.fit_ssp(model, _blocks(X), y, rounds_per_epoch="twice")
