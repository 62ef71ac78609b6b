"""Tests for the Criteo reader, the synthetic Criteo-like data, and the field map."""

import gzip
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from skvectorflow.criteo import (
    CriteoReader,
    count_criteo,
    criteo_field_map,
    parse_criteo_chunk,
)
from skvectorflow.datasets import load_criteo, make_criteo_like
from skvectorflow.fields import (
    DENSE_FIELD,
    FieldHasher,
    check_field_map,
    field_map_of_blocks,
    hash_values,
)


def _line(label="0", counts=("1",) * 13, tokens=("68fd1e64",) * 26):
    return "\t".join([label, *counts, *tokens])


@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_written_file_reads_back_as_the_generated_matrix(tmp_path, suffix):
    path = tmp_path / f"day{suffix}"
    X, y, field_of_column = make_criteo_like(500, hash_bits=6, random_state=3, path=path)
    X_read, y_read, field_read = load_criteo(path, hash_bits=6)
    assert isinstance(X_read, sp.csr_matrix) and X_read.dtype == np.float32
    assert X_read.indices.dtype == np.int32 and X_read.has_sorted_indices
    assert (X_read != X).nnz == 0
    np.testing.assert_array_equal(y_read, y)
    np.testing.assert_array_equal(field_read, field_of_column)
    # Every row has one entry per categorical field, in that field's columns.
    categorical = X_read[:, 13:]
    assert np.all(categorical.getnnz(axis=1) == 26)
    fields = field_of_column[categorical.indices + 13].reshape(500, 26)
    np.testing.assert_array_equal(fields, np.tile(np.arange(26), (500, 1)))


def test_n_rows_and_chunk_boundaries(tmp_path, monkeypatch):
    from skvectorflow import criteo

    path = tmp_path / "day.tsv"
    X, y, _ = make_criteo_like(300, hash_bits=5, random_state=0, path=path)
    # Chunks much smaller than a line exercise the carried partial lines.
    monkeypatch.setattr(criteo, "_CHUNK_BYTES", 97)
    X_read, y_read, _ = load_criteo(path, hash_bits=5)
    assert (X_read != X).nnz == 0
    X_head, y_head, _ = load_criteo(path, n_rows=41, hash_bits=5)
    assert X_head.shape[0] == 41 and (X_head != X[:41]).nnz == 0
    np.testing.assert_array_equal(y_head, y[:41])


@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_convert_streams_criteo_into_the_memory_mapped_format(tmp_path, monkeypatch, suffix):
    from skvectorflow import criteo
    from skvectorflow.io import convert, fit_stream, load_csr

    path = tmp_path / f"day{suffix}"
    X, y, _ = make_criteo_like(400, hash_bits=5, random_state=1, path=path)
    monkeypatch.setattr(criteo, "_CHUNK_BYTES", 1000)  # several chunks
    reader = criteo.CriteoReader(path, hash_bits=5)
    chunks = list(reader)
    assert len(chunks) > 3 and reader.fraction_read == 1.0
    assert sum(chunk[0].shape[0] for chunk in chunks) == 400
    header = convert(path, tmp_path / "day", "criteo", hash_bits=5)
    assert (header["n_rows"], header["n_features"]) == (400, X.shape[1])
    # The field map is stored beside the arrays, for DLRMClassifier.
    assert header["has_field_map"]
    stored = np.load(tmp_path / "day" / "field_of_column.npy")
    assert stored.dtype == np.int32
    np.testing.assert_array_equal(stored, criteo.criteo_field_map(hash_bits=5))
    X_mapped, y_mapped = load_csr(tmp_path / "day")
    assert (X_mapped != X).nnz == 0
    np.testing.assert_array_equal(y_mapped, y)
    # The reader also feeds partial_fit directly.
    from skvectorflow import SparseMLPClassifier

    model = fit_stream(SparseMLPClassifier(random_state=0), reader, n_epochs=2,
                       classes=np.array([0, 1]))
    assert model.n_features_in_ == X.shape[1]


def test_values_missing_fields_and_hashing():
    counts = ["5", "", "0", "-2"] + ["1"] * 9
    tokens = ["", "68fd1e64"] + ["a"] * 24
    indptr, indices, data, labels = parse_criteo_chunk(
        (_line("1", counts, tokens) + "\r\n\n").encode(), hash_bits=8)
    assert indptr.tolist() == [0, 2 + 9 + 26] and labels.tolist() == [1.0]
    np.testing.assert_allclose(data[:2], [np.log1p(5), -np.log1p(2)], rtol=1e-6)
    assert indices[:2].tolist() == [0, 3]
    # A missing token is a category of its own, hashed like the empty string.
    assert indices[11] == 13 + hash_values([""], 0, 8)[0]
    assert indices[12] == 13 + 256 + hash_values(["68fd1e64"], 1, 8)[0]
    # The same token hashes to different columns in different fields.
    offsets = indices[13:] - 13 - 256 * np.arange(2, 26)
    assert len(set(offsets.tolist())) > 1


@pytest.mark.parametrize(
    "line, message",
    [
        (_line(counts=("1",) * 12), "has 39 tab-separated fields, expected 40"),
        (_line() + "\textra", "has 41 tab-separated fields, expected 40"),
        (_line(label="2"), "has label '2', expected 0 or 1"),
        (_line(counts=("1", "x7") + ("1",) * 11), "has 'x7' in integer column 2"),
        (_line(counts=("-",) + ("1",) * 12), "has '-' in integer column 1"),
    ],
)
def test_malformed_line_is_reported_with_file_and_line_number(tmp_path, line, message):
    path = tmp_path / "bad.tsv.gz"
    with gzip.open(path, "wt") as stream:
        stream.write(_line() + "\n" + _line() + "\n" + line + "\n" + _line() + "\n")
    with pytest.raises(ValueError, match=f"bad.tsv.gz, line 3: {message}"):
        load_criteo(path, hash_bits=4)
    with pytest.raises(ValueError, match=f"<chunk>, line 12: {message}"):
        parse_criteo_chunk((line + "\n").encode(), hash_bits=4, first_line=12)


def test_reader_and_generator_reject_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="hash_bits must be in"):
        load_criteo(tmp_path / "x", hash_bits=0)
    with pytest.raises(ValueError, match="n_rows must be >= 1"):
        load_criteo(tmp_path / "x", n_rows=0)
    with pytest.raises(ValueError, match="missing_rate"):
        make_criteo_like(10, missing_rate=2.0)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        make_criteo_like(10.5)


def test_criteo_like_labels_depend_on_field_interactions():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    aucs = {}
    for strength in (0.0, 3.0):
        X, y, _ = make_criteo_like(6000, n_fields=10, hash_bits=6, max_cardinality=50,
                                   interaction_strength=strength, random_state=1)
        model = LogisticRegression(C=0.3, solver="liblinear").fit(X[:4500], y[:4500])
        aucs[strength] = roc_auc_score(y[4500:], model.decision_function(X[4500:]))
    # A linear teacher is learnt well by a linear model; a mostly pairwise one is not.
    assert aucs[0.0] > 0.75
    assert aucs[3.0] < aucs[0.0] - 0.1


def test_generator_is_reproducible():
    first = make_criteo_like(200, hash_bits=6, random_state=5)
    second = make_criteo_like(200, hash_bits=6, random_state=5)
    assert (first[0] != second[0]).nnz == 0
    np.testing.assert_array_equal(first[1], second[1])


# ---- field map -------------------------------------------------------------------


def test_field_map_checks():
    field_map, n_fields = check_field_map([-1, 0, 0, 1], 4)
    assert field_map.dtype == np.int32 and n_fields == 2
    with pytest.raises(ValueError, match="field_of_column has 3 entries but X has 4 columns"):
        check_field_map([-1, 0, 1], 4)
    with pytest.raises(ValueError, match="field 1 has no columns"):
        check_field_map([-1, 0, 2, 2], 4)
    with pytest.raises(ValueError, match="holds -2"):
        check_field_map([-2, 0, 0, 0], 4)
    with pytest.raises(TypeError, match="must hold integers"):
        check_field_map([0.5, 0, 0, 0], 4)
    assert field_map_of_blocks(1, [2]).tolist() == [DENSE_FIELD, 0, 0]


def _frame():
    return pd.DataFrame({
        "clicks": [0, 3, np.nan, 10],
        "site": ["a", None, "b", "a"],
        "device": pd.Categorical(["ios", "android", "ios", np.nan]),
        "price": [1.5, -2.0, 0.0, 4.0],
    })


def test_field_hasher_output_and_field_map():
    hasher = FieldHasher(hash_bits=3)
    X = hasher.fit_transform(_frame())
    assert hasher.numeric_columns_ == ["clicks", "price"]
    assert hasher.categorical_columns_ == ["site", "device"]
    assert hasher.field_of_column_.tolist() == [-1, -1] + [0] * 8 + [1] * 8
    assert X.shape == (4, 18) and X.dtype == np.float32 and X.has_sorted_indices
    dense = X[:, :2].toarray()
    np.testing.assert_allclose(dense[:, 0], np.log1p([0, 3, 0, 10]), rtol=1e-6)
    np.testing.assert_allclose(dense[:, 1], [np.log1p(1.5), -np.log1p(2.0), 0, np.log1p(4)], rtol=1e-6)
    site = X[:, 2:10].toarray().argmax(axis=1)
    assert site[0] == site[3] == hash_values(["a"], 0, 3)[0]
    assert site[1] == hash_values([""], 0, 3)[0]  # missing is its own category
    assert np.all(X[:, 2:].getnnz(axis=1) == 2)
    # Values never seen in fit are hashed too.
    unseen = _frame().assign(site=["zzz"] * 4)
    assert hasher.transform(unseen).shape == (4, 18)


def test_field_hasher_bad_input():
    with pytest.raises(ValueError, match="names 'nope'"):
        FieldHasher(categorical_columns=["nope"]).fit(_frame())
    with pytest.raises(ValueError, match="numeric column 'site'"):
        FieldHasher(numeric_columns=["site"], categorical_columns=["device"]).fit(_frame())
    hasher = FieldHasher(hash_bits=3).fit(_frame())
    with pytest.raises(ValueError, match="lacks column 'device'"):
        hasher.transform(_frame().drop(columns="device"))
    assert clone(hasher).get_params() == hasher.get_params()


def test_field_hasher_in_a_pipeline_with_a_linear_model():
    from sklearn.linear_model import LogisticRegression

    frame = pd.concat([_frame()] * 10, ignore_index=True)
    y = np.tile([0, 1, 1, 0], 10)
    pipeline = make_pipeline(FieldHasher(hash_bits=4), LogisticRegression()).fit(frame, y)
    assert pipeline.predict(frame).shape == (40,)


def _rows():
    """The rows of _frame() as an object array, read by position as x0..x3."""
    return np.array([
        [0, "a", "ios", 1.5],
        [3, None, "android", -2.0],
        [np.nan, "b", "ios", 0.0],
        [10, "a", None, 4.0],
    ], dtype=object)


def test_field_hasher_reads_an_object_array_like_the_same_dataframe():
    hasher = FieldHasher(hash_bits=3).fit(_rows())
    assert hasher.numeric_columns_ == ["x0", "x3"]
    assert hasher.categorical_columns_ == ["x1", "x2"]
    assert not hasattr(hasher, "feature_names_in_") and hasher.n_features_in_ == 4
    frame = pd.DataFrame(_rows(), columns=["x0", "x1", "x2", "x3"]).astype({"x0": float, "x3": float})
    expected = FieldHasher(hash_bits=3).fit_transform(frame)
    assert (hasher.transform(_rows()) != expected).nnz == 0
    # A list of rows mixing numbers and strings is read as the object array.
    assert (hasher.fit_transform(_rows().tolist()) != expected).nnz == 0


def test_field_hasher_reads_a_numeric_array_as_dense_columns():
    X = np.array([[0.0, 3.0], [np.nan, -1.0], [2.0, np.inf]])
    hasher = FieldHasher(numeric_transform="none").fit(X)
    assert hasher.numeric_columns_ == ["x0", "x1"] and hasher.n_fields_ == 0
    np.testing.assert_array_equal(hasher.transform(X).toarray(), [[0, 3], [0, -1], [2, 0]])
    assert hasher.get_feature_names_out().tolist() == ["x0", "x1"]
    assert hasher.get_feature_names_out(["a", "b"]).tolist() == ["a", "b"]


def test_field_hasher_names_array_columns_by_position():
    X = np.array([[1, 7], [2, 7], [1, 8]])
    by_position = FieldHasher(hash_bits=2, categorical_columns=[1]).fit(X)
    by_name = FieldHasher(hash_bits=2, categorical_columns=["x1"]).fit(X)
    assert by_position.categorical_columns_ == by_name.categorical_columns_ == ["x1"]
    assert by_position.numeric_columns_ == ["x0"]
    assert (by_position.transform(X) != by_name.transform(X)).nnz == 0
    assert by_position.get_feature_names_out().tolist() == ["x0", "x1=0", "x1=1", "x1=2", "x1=3"]
    with pytest.raises(ValueError, match="categorical_columns names column 2, but X has 2 columns"):
        FieldHasher(categorical_columns=[2]).fit(X)
    with pytest.raises(ValueError, match="numeric column 'x1' holds values that are not numbers"):
        FieldHasher(numeric_columns=[1]).fit(_rows())


def test_field_hasher_keeps_the_column_kinds_chosen_in_fit():
    hasher = FieldHasher(hash_bits=3).fit(_rows())
    rows = _rows()
    rows[:, 0] = [None, pd.NA, np.nan, None]  # numeric in fit: missing values become 0
    rows[:, 1] = 5       # categorical in fit: numbers are hashed
    Xt = hasher.transform(rows)
    assert Xt[:, 0].nnz == 0
    assert np.all(Xt[:, 2:10].toarray().argmax(axis=1) == hash_values(["5"], 0, 3)[0])
    for text in ("many", "1.5"):  # numpy would parse "1.5"
        rows[1, 3] = text
        with pytest.raises(ValueError, match="numeric column 'x3' holds a value that is not a number"):
            hasher.transform(rows)
    rows = _rows()
    rows[0, 2] = {"os": "ios"}
    with pytest.raises(TypeError, match="categorical column 'x2' holds a value that cannot be hashed"):
        hasher.transform(rows)


def test_field_hasher_array_errors_and_a_failed_fit_keeps_the_fitted_state():
    hasher = FieldHasher(hash_bits=3).fit(_rows())
    expected = hasher.transform(_rows())
    with pytest.raises(ValueError, match="X has 3 features, but FieldHasher is expecting 4"):
        hasher.transform(_rows()[:, :3])
    with pytest.raises(ValueError, match="names 'nope'"):
        hasher.set_params(categorical_columns=["nope"]).fit(pd.DataFrame({"a": [1.0]}))
    assert hasher.n_features_in_ == 4 and not hasattr(hasher, "feature_names_in_")
    assert (hasher.transform(_rows()) != expected).nnz == 0


def test_field_hasher_reads_a_named_dataframe_by_name():
    hasher = FieldHasher(hash_bits=3).fit(_frame())
    assert hasher.feature_names_in_.tolist() == ["clicks", "site", "device", "price"]
    expected = hasher.transform(_frame())
    # Reordered columns and extra ones are fine, as with ColumnTransformer.
    shuffled = _frame()[["price", "device", "clicks", "site"]].assign(extra=1)
    assert (hasher.transform(shuffled) != expected).nnz == 0
    # Without string column names a DataFrame is read by position, like an array.
    unnamed = FieldHasher(hash_bits=3).fit(_frame().set_axis(range(4), axis=1))
    assert not hasattr(unnamed, "feature_names_in_")
    assert unnamed.categorical_columns_ == ["x1", "x2"]
    with pytest.raises(TypeError, match="only supported if all input features have string names"):
        FieldHasher().fit(_frame().set_axis(["clicks", 1, "device", "price"], axis=1))


def test_field_hasher_without_pandas_says_how_to_install_it(monkeypatch):
    rows = _rows()
    fitted = FieldHasher(hash_bits=3).fit(rows)
    unfitted = FieldHasher(hash_bits=3)
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    for call in (lambda: unfitted.fit(rows), lambda: fitted.transform(rows)):
        with pytest.raises(ImportError, match=re.escape(
                "FieldHasher needs pandas: pip install 'skvectorflow[pandas]'")):
            call()
    assert not hasattr(unfitted, "n_features_in_")


# Makes `import pandas` fail as if it were not installed, unlike sys.modules["pandas"] = None,
# which scikit-learn's own pandas checks would trip over.
_WITHOUT_PANDAS = """
import importlib, importlib.abc, pkgutil, sys

class NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoPandas())
import skvectorflow

for module in pkgutil.walk_packages(skvectorflow.__path__, "skvectorflow."):
    try:
        importlib.import_module(module.name)
    except ModuleNotFoundError as error:  # another extra (dask) is not installed
        if error.name.partition(".")[0] in ("pandas", "skvectorflow"):
            raise
assert "pandas" not in sys.modules

from skvectorflow import SparseMLPClassifier
from skvectorflow.datasets import make_sparse_classification
from skvectorflow.fields import FieldHasher

X, y = make_sparse_classification(n_samples=200, n_features=64, random_state=0)
print(SparseMLPClassifier(max_iter=1, n_jobs=1, random_state=0).fit(X, y).predict(X).shape)
try:
    FieldHasher().fit([[1.0, 2.0]])
except ImportError as error:
    print(error)
"""


def test_skvectorflow_imports_and_trains_without_pandas():
    # scikit-learn imports pandas when it is installed, so "is pandas in
    # sys.modules after import skvectorflow" says nothing about skvectorflow;
    # a process where pandas cannot be imported does.
    result = subprocess.run([sys.executable, "-c", _WITHOUT_PANDAS], capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "(200,)", "FieldHasher needs pandas: pip install 'skvectorflow[pandas]'"]


# ---- min_frequency: rare categories folded into one column per field ----------------


def _fold_by_brute_force(X_train, X, n_dense, width, threshold):
    """X with the rare columns of each field moved to the field's infrequent column.

    Counts every categorical column of ``X_train`` with a Python loop over
    rows, then moves each entry of ``X`` whose column was seen fewer than
    ``threshold`` times to the lowest such column of its field.
    """
    from collections import Counter

    seen = Counter()
    for row in range(X_train.shape[0]):
        for column in X_train.indices[X_train.indptr[row]:X_train.indptr[row + 1]]:
            seen[int(column)] += 1
    n_fields = (X.shape[1] - n_dense) // width
    infrequent = {}
    for field in range(n_fields):
        rare = [c for c in range(n_dense + field * width, n_dense + (field + 1) * width)
                if seen[c] < threshold]
        if rare:
            infrequent[field] = rare[0]
    rows = X.tolil()
    folded = sp.lil_matrix(X.shape, dtype=np.float32)
    for row, (columns, values) in enumerate(zip(rows.rows, rows.data)):
        for column, value in zip(columns, values):
            if column >= n_dense and seen[column] < threshold:
                column = infrequent[(column - n_dense) // width]
            folded[row, column] = value
    return folded.tocsr()


@pytest.fixture(scope="module")
def criteo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("min_frequency") / "day.tsv"
    X, y, _ = make_criteo_like(400, hash_bits=7, max_cardinality=300, random_state=5, path=path)
    return path, X, y


@pytest.mark.parametrize("min_frequency, threshold", [(4, 4), (0.0213, 9)])
def test_load_criteo_min_frequency_folds_as_a_brute_force_count(criteo_file, min_frequency,
                                                                 threshold):
    path, X, _ = criteo_file
    folded, _, field_of_column = load_criteo(path, hash_bits=7, min_frequency=min_frequency)
    expected = _fold_by_brute_force(X, X, 13, 128, threshold)
    assert (folded != expected).nnz == 0
    assert (folded != X).nnz > 0  # something was folded
    assert folded.has_sorted_indices and folded.indices.dtype == np.int32
    np.testing.assert_array_equal(field_of_column, criteo_field_map(hash_bits=7))
    # Each field now has at most one column below the threshold: its infrequent one.
    column_counts = np.bincount(folded.indices, minlength=folded.shape[1])[13:].reshape(26, 128)
    assert np.all(((column_counts > 0) & (column_counts < threshold)).sum(axis=1) <= 1)


def test_min_frequency_none_one_and_a_fraction_below_one_row_fold_nothing(criteo_file):
    path, X, _ = criteo_file
    for min_frequency in (None, 1, 0.001):  # 0.001 of 400 rows is less than one row
        folded, _, _ = load_criteo(path, hash_bits=7, min_frequency=min_frequency)
        assert (folded != X).nnz == 0


def test_held_out_rows_are_folded_by_the_training_counts(criteo_file):
    path, X, _ = criteo_file
    counts = count_criteo(path, n_rows=300, hash_bits=7)
    assert counts.n_rows == 300 and counts.counts.shape == (26, 128)
    train = X[:300]
    np.testing.assert_array_equal(
        counts.counts.ravel(), np.bincount(train.indices, minlength=X.shape[1])[13:])
    folded, _, _ = load_criteo(path, hash_bits=7, min_frequency=3, counts=counts)
    assert (folded != _fold_by_brute_force(train, X, 13, 128, 3)).nnz == 0
    # A column the training rows never saw goes to its field's infrequent column.
    held_out = X[300:].tocoo()
    unseen = (held_out.col >= 13) & (counts.counts.ravel()[np.maximum(held_out.col - 13, 0)] == 0)
    assert unseen.any()
    infrequent = counts.infrequent_columns(3)
    field = (held_out.col[unseen] - 13) // 128
    folded_held_out = folded[300:]
    for row, expected_column in zip(held_out.row[unseen], infrequent[field]):
        assert folded_held_out[row, expected_column] == 1
    # Folding the training rows alone with their own counts gives the same rows.
    head, _, _ = load_criteo(path, n_rows=300, hash_bits=7, min_frequency=3)
    assert (head != folded[:300]).nnz == 0


def test_two_pass_reader_gives_load_criteo_matrix(criteo_file, monkeypatch):
    from skvectorflow import criteo

    path, _, _ = criteo_file
    expected, _, _ = load_criteo(path, hash_bits=7, min_frequency=5)
    monkeypatch.setattr(criteo, "_CHUNK_BYTES", 2000)  # several chunks in both passes
    reader = criteo.CriteoReader(path, hash_bits=7, min_frequency=5)
    assert reader.counts is None
    chunks = list(reader)
    assert len(chunks) > 3
    assert reader.counts.n_rows == 400
    stacked = sp.vstack([chunk for chunk, _ in chunks], format="csr")
    assert (stacked != expected).nnz == 0
    counts = reader.counts
    assert (sp.vstack([chunk for chunk, _ in reader], format="csr") != expected).nnz == 0
    assert reader.counts is counts  # a second iteration reuses the counts
    # convert streams the same folded rows.
    from skvectorflow.io import convert, load_csr

    convert(path, path.parent / "folded", "criteo", hash_bits=7, min_frequency=5)
    assert (load_csr(path.parent / "folded")[0] != expected).nnz == 0


def test_min_frequency_and_counts_errors(criteo_file):
    from sklearn.utils._param_validation import InvalidParameterError

    path, _, _ = criteo_file
    for bad in (0, -2, 0.0, 1.0, 1.5, True, "3"):
        with pytest.raises(InvalidParameterError, match="'min_frequency' parameter of load_criteo"):
            load_criteo(path, hash_bits=7, min_frequency=bad)
        with pytest.raises(ValueError, match="'min_frequency' parameter of CriteoReader"):
            CriteoReader(path, hash_bits=7, min_frequency=bad)
    counts = count_criteo(path, hash_bits=7)
    with pytest.raises(ValueError, match="hash_bits=7, but this file is read with .*hash_bits=6"):
        load_criteo(path, hash_bits=6, min_frequency=3, counts=counts)
    with pytest.raises(ValueError, match="only with min_frequency"):
        CriteoReader(path, hash_bits=7, counts=counts)
    with pytest.raises(TypeError, match="counts must be a CriteoCounts"):
        CriteoReader(path, hash_bits=7, min_frequency=3, counts=counts.counts)


def _zipf_frame(n_rows, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "clicks": rng.integers(0, 5, n_rows).astype(float),
        "site": [f"s{v}" for v in rng.zipf(1.5, n_rows)],
        "device": pd.Categorical(rng.choice(["ios", "android", "web", None], n_rows,
                                            p=[0.5, 0.3, 0.15, 0.05])),
    })


@pytest.mark.parametrize("min_frequency, threshold", [(3, 3), (0.047, 10)])
def test_field_hasher_min_frequency_folds_as_a_brute_force_count(min_frequency, threshold):
    train, test = _zipf_frame(200, 0), _zipf_frame(100, 1)
    plain = FieldHasher(hash_bits=6).fit(train)
    hasher = FieldHasher(hash_bits=6, min_frequency=min_frequency).fit(train)
    np.testing.assert_array_equal(hasher.field_of_column_, plain.field_of_column_)
    X_train = plain.transform(train)
    for frame in (train, test):
        folded = hasher.transform(frame)
        expected = _fold_by_brute_force(X_train, plain.transform(frame), 1, 64, threshold)
        assert (folded != expected).nnz == 0
        assert (folded != plain.transform(frame)).nnz > 0
    # The infrequent column is the field's lowest bucket below the threshold, and is named so.
    counts = np.bincount(X_train.indices, minlength=X_train.shape[1])[1:].reshape(2, 64)
    lowest = [np.flatnonzero(row < threshold)[0] for row in counts]
    np.testing.assert_array_equal(hasher.infrequent_column_, 1 + np.arange(2) * 64 + lowest)
    for field, buckets in enumerate(hasher.frequent_buckets_):
        np.testing.assert_array_equal(buckets, np.flatnonzero(counts[field] >= threshold))
    names = hasher.get_feature_names_out()
    assert names[hasher.infrequent_column_].tolist() == ["site=infrequent", "device=infrequent"]
    # A value never seen in fit goes to the infrequent column, unless it hashes to a frequent
    # column (a collision with a frequent value, which shares that column in plain hashing too).
    values = [f"never-seen-{i}" for i in range(20)]
    frequent = np.isin(hash_values(values, 0, 6), hasher.frequent_buckets_[0])
    assert 0 < frequent.sum() < len(values)  # both cases are checked
    for value, is_frequent in zip(values, frequent):
        unseen = hasher.transform(test.assign(site=value))[:, hasher.infrequent_column_[0]]
        assert np.all(unseen.toarray() == (0 if is_frequent else 1))


def test_field_hasher_without_min_frequency_is_plain_hashing():
    train, test = _zipf_frame(200, 0), _zipf_frame(100, 1)
    plain = FieldHasher(hash_bits=6).fit(train).transform(test)
    for min_frequency in (None, 1, 0.001):
        hasher = FieldHasher(hash_bits=6, min_frequency=min_frequency).fit(train)
        assert (hasher.transform(test) != plain).nnz == 0
        assert hasher.frequent_buckets_ is None and np.all(hasher.infrequent_column_ == -1)


def test_field_hasher_bad_min_frequency_names_it_and_keeps_the_fitted_state():
    from sklearn.utils._param_validation import InvalidParameterError

    hasher = FieldHasher(hash_bits=6, min_frequency=3).fit(_zipf_frame(200, 0))
    state = (hasher.infrequent_column_.copy(), [b.copy() for b in hasher.frequent_buckets_])
    for bad in (0, -1, 0.0, 1.0, 2.5, True, "3"):
        with pytest.raises(InvalidParameterError, match="'min_frequency' parameter of FieldHasher"):
            hasher.set_params(min_frequency=bad).fit(_zipf_frame(50, 1))
    np.testing.assert_array_equal(hasher.infrequent_column_, state[0])
    for buckets, before in zip(hasher.frequent_buckets_, state[1]):
        np.testing.assert_array_equal(buckets, before)


def test_field_hasher_and_load_criteo_fold_a_criteo_file_alike(criteo_file):
    path, _, _ = criteo_file
    frame = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False)
    frame = frame.drop(columns=0)
    for column in range(1, 14):
        frame[column] = pd.to_numeric(frame[column].replace("", np.nan))
    hasher = FieldHasher(hash_bits=7, min_frequency=4, categorical_columns=list(range(13, 39)))
    from_frame = hasher.fit_transform(frame.to_numpy(dtype=object))
    from_file, _, _ = load_criteo(path, hash_bits=7, min_frequency=4)
    assert (from_frame != from_file).nnz == 0
