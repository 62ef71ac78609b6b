"""Hostile input: broken CSR structure, through every estimator, never crashes or corrupts a model.

The kernels index tables with a matrix's own arrays and check no bounds, so
these tests feed every estimator matrices whose ``indptr``/``indices`` lie.
The crash-prone cases run in a child process: a segfault fails the test (with
the case it died on) instead of killing pytest.  Property-based tests
(``hypothesis``) draw random CSR structures, valid and broken, and compare
each outcome with a plain-Python verdict on the same arrays.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skvectorflow import FactorizationMachineClassifier, SparseMLPClassifier, SparseMLPRegressor
from skvectorflow._engine import hogwild, network, objectives, optimizers
from skvectorflow._engine.csr import CSRStructureError, check_csr

from test_common import all_estimators, small_network, small_problem

TESTS_DIR = Path(__file__).resolve().parent


def _set(part, position, value, index_dtype=None):
    def corrupt(X):
        if index_dtype is not None:
            X.indices = X.indices.astype(index_dtype)
        getattr(X, part)[position] = value
        return X
    return corrupt


def _replace(part, cut):
    def corrupt(X):
        setattr(X, part, getattr(X, part)[:cut])
        return X
    return corrupt


def _decreasing_indptr(X):
    X.indptr[10] = X.indptr[12] + 3
    return X


def _float64_with_bad_index(X):
    X = X.astype(np.float64)
    X.indices[5] = 10**8
    return X


# Each: a copy of a valid float32 CSR X (300 x 40) -> a broken one, and the
# words the error must contain.
CORRUPTIONS = {
    "index far above n_features": (_set("indices", 5, 10**8), "X.indices[5] (row 1) is column 100000000"),
    "index far below 0": (_set("indices", 5, -10**8), "X.indices[5] (row 1) is column -100000000"),
    "index equal to n_features": (_set("indices", 5, 40), "is column 40, outside [0, 40)"),
    "index -1": (_set("indices", 5, -1), "is column -1, outside [0, 40)"),
    "index 2**31 - 1": (_set("indices", 5, 2**31 - 1), "is column 2147483647"),
    "int64 index 2**32 + 1 (not narrowed)": (_set("indices", 5, 2**32 + 1, np.int64), "is column 4294967297"),
    "indptr too short": (_replace("indptr", -5), "X.indptr has 296 entries"),
    "indptr not starting at 0": (_set("indptr", 0, 3), "X.indptr runs from 3"),
    "indptr decreasing": (_decreasing_indptr, "X.indptr[11]"),
    "indptr past the entries": (_set("indptr", -1, 10**6), "X.indptr runs from 0 to 1000000"),
    "data shorter than indices": (_replace("data", -3), "X.data has"),
    "float64 X with a bad index": (_float64_with_bad_index, "is column 100000000"),
}


def _methods(model):
    return [name for name in ("predict", "predict_proba", "decision_function") if hasattr(model, name)]


def _child(estimator_name):
    """Run every corruption through one estimator's fit, partial_fit and predict; print JSON lines."""
    import skvectorflow

    estimator_class = getattr(skvectorflow, estimator_name)
    X, y, fit_params = small_problem(estimator_class)
    make = lambda: estimator_class(**small_network(estimator_class), max_iter=2, random_state=0)  # noqa: E731
    fitted = make().fit(X, y, **fit_params)
    expected = {method: getattr(fitted, method)(X) for method in _methods(fitted)}
    for case, (corrupt, _) in CORRUPTIONS.items():
        stages = [("fit", lambda bad: make().fit(bad, y, **fit_params))]
        if hasattr(fitted, "partial_fit"):
            stages.append(("partial_fit", lambda bad: fitted.partial_fit(bad, y, **fit_params)))
        stages += [(method, lambda bad, m=method: getattr(fitted, m)(bad)) for method in expected]
        for stage, call in stages:
            # Flushed before the call: if the process dies, the parent knows where.
            print(json.dumps({"case": case, "stage": stage, "started": True}), flush=True)
            try:
                call(corrupt(X.copy()))
                outcome = "no error"
            except ValueError as error:
                outcome = f"ValueError: {error}"
            except Exception as error:  # reported to the parent, which fails on it
                outcome = f"{type(error).__name__}: {error}"
            unchanged = all(np.array_equal(getattr(fitted, m)(X), before) for m, before in expected.items())
            print(json.dumps({"case": case, "stage": stage, "outcome": outcome, "unchanged": unchanged}),
                  flush=True)
    print(json.dumps({"done": True}), flush=True)


@pytest.mark.parametrize("estimator_class", all_estimators(), ids=lambda c: c.__name__)
def test_broken_csr_structure_is_a_clear_error_in_every_method(estimator_class):
    """Every corruption, every estimator, every method: a ValueError naming the array, model intact."""
    code = (f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); import test_fuzz; "
            f"test_fuzz._child({estimator_class.__name__!r})")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONWARNINGS": "ignore"})
    records = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    started = [r for r in records if r.get("started")]
    assert child.returncode == 0, (
        f"the child process died (exit {child.returncode}) during {started[-1] if started else 'setup'}:\n"
        f"{child.stderr[-3000:]}")
    assert records and records[-1] == {"done": True}
    outcomes = [r for r in records if "outcome" in r]
    assert len(outcomes) == len(started) >= 3 * len(CORRUPTIONS)
    for record in outcomes:
        expected_words = CORRUPTIONS[record["case"]][1]
        assert record["outcome"].startswith("ValueError") and expected_words in record["outcome"], record
        assert record["unchanged"], record


def _valid_X():
    return sp.random(60, 12, density=0.3, format="csr", dtype=np.float32, random_state=3)


@pytest.fixture(scope="module")
def fitted_models():
    X = _valid_X()
    y = np.arange(60) % 2
    return X, [SparseMLPClassifier(max_iter=2, random_state=0).fit(X, y),
               SparseMLPClassifier(hidden_layer_sizes=(4,), optimizer="adam", max_iter=2, random_state=0).fit(X, y),
               FactorizationMachineClassifier(n_factors=3, max_iter=2, random_state=0).fit(X, y)]


def test_valid_but_unusual_structures_predict_as_their_canonical_form(fitted_models):
    """Strided arrays, unsorted rows and repeated columns (with a forged canonical flag) are fine."""
    X, models = fitted_models
    canonical = X.copy()
    rng = np.random.default_rng(0)
    # Rows reversed within themselves; the first entry of each row repeated as a half + half.
    unsorted = X.copy()
    for row in range(X.shape[0]):
        start, stop = X.indptr[row], X.indptr[row + 1]
        unsorted.indices[start:stop] = X.indices[start:stop][::-1]
        unsorted.data[start:stop] = X.data[start:stop][::-1]
    repeated = sp.csr_matrix(X.shape, dtype=np.float32)
    keep = rng.random(X.nnz) < 0.5
    repeated.indices = np.concatenate([X.indices, X.indices[keep]])
    repeated.data = np.concatenate([np.where(keep, X.data / 2, X.data), X.data[keep] / 2]).astype(np.float32)
    rows = np.concatenate([np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)),
                           np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[keep]])
    order = np.argsort(rows, kind="stable")
    repeated.indices, repeated.data = repeated.indices[order], repeated.data[order]
    repeated.indptr = np.append(0, np.cumsum(np.bincount(rows, minlength=X.shape[0])))
    repeated.has_canonical_format = True  # a lie scipy would trust
    strided = sp.csr_matrix(X.shape, dtype=np.float32)
    strided.data = np.repeat(X.data, 2)[::2]
    strided.indices = np.repeat(X.indices, 2)[::2]
    strided.indptr = X.indptr
    assert not strided.data.flags.c_contiguous
    for model in models:
        expected = model.predict_proba(canonical)
        for variant in (unsorted, repeated, strided):
            np.testing.assert_allclose(model.predict_proba(variant), expected, rtol=1e-5, atol=1e-6)
    # Fitting on the repeated form trains the model of the summed form.
    y = np.arange(60) % 2
    np.testing.assert_allclose(
        SparseMLPClassifier(max_iter=2, random_state=0).fit(repeated, y).predict_proba(X),
        SparseMLPClassifier(max_iter=2, random_state=0).fit(canonical, y).predict_proba(X), rtol=1e-5)


@st.composite
def csr_structures(draw):
    """Arrays of a CSR matrix of 12 columns: mostly valid, often broken in one place."""
    n_rows = draw(st.integers(1, 8))
    lengths = draw(st.lists(st.integers(0, 5), min_size=n_rows, max_size=n_rows))
    indptr = np.append(0, np.cumsum(lengths)).astype(np.int64)
    nnz = int(indptr[-1])
    indices = np.array(draw(st.lists(st.integers(-3, 14), min_size=nnz, max_size=nnz)), dtype=np.int64)
    data = np.array(draw(st.lists(st.floats(-2, 2, width=32), min_size=nnz, max_size=nnz)), dtype=np.float32)
    if draw(st.booleans()):
        indptr[draw(st.integers(0, n_rows))] += draw(st.integers(-3, 3))
    index_dtype = draw(st.sampled_from([np.int32, np.int64]))
    return indptr, indices.astype(index_dtype), data, n_rows


def _structure_is_valid(indptr, indices, data, n_rows, n_columns):
    """The verdict in plain Python, for comparison."""
    if len(indptr) != n_rows + 1 or indptr[0] != 0 or indptr[-1] != len(indices) or len(data) != len(indices):
        return False
    if any(indptr[i + 1] < indptr[i] for i in range(n_rows)):
        return False
    return all(0 <= column < n_columns for column in indices.tolist())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(structure=csr_structures())
def test_random_structures_predict_correctly_or_raise(fitted_models, structure):
    indptr, indices, data, n_rows = structure
    X = sp.csr_matrix((n_rows, 12), dtype=np.float32)
    X.data, X.indices, X.indptr = data, indices, indptr
    valid = _structure_is_valid(indptr, indices, data, n_rows, 12)
    for model in fitted_models[1]:
        if not valid:
            with pytest.raises(ValueError):
                model.predict_proba(X)
            continue
        # The same matrix built by scipy (duplicates summed), one row at a time in dense form.
        dense = np.zeros((n_rows, 12), np.float32)
        for row in range(n_rows):
            np.add.at(dense[row], indices[indptr[row]:indptr[row + 1]], data[indptr[row]:indptr[row + 1]])
        np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(dense), rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(structure=csr_structures())
def test_random_structures_fit_or_raise(structure):
    indptr, indices, data, n_rows = structure
    X = sp.csr_matrix((n_rows, 12), dtype=np.float32)
    X.data, X.indices, X.indptr = data, indices, indptr
    y = np.arange(n_rows, dtype=np.float64)
    if _structure_is_valid(indptr, indices, data, n_rows, 12):
        model = SparseMLPRegressor(max_iter=1, random_state=0).fit(X, y)
        assert np.isfinite(model.coefs_[0]).all()
    else:
        with pytest.raises(ValueError):
            SparseMLPRegressor(max_iter=1, random_state=0).fit(X, y)


def test_check_csr_names_the_array_entry_and_row():
    indptr = np.array([0, 2, 5], np.int64)
    with pytest.raises(CSRStructureError, match=r"M.indices\[3\] \(row 1\) is column 9, outside \[0, 4\)"):
        check_csr(indptr, np.array([0, 1, 2, 9, 3], np.int32), np.ones(5, np.float32), 4, name="M")
    checked, _ = check_csr(indptr, np.array([0, 1, 2, 3, 3], np.int64), np.ones(5, np.float32), 4)
    assert checked.indices.dtype == np.int32 and checked.n_columns == 4
    with pytest.raises(CSRStructureError, match="must hold integers"):
        check_csr(indptr, np.ones(5, np.float32), np.ones(5, np.float32), 4)
    with pytest.raises(CSRStructureError, match="1-d array"):
        check_csr(indptr.reshape(1, -1), np.zeros(5, np.int32), np.ones(5, np.float32), 4)


def _linear_network(optimizer, n_features=6):
    layout = network.make_layout([1, 1])
    width = network.table_width(layout)
    table = np.zeros((n_features, width + optimizers.input_state_width(optimizer, width)), np.float32)
    dense = np.zeros(network.n_dense_params(layout), np.float32)
    state = np.zeros(optimizers.dense_state_width(optimizer) * dense.size, np.float32)
    return layout, table, dense, state


def test_the_engine_refuses_arrays_it_would_index_out_of_bounds():
    """No caller (a truncated model file, a changed optimizer) can make a kernel leave its arrays."""
    layout, table, dense, state = _linear_network(optimizers.ADAGRAD)
    X = sp.random(5, 6, density=0.5, format="csr", dtype=np.float32, random_state=0)
    csr = (X.indptr.astype(np.int64), X.indices, X.data)
    assert hogwild.predict_outputs(csr, 5, table, dense, layout, 0, 1).shape == (5, 1)
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        hogwild.predict_outputs(csr, 5, table[:3], dense, layout, 0, 1)
    with pytest.raises(ValueError, match="indptr has 6 entries; a CSR matrix of 4 rows needs 5"):
        hogwild.predict_outputs(csr, 4, table, dense, layout, 0, 1)
    with pytest.raises(ValueError, match="dense_params holds 0 values"):
        hogwild.predict_outputs(csr, 5, table, dense[:0], layout, 0, 1)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        hogwild.predict_outputs(csr, 5, table.astype(np.float64), dense, layout, 0, 1)
    config = hogwild.make_train_config(
        loss=objectives.SQUARED_ERROR, use_callback=0, activation=0, optimizer=optimizers.ADAM,
        learning_rate_schedule=optimizers.CONSTANT, learning_rate=0.1, power_t=0.5, alpha=0.0, l1=0.0,
        beta_1=0.9, beta_2=0.999, epsilon=1e-8, huber_delta=1.0, batch_size=1, n_outputs=1, n_targets=1)
    scratch = [hogwild.make_thread_scratch(layout, dense.size, 1, 1, 6, 1)]
    targets, weight = np.zeros((5, 1), np.float32), np.ones(5, np.float32)
    blocks, order = np.array([0, 5], np.int64), np.array([0], np.int64)
    # An AdaGrad-shaped table handed to Adam, which keeps two moments per weight.
    adam_config = config
    config = config._replace(optimizer=optimizers.ADAGRAD)
    assert hogwild.run_epoch(csr, targets, weight, np.zeros(0, np.int64), blocks, order, (table, dense, state),
                             layout, config, None, scratch, 0).status == hogwild.STATUS_OK
    with pytest.raises(ValueError, match="input_table has 3 columns; its layer sizes and optimizer need 4"):
        hogwild.run_epoch(csr, targets, weight, np.zeros(0, np.int64), blocks, order, (table, dense, state),
                          layout, adam_config, None, scratch, 0)
    layout, table, dense, state = _linear_network(optimizers.ADAM)
    config = adam_config
    with pytest.raises(ValueError, match="dense_state holds 0 values; the optimizer needs 6"):
        hogwild.run_epoch(csr, targets, weight, np.zeros(0, np.int64), blocks, order,
                          (table, dense, state[:0]), layout, config, None, scratch, 0)
    with pytest.raises(ValueError, match="block_order must name blocks"):
        hogwild.run_epoch(csr, targets, weight, np.zeros(0, np.int64), blocks, np.array([3], np.int64),
                          (table, dense, state), layout, config, None, scratch, 0)
    with pytest.raises(ValueError, match="targets of 5 rows"):
        hogwild.run_epoch(csr, targets[:4], weight, np.zeros(0, np.int64), blocks, order,
                          (table, dense, state), layout, config, None, scratch, 0)
    result = hogwild.run_epoch(csr, targets, weight, np.zeros(0, np.int64), blocks, order,
                               (table, dense, state), layout, config, None, scratch, 0)
    assert result.status == hogwild.STATUS_OK and result.n_steps == 5


def test_a_truncated_weight_table_in_a_pickle_is_refused_not_read_past(fitted_models):
    X, models = fitted_models
    import pickle
    broken = pickle.loads(pickle.dumps(models[0]))
    broken._network.input_table = broken._network.input_table[:5]
    with pytest.raises(ValueError, match=r"outside \[0, 5\)|input_table"):
        broken.predict(X)
    broken = pickle.loads(pickle.dumps(models[1]))
    broken._network.dense_params = broken._network.dense_params[:-1]
    with pytest.raises(ValueError, match="dense_params"):
        broken.predict(X)
