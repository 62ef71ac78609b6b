"""The on-disk CSR format, the chunked readers, convert, and fit_stream."""

import gzip
import hashlib
import io
import json
import re
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file
from sklearn.linear_model import SGDClassifier

from skvectorflow import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    FactorizationMachineRegressor,
    SparseMLPClassifier,
    SparseMLPRanker,
    SparseMLPRegressor,
    SurvivalExponentialRegressor,
)
from skvectorflow._engine import hogwild
from skvectorflow._engine.csr import (
    CSR_HAS_DUPLICATES,
    CSR_HAS_UNSORTED_ROWS,
    CSR_INDEX_OUT_OF_RANGE,
    CSR_INDPTR_DECREASES,
    CSR_VALID,
    inspect_csr,
    max_unit_nnz,
)
from skvectorflow.criteo import criteo_field_map
from skvectorflow.datasets import (
    make_criteo_like,
    make_sparse_classification,
    make_sparse_ranking,
    make_sparse_regression,
    make_sparse_survival,
)
from skvectorflow.fields import check_field_map
from skvectorflow.io import (
    CSRWriter,
    SvmlightReader,
    convert,
    fit_stream,
    load_csr,
    load_field_map,
    load_model,
    save_csr,
    save_model,
    svmlight,
)
from skvectorflow.io import model_format


@pytest.fixture(scope="module")
def classification():
    X, y = make_sparse_classification(n_samples=1500, n_features=300, nnz_per_row=12,
                                      random_state=0)
    return X, y


def assert_same_csr(A, B):
    assert A.shape == B.shape
    assert (A != B).nnz == 0
    np.testing.assert_array_equal(A.indptr, B.indptr)


def file_digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ---- the on-disk format ------------------------------------------------------------------

@pytest.mark.parametrize("mmap", [True, False])
def test_save_load_round_trip_in_the_engine_dtypes(tmp_path, classification, mmap):
    X, y = classification
    save_csr(tmp_path / "d", X, y)
    X_loaded, y_loaded = load_csr(tmp_path / "d", mmap=mmap)
    assert_same_csr(X_loaded, X)
    np.testing.assert_array_equal(y_loaded, y)
    assert (X_loaded.data.dtype, X_loaded.indices.dtype, X_loaded.indptr.dtype) == (
        np.float32, np.int32, np.int64)
    assert isinstance(X_loaded.data, np.memmap) == mmap
    if mmap:
        assert not X_loaded.data.flags.writeable and not X_loaded.indices.flags.writeable


def test_round_trip_of_query_ids_and_structured_survival_targets(tmp_path):
    X, y, qid = make_sparse_ranking(n_queries=30, n_features=100, random_state=0)
    save_csr(tmp_path / "rank", X, y, qid)
    X_loaded, y_loaded, qid_loaded = load_csr(tmp_path / "rank", query_id=True)
    assert_same_csr(X_loaded, X)
    np.testing.assert_array_equal(qid_loaded, qid)
    save_csr(tmp_path / "plain", X, y)
    with pytest.raises(ValueError, match="holds no query ids"):
        load_csr(tmp_path / "plain", query_id=True)

    X, y_survival = make_sparse_survival(n_samples=200, n_features=100, random_state=0)
    save_csr(tmp_path / "survival", X, y_survival)
    _, y_loaded = load_csr(tmp_path / "survival")
    assert y_loaded.dtype == y_survival.dtype
    np.testing.assert_array_equal(y_loaded, y_survival)


def test_writer_in_chunks_equals_one_save(tmp_path, classification):
    X, y = classification
    with CSRWriter(tmp_path / "chunks", n_features=X.shape[1]) as writer:
        for start in range(0, X.shape[0], 400):
            writer.append(X[start:start + 400], y[start:start + 400])
    save_csr(tmp_path / "whole", X, y)
    for name in ("data.npy", "indices.npy", "indptr.npy", "y.npy"):
        assert (tmp_path / "chunks" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_writer_canonicalises_rows_and_widens_without_fixed_n_features(tmp_path):
    # Unsorted indices with a repeat: stored sorted and summed.
    chunk = sp.csr_matrix((np.array([1.0, 2.0, 3.0], dtype=np.float32), np.array([5, 1, 5]),
                           np.array([0, 3])), shape=(1, 6))
    with CSRWriter(tmp_path / "d") as writer:
        writer.append(chunk, [1.0])
        writer.append(sp.csr_matrix(np.eye(1, 9, 8, dtype=np.float32)), [0.0])
    X, _ = load_csr(tmp_path / "d")
    assert X.shape == (2, 9)
    assert X.indices.tolist() == [1, 5, 8] and X.data.tolist() == [2.0, 4.0, 1.0]


def test_writer_rejects_bad_chunks_and_removes_what_it_wrote(tmp_path, classification):
    X, y = classification
    folder = tmp_path / "d"
    with pytest.raises(ValueError, match=r"chunk 1 .*has 299 features, expected 300"), \
            CSRWriter(folder, n_features=300) as writer:
        writer.append(X[:10], y[:10])
        writer.append(X[10:20, :299], y[10:20])
    assert not folder.exists()
    bad = X[:5].copy()
    bad.data[7] = np.nan
    with pytest.raises(ValueError, match=r"row \d+ holds a NaN"):
        save_csr(folder, bad, y[:5])
    with pytest.raises(ValueError, match="dtype"), CSRWriter(folder) as writer:
        writer.append(X[:5], y[:5])
        writer.append(X[5:10], y[5:10].astype(np.float32))
    save_csr(folder, X, y)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_csr(folder, X, y)
    save_csr(folder, X[:3], y[:3], overwrite=True)
    assert load_csr(folder)[0].shape[0] == 3


def test_writer_stores_a_field_map_of_one_entry_a_column(tmp_path, classification):
    X, y = classification
    fields = np.repeat(np.arange(X.shape[1] // 2), 2)
    with CSRWriter(tmp_path / "d", n_features=X.shape[1], field_of_column=fields) as writer:
        writer.append(X, y)
    assert json.loads((tmp_path / "d" / "header.json").read_text())["has_field_map"]
    np.testing.assert_array_equal(np.load(tmp_path / "d" / "field_of_column.npy"), fields)
    assert not save_csr(tmp_path / "plain", X, y)["has_field_map"]
    for n_features, field_of_column in [(X.shape[1], fields[:-1]), (None, fields),
                                        (X.shape[1], fields.astype(float))]:
        with pytest.raises(ValueError, match="field_of_column must hold one integer a column"):
            CSRWriter(tmp_path / "bad", n_features=n_features, field_of_column=field_of_column)
        assert not (tmp_path / "bad").exists()


def test_load_field_map_of_a_converted_criteo_file(tmp_path):
    X, y, _ = make_criteo_like(200, hash_bits=4, random_state=0, path=tmp_path / "day.tsv")
    convert(tmp_path / "day.tsv", tmp_path / "day", "criteo", hash_bits=4)
    X_map, y_map = load_csr(tmp_path / "day")
    field_of_column = load_field_map(tmp_path / "day")
    assert field_of_column.dtype == np.int32
    np.testing.assert_array_equal(field_of_column, criteo_field_map(hash_bits=4))
    assert_same_csr(X_map, X)
    np.testing.assert_array_equal(y_map, y)
    # What DLRMClassifier checks in fit: one field a column of this X, 26 fields.
    assert check_field_map(field_of_column, X_map.shape[1])[1] == 26


def test_load_field_map_refuses_a_folder_without_one(tmp_path, classification):
    X, y = classification
    save_csr(tmp_path / "plain", X, y)
    with pytest.raises(ValueError, match=r"plain stores no field map \(field_of_column.npy\): "
                                         r"only convert\(..., format='criteo'\)"):
        load_field_map(tmp_path / "plain")


def test_load_field_map_refuses_a_corrupt_map(tmp_path, classification):
    X, y = classification
    folder = tmp_path / "d"
    with CSRWriter(folder, n_features=X.shape[1], field_of_column=np.zeros(X.shape[1], int)) as writer:
        writer.append(X, y)
    stored = folder / "field_of_column.npy"
    for content, message in [
        (np.zeros(X.shape[1] - 1, dtype=np.int32),
         f"has shape ({X.shape[1] - 1},), but the header gives {X.shape[1]} entries"),
        (np.zeros((X.shape[1], 2), dtype=np.int32), f"has shape ({X.shape[1]}, 2)"),
        (np.zeros(X.shape[1]), "has dtype float64; a field map holds one integer a column"),
        (b"not an array", "cannot be read, it is truncated or corrupt"),
        (None, "is missing"),
    ]:
        if content is None:
            stored.unlink()
        elif isinstance(content, bytes):
            stored.write_bytes(content)
        else:
            np.save(stored, content)
        with pytest.raises(ValueError) as error:
            load_field_map(folder)
        assert str(stored) in str(error.value) and message in str(error.value), str(error.value)
    # X and y are still readable: the map is an extra, not part of the matrix.
    assert load_csr(folder)[0].shape == X.shape


def test_load_refuses_an_interrupted_write(tmp_path, classification):
    X, y = classification
    save_csr(tmp_path / "d", X, y)
    (tmp_path / "d" / "header.json").unlink()
    with pytest.raises(ValueError, match="no header.json: the write was interrupted"):
        load_csr(tmp_path / "d")


@pytest.mark.parametrize("name", ["data.npy", "indices.npy", "indptr.npy", "y.npy"])
def test_load_names_a_truncated_file(tmp_path, classification, name):
    X, y = classification
    save_csr(tmp_path / "d", X, y)
    path = tmp_path / "d" / name
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match=rf"{name}.*truncated"):
        load_csr(tmp_path / "d")


def test_load_names_the_entry_and_row_of_an_index_beyond_n_features(tmp_path, classification):
    X, y = classification
    save_csr(tmp_path / "d", X, y)
    indices = np.load(tmp_path / "d" / "indices.npy", mmap_mode="r+")
    position = int(X.indptr[7]) + 2
    indices[position] = 300
    indices.flush()
    del indices
    with pytest.raises(ValueError, match=rf"indices.npy: entry {position} \(row 7\) is column 300, "
                                         r"outside \[0, 300\)"):
        load_csr(tmp_path / "d")
    # Trusted files may skip the pass; the estimators' own check still runs before any kernel.
    X_unchecked, y_unchecked = load_csr(tmp_path / "d", validate=False)
    assert X_unchecked.shape == X.shape and not X_unchecked.has_canonical_format
    with pytest.raises(ValueError, match=rf"X.indices\[{position}\] \(row 7\) is column 300"):
        SparseMLPClassifier(max_iter=1).fit(X_unchecked, y_unchecked)


def test_load_names_a_corrupt_indptr_and_header(tmp_path, classification):
    X, y = classification
    save_csr(tmp_path / "d", X, y)
    indptr = np.load(tmp_path / "d" / "indptr.npy", mmap_mode="r+")
    indptr[5] = indptr[4] - 1
    indptr.flush()
    del indptr
    with pytest.raises(ValueError, match="indptr.npy: entry 5 is smaller"):
        load_csr(tmp_path / "d")
    header = json.loads((tmp_path / "d" / "header.json").read_text())
    header["version"] = 99
    (tmp_path / "d" / "header.json").write_text(json.dumps(header))
    with pytest.raises(ValueError, match="version 99 is not supported"):
        load_csr(tmp_path / "d")


def test_structure_kernels_on_small_matrices():
    indptr = np.array([0, 2, 2, 5], dtype=np.int64)
    indices = np.array([0, 3, 1, 2, 3], dtype=np.int32)
    assert inspect_csr(indptr, indices, 4) == (CSR_VALID, 0, 0)
    assert inspect_csr(indptr, indices, 3) == (CSR_INDEX_OUT_OF_RANGE, 1, 0)
    assert inspect_csr(np.array([0, 3, 2, 5], dtype=np.int64), indices, 4)[:2] == (CSR_INDPTR_DECREASES, 2)
    assert inspect_csr(indptr, indices.astype(np.int64), 4) == (CSR_VALID, 0, 0)
    assert inspect_csr(indptr, np.array([0, 3, 2**32 + 1, 2, 3]), 4) == (CSR_INDEX_OUT_OF_RANGE, 2, 0)
    # An unsorted row, then a repeat found by sorting it, then by its neighbour.
    assert inspect_csr(indptr, np.array([3, 0, 1, 2, 3], dtype=np.int32), 4) == (
        CSR_VALID, 0, CSR_HAS_UNSORTED_ROWS)
    assert inspect_csr(indptr, np.array([3, 0, 3, 1, 3], dtype=np.int32), 4) == (
        CSR_VALID, 0, CSR_HAS_UNSORTED_ROWS | CSR_HAS_DUPLICATES)
    assert inspect_csr(indptr, np.array([0, 3, 1, 1, 2], dtype=np.int32), 4) == (
        CSR_VALID, 0, CSR_HAS_DUPLICATES)
    assert max_unit_nnz(indptr, np.zeros(0, dtype=np.int64)) == 3
    assert max_unit_nnz(indptr, np.array([0, 2, 3], dtype=np.int64)) == 3
    assert max_unit_nnz(indptr, np.array([0, 1, 3], dtype=np.int64)) == 3


# ---- fitting on memory maps --------------------------------------------------------------

def _estimator_and_data(kind):
    if kind == "classifier":
        X, y = make_sparse_classification(n_samples=600, n_features=200, random_state=1)
        return SparseMLPClassifier(hidden_layer_sizes=(4,), max_iter=2, tol=None, random_state=0), X, y, None
    if kind == "regressor":
        X, y = make_sparse_regression(n_samples=600, n_features=200, random_state=1)
        return SparseMLPRegressor(max_iter=2, tol=None, random_state=0), X, y, None
    if kind == "survival":
        X, y = make_sparse_survival(n_samples=600, n_features=200, random_state=1)
        return SurvivalExponentialRegressor(max_iter=2, tol=None, random_state=0), X, y, None
    X, y, qid = make_sparse_ranking(n_queries=60, n_features=200, random_state=1)
    return SparseMLPRanker(max_iter=2, tol=None, random_state=0), X, y, qid


@pytest.mark.parametrize("kind", ["classifier", "regressor", "survival", "ranker"])
def test_fit_on_a_memory_map_copies_and_writes_nothing(tmp_path, monkeypatch, kind):
    estimator, X, y, qid = _estimator_and_data(kind)
    save_csr(tmp_path / "d", X, y, qid)
    before = file_digests(tmp_path / "d")
    loaded = load_csr(tmp_path / "d", query_id=qid is not None)
    X_map = loaded[0]
    seen = []
    original = hogwild.run_epoch

    def spy(csr, *args, **kwargs):
        seen.append(csr)
        return original(csr, *args, **kwargs)

    monkeypatch.setattr(hogwild, "run_epoch", spy)
    fit_kwargs = {"qid": loaded[2]} if qid is not None else {}
    estimator.fit(X_map, loaded[1], **fit_kwargs)
    assert len(seen) == 2
    for engine_array, mapped in zip(seen[0], (X_map.indptr, X_map.indices, X_map.data)):
        assert engine_array is mapped or np.shares_memory(engine_array, mapped)
    # Same model as from the in-memory matrix, and the files are untouched.
    reference = _estimator_and_data(kind)[0].fit(X, y, **({"qid": qid} if qid is not None else {}))
    np.testing.assert_array_equal(estimator.coefs_[0], reference.coefs_[0])
    np.testing.assert_array_equal(estimator.predict(X_map), reference.predict(X))
    assert file_digests(tmp_path / "d") == before


def test_shuffle_windows_keep_each_window_together_and_one_window_is_a_plain_permutation():
    blocks = np.arange(1000, dtype=np.int64)
    order = hogwild.shuffled_block_order(np.random.default_rng(3), blocks, 100)
    assert sorted(order.tolist()) == blocks.tolist()
    windows = order.reshape(10, 100) // 100
    assert (windows == windows[:, :1]).all()
    assert len(set(windows[:, 0].tolist())) == 10 and windows[:, 0].tolist() != list(range(10))
    # Data within one window is shuffled as before windows existed.
    for per_window in (None, 1000, 5000):
        np.testing.assert_array_equal(
            hogwild.shuffled_block_order(np.random.default_rng(3), blocks, per_window),
            np.random.default_rng(3).permutation(blocks))


def test_shuffle_window_size_changes_the_order_only_beyond_one_window(classification):
    X, y = classification
    params = {"max_iter": 1, "random_state": 0, "shuffle_block_size": 10, "n_jobs": 1}
    whole = SparseMLPClassifier(**params, shuffle_window_size=None).fit(X, y)
    wide = SparseMLPClassifier(**params, shuffle_window_size=X.shape[0]).fit(X, y)
    narrow = SparseMLPClassifier(**params, shuffle_window_size=200).fit(X, y)
    np.testing.assert_array_equal(whole.coefs_[0], wide.coefs_[0])
    assert not np.array_equal(whole.coefs_[0], narrow.coefs_[0])


# ---- svmlight chunks ---------------------------------------------------------------------

@pytest.fixture
def svmlight_file(tmp_path, classification):
    X, y = classification
    path = tmp_path / "train.svm"
    dump_svmlight_file(X, y, str(path), zero_based=True)
    return path


def stack_chunks(chunks):
    chunks = list(chunks)
    X = sp.vstack([c[0] for c in chunks], format="csr")
    return X, *(np.concatenate([c[i] for c in chunks]) for i in range(1, len(chunks[0])))


def test_svmlight_chunks_are_bounded_and_add_up_to_the_file(svmlight_file, classification):
    X, y = classification
    chunks = list(SvmlightReader(svmlight_file, n_features=300, chunk_size=256))
    assert [c[0].shape[0] for c in chunks] == [256] * 5 + [220]
    X_read, y_read = stack_chunks(chunks)
    assert_same_csr(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_svmlight_chunks_do_not_depend_on_where_reads_end(svmlight_file, monkeypatch):
    expected = list(SvmlightReader(svmlight_file, n_features=300, chunk_size=97))
    # Reads shorter than a line and than a chunk: lines and chunks span reads.
    monkeypatch.setattr(svmlight, "_READ_SIZE", 61)
    chunks = list(SvmlightReader(svmlight_file, n_features=300, chunk_size=97))
    assert len(chunks) == len(expected) == 16
    for (X_a, y_a), (X_b, y_b) in zip(chunks, expected):
        assert_same_csr(X_a, X_b)
        np.testing.assert_array_equal(y_a, y_b)


def test_svmlight_reads_gzip_and_a_last_line_without_newline(tmp_path, svmlight_file):
    text = svmlight_file.read_bytes()
    (tmp_path / "cut.svm").write_bytes(text.rstrip(b"\n"))
    with gzip.open(tmp_path / "train.svm.gz", "wb") as f:
        f.write(text)
    expected = load_svmlight_file(str(svmlight_file), n_features=300, zero_based=True,
                                  dtype=np.float32)
    for name in ("cut.svm", "train.svm.gz"):
        X_read, y_read = stack_chunks(SvmlightReader(tmp_path / name, n_features=300,
                                                     chunk_size=700))
        assert_same_csr(X_read, expected[0])
        np.testing.assert_array_equal(y_read, expected[1])


def test_svmlight_chunks_never_split_a_query(tmp_path):
    X, y, qid = make_sparse_ranking(n_queries=40, docs_per_query=(2, 30), n_features=100,
                                    random_state=0)
    path = tmp_path / "rank.svm"
    dump_svmlight_file(X, y, str(path), query_id=qid, zero_based=True)
    chunks = list(SvmlightReader(path, n_features=100, chunk_size=50, query_id=True))
    assert len(chunks) > 5
    seen = [set(c[2].tolist()) for c in chunks]
    for i, first in enumerate(seen):
        for second in seen[i + 1:]:
            assert not first & second
    X_read, y_read, qid_read = stack_chunks(chunks)
    assert_same_csr(X_read, X)
    np.testing.assert_array_equal(y_read, y)
    np.testing.assert_array_equal(qid_read, qid)


@pytest.mark.parametrize("line, reason", [
    ("1 2:0.5 400:1", "column index is beyond n_features=300"),
    ("1 2:0.5 7:abc", "could not convert"),
    ("1 2:1e60", "NaN, infinite or too large"),
    ("1 3:1 2:1", "sorted and unique"),
])
def test_svmlight_errors_name_the_file_and_line(tmp_path, svmlight_file, line, reason):
    lines = svmlight_file.read_text().splitlines()
    lines[1234] = line
    path = tmp_path / "bad.svm"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"bad\.svm, line 1235: .*{reason}"):
        list(SvmlightReader(path, n_features=300, chunk_size=500))


def test_svmlight_names_a_truncated_gzip_file(tmp_path, svmlight_file):
    compressed = gzip.compress(svmlight_file.read_bytes())
    (tmp_path / "cut.svm.gz").write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=r"cut\.svm\.gz: cannot be read after line \d+, the file is "
                                         r"truncated"):
        list(SvmlightReader(tmp_path / "cut.svm.gz", n_features=300, chunk_size=100))


# ---- convert -------------------------------------------------------------------------------

def test_convert_streams_bounded_chunks_and_reports_progress(tmp_path, svmlight_file,
                                                             classification, monkeypatch):
    X, y = classification
    sizes = []
    original = CSRWriter.append

    def spy(self, X_chunk, *rest):
        sizes.append(X_chunk.shape[0])
        return original(self, X_chunk, *rest)

    monkeypatch.setattr(CSRWriter, "append", spy)
    progress = io.StringIO()
    header = convert(svmlight_file, tmp_path / "d", chunk_size=300, progress=progress)
    assert max(sizes) <= 300 and sum(sizes) == X.shape[0]
    assert header["n_rows"] == X.shape[0] and header["nnz"] == X.nnz
    assert "100.0%" in progress.getvalue() and f"{X.shape[0]:,} rows" in progress.getvalue()
    X_loaded, y_loaded = load_csr(tmp_path / "d")
    # Without n_features the width is the largest index seen, plus one.
    assert X_loaded.shape == (X.shape[0], int(X.indices.max()) + 1)
    assert_same_csr(X_loaded, X[:, : X_loaded.shape[1]])
    np.testing.assert_array_equal(y_loaded, y)


def test_convert_keeps_query_ids(tmp_path):
    X, y, qid = make_sparse_ranking(n_queries=20, n_features=100, random_state=0)
    dump_svmlight_file(X, y, str(tmp_path / "rank.svm"), query_id=qid, zero_based=False)
    convert(tmp_path / "rank.svm", tmp_path / "d", "libsvm", n_features=100, zero_based=False,
            query_id=True, chunk_size=30)
    X_loaded, _, qid_loaded = load_csr(tmp_path / "d", query_id=True)
    assert_same_csr(X_loaded, X)
    np.testing.assert_array_equal(qid_loaded, qid)
    # Without n_features, a query carried into the next chunk is widened to it.
    convert(tmp_path / "rank.svm", tmp_path / "inferred", zero_based=False, query_id=True,
            chunk_size=7)
    X_inferred, _, qid_inferred = load_csr(tmp_path / "inferred", query_id=True)
    width = int(X.indices.max()) + 1
    assert_same_csr(X_inferred, X[:, :width])
    np.testing.assert_array_equal(qid_inferred, qid)


def test_convert_error_names_the_line_and_leaves_no_destination(tmp_path, svmlight_file):
    lines = svmlight_file.read_text().splitlines()
    lines[900] = "0 1:nan"
    (tmp_path / "bad.svm").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"bad\.svm, line 901"):
        convert(tmp_path / "bad.svm", tmp_path / "d", chunk_size=200)
    assert not (tmp_path / "d").exists()
    with pytest.raises(ValueError, match="format must be one of"):
        convert(svmlight_file, tmp_path / "d", format="csv")


# ---- partial_fit and fit_stream ------------------------------------------------------------

def fitted_state(estimator):
    return ([c.copy() for c in estimator.coefs_], [b.copy() for b in estimator.intercepts_],
            estimator.t_, estimator.n_iter_, list(estimator.loss_curve_))


def assert_same_state(first, second):
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)
    assert first[2:] == second[2:]


def _partial_fit(estimator, X, y, qid):
    kwargs = {"qid": qid} if qid is not None else {}
    if isinstance(estimator, SparseMLPClassifier):
        kwargs["classes"] = np.unique(y)
    return estimator.partial_fit(X, y, **kwargs)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "survival", "ranker"])
def test_partial_fit_is_one_hogwild_epoch_over_the_chunk(monkeypatch, kind):
    estimator, X, y, qid = _estimator_and_data(kind)
    estimator.set_params(n_jobs=2, shuffle_block_size=8)
    threads = []
    original = hogwild.run_epoch

    def spy(*args, **kwargs):
        threads.append(len(args[10]))  # the per-thread scratches
        return original(*args, **kwargs)

    monkeypatch.setattr(hogwild, "run_epoch", spy)
    _partial_fit(estimator, X, y, qid)
    _partial_fit(estimator, X, y, qid)
    assert threads == [2, 2]
    assert estimator.n_iter_ == 2 and len(estimator.loss_curve_) == 2


def _bad_chunks(kind, X, y, qid):
    """Chunks that fail validation, each with the words its error must contain."""
    wider = sp.hstack([X, sp.csr_matrix((X.shape[0], 3), dtype=np.float32)], format="csr")
    nan_X = X.copy()
    nan_X.data[5] = np.nan
    chunks = [((wider, y, qid), "features"), ((nan_X, y, qid), "NaN")]
    if kind == "classifier":
        chunks.append(((X, np.where(y == 1, 7, y), qid), "not seen"))
    if kind == "survival":
        bad_y = y.copy()
        bad_y[y.dtype.names[1]][3] = -1.0
        chunks.append(((X, bad_y, qid), "time"))
    if kind == "ranker":
        chunks.append(((X, y, qid[:-1]), "qid"))
    return chunks


@pytest.mark.parametrize("kind", ["classifier", "regressor", "survival", "ranker"])
def test_a_bad_chunk_leaves_the_fitted_model_exactly_as_it_was(kind):
    estimator, X, y, qid = _estimator_and_data(kind)
    _partial_fit(estimator, X, y, qid)
    before = fitted_state(estimator)
    for (X_bad, y_bad, qid_bad), words in _bad_chunks(kind, X, y, qid):
        with pytest.raises(ValueError, match=words):
            _partial_fit(estimator, X_bad, y_bad, qid_bad)
        assert_same_state(before, fitted_state(estimator))
    # Still trainable afterwards.
    _partial_fit(estimator, X, y, qid)
    assert estimator.n_iter_ == 2


def test_fit_stream_equals_a_partial_fit_loop(classification):
    X, y = classification
    chunks = [(X[i:i + 500], y[i:i + 500]) for i in range(0, X.shape[0], 500)]
    streamed = fit_stream(SparseMLPClassifier(hidden_layer_sizes=(4,), random_state=0, n_jobs=1),
                          chunks, n_epochs=2, classes=[0, 1])
    looped = SparseMLPClassifier(hidden_layer_sizes=(4,), random_state=0, n_jobs=1)
    for _ in range(2):
        for X_chunk, y_chunk in chunks:
            looped.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    assert_same_state(fitted_state(streamed), fitted_state(looped))


def test_fit_stream_extra_is_qid_for_a_ranker_and_sample_weight_otherwise(tmp_path):
    X, y, qid = make_sparse_ranking(n_queries=60, n_features=200, random_state=1)
    path = tmp_path / "rank.svm"
    dump_svmlight_file(X, y, str(path), query_id=qid, zero_based=True)
    reader = SvmlightReader(path, n_features=200, chunk_size=300, query_id=True)
    streamed = fit_stream(SparseMLPRanker(random_state=0, n_jobs=1), reader, n_epochs=2)
    looped = SparseMLPRanker(random_state=0, n_jobs=1)
    for _ in range(2):
        for X_chunk, y_chunk, qid_chunk in reader:
            looped.partial_fit(X_chunk, y_chunk, qid=qid_chunk)
    assert_same_state(fitted_state(streamed), fitted_state(looped))

    X, y = make_sparse_regression(n_samples=400, n_features=200, random_state=1)
    weight = np.linspace(0.5, 2.0, 400)
    as_array = fit_stream(SparseMLPRegressor(random_state=0, n_jobs=1), [(X, y, weight)])
    as_dict = fit_stream(SparseMLPRegressor(random_state=0, n_jobs=1),
                         [(X, y, {"sample_weight": weight})])
    plain = SparseMLPRegressor(random_state=0, n_jobs=1).partial_fit(X, y, sample_weight=weight)
    assert_same_state(fitted_state(as_array), fitted_state(plain))
    assert_same_state(fitted_state(as_dict), fitted_state(plain))
    # Any scikit-learn estimator with partial_fit.
    sgd = fit_stream(SGDClassifier(random_state=0), [(X, y > 0)], classes=[False, True])
    assert sgd.coef_.shape == (1, 200)


def test_fit_stream_keeps_the_last_complete_state_and_names_the_failing_chunk(classification):
    X, y = classification
    narrow = X[1000:][:, :250]
    chunks = [(X[:500], y[:500]), (X[500:1000], y[500:1000]), (narrow, y[1000:])]
    estimator = SparseMLPClassifier(random_state=0, n_jobs=1)
    with pytest.raises(ValueError, match="X has 250 features, but SparseMLPClassifier is "
                                         "expecting 300") as error:
        fit_stream(estimator, chunks, classes=[0, 1])
    if sys.version_info >= (3, 11):
        assert "chunk 2 of epoch 1" in " ".join(error.value.__notes__)
    reference = fit_stream(SparseMLPClassifier(random_state=0, n_jobs=1), chunks[:2], classes=[0, 1])
    assert_same_state(fitted_state(estimator), fitted_state(reference))


def test_fit_stream_rejects_what_it_cannot_use(classification):
    X, y = classification
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit_stream(SparseMLPClassifier(), iter([(X, y)]), n_epochs=2, classes=[0, 1])
    with pytest.raises(TypeError, match=r"chunk 0 must be a tuple \(X, y\)"):
        fit_stream(SparseMLPClassifier(), [X], classes=[0, 1])
    with pytest.raises(TypeError, match="takes no classes"):
        fit_stream(SparseMLPRegressor(), [(X, y)], classes=[0, 1])
    with pytest.raises(TypeError, match="has no partial_fit"):
        fit_stream(object(), [(X, y)])


def test_fit_stream_over_a_bad_file_keeps_the_chunks_before(tmp_path, svmlight_file):
    lines = svmlight_file.read_text().splitlines()
    lines[1100] = "1 5:x"
    (tmp_path / "bad.svm").write_text("\n".join(lines) + "\n")
    estimator = SparseMLPClassifier(random_state=0, n_jobs=1)
    with pytest.raises(ValueError, match=r"bad\.svm, line 1101"):
        fit_stream(estimator, SvmlightReader(tmp_path / "bad.svm", n_features=300, chunk_size=500),
                   classes=[0.0, 1.0])
    assert estimator.n_iter_ == 2



def test_predict_checks_a_large_x_for_nan_slice_by_slice(monkeypatch, classification):
    from skvectorflow import _base

    X, y = classification
    model = SparseMLPClassifier(max_iter=1, tol=None, random_state=0).fit(X, y)
    monkeypatch.setattr(_base, "_FINITE_CHECK_SLICE", 100)
    bad = X.copy()
    bad.data[-1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(bad)
    np.testing.assert_array_equal(model.predict(X), model.predict(X.copy()))


def test_fit_stream_takes_a_generator_for_one_epoch_and_reports_chunks(classification, capsys):
    X, y = classification
    generator = ((X[i:i + 500], y[i:i + 500]) for i in range(0, X.shape[0], 500))
    model = fit_stream(SparseMLPClassifier(random_state=0), generator, classes=[0, 1], verbose=1)
    assert model.n_iter_ == 3
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "epoch 1, chunk 0", "epoch 1, chunk 1", "epoch 1, chunk 2"]
    assert "500 rows in" in lines[0]


# ---- the safe model format: save_model / load_model (issue 22, item 5) ----

def _fitted_models():
    """One small fitted model of every estimator class (and a DataFrame-fitted one)."""
    import pandas as pd

    X, y = make_sparse_classification(n_samples=240, n_features=40, nnz_per_row=6, n_classes=3,
                                      random_state=0)
    X_reg, y_reg = make_sparse_regression(n_samples=240, n_features=40, nnz_per_row=6,
                                          random_state=0)
    X_rank, y_rank, qid = make_sparse_ranking(n_queries=30, docs_per_query=8, n_features=40,
                                              random_state=0)
    X_surv, y_surv = make_sparse_survival(n_samples=240, n_features=40, nnz_per_row=6,
                                          random_state=0)
    X_ctr, y_ctr, field_of_column = make_criteo_like(300, hash_bits=4, random_state=0)
    frame = pd.DataFrame(X[:, :8].toarray(), columns=[f"f{i}" for i in range(8)])
    labels = np.array(["ham", "spam", "eggs"], dtype=object)[y]
    common = {"max_iter": 2, "tol": None, "random_state": 0}
    return [
        (SparseMLPClassifier(hidden_layer_sizes=(4,), **common), X, y, {}),
        (SparseMLPClassifier(**common), frame, labels, {}),
        (SparseMLPRegressor(hidden_layer_sizes=(3,), optimizer="adam", **common), X_reg,
         np.column_stack([y_reg, -y_reg]), {}),
        (SurvivalExponentialRegressor(**common), X_surv, y_surv, {}),
        (SparseMLPRanker(hidden_layer_sizes=(4,), **common), X_rank, y_rank, {"qid": qid}),
        (FactorizationMachineClassifier(n_factors=3, **common), X, y % 2, {}),
        (FactorizationMachineRegressor(n_factors=3, optimizer="sgd", **common), X_reg, y_reg, {}),
        (DLRMClassifier(field_of_column=field_of_column, embedding_dim=4, bottom_mlp=(4,),
                        top_mlp=(4,), **common), X_ctr, y_ctr, {}),
    ]


_MODELS = _fitted_models()


def _outputs(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict(X), model.predict_proba(X)
    return (model.predict(X),)


@pytest.mark.parametrize("model, X, y, fit_params", _MODELS,
                         ids=[f"{type(m[0]).__name__}-{i}" for i, m in enumerate(_MODELS)])
def test_model_round_trip_predicts_identically_and_trains_on(model, X, y, fit_params, tmp_path):
    model.fit(X, y, **fit_params)
    path = tmp_path / "model.skvf"
    save_model(model, path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    for expected, got in zip(_outputs(model, X), _outputs(loaded, X)):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    params, loaded_params = model.get_params(), loaded.get_params()
    for name, value in params.items():
        np.testing.assert_array_equal(loaded_params[name], value)
    for name in ("classes_", "feature_names_in_"):
        if hasattr(model, name):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
            assert getattr(loaded, name).dtype == getattr(model, name).dtype
    assert loaded.n_iter_ == model.n_iter_ and loaded.t_ == model.t_
    assert loaded.loss_curve_ == model.loss_curve_
    # The optimizer state came back: one more epoch on each gives the same model.
    if isinstance(model, SparseMLPClassifier):
        fit_params = {**fit_params, "classes": model.classes_}
    model.partial_fit(X, y, **fit_params)
    loaded.partial_fit(X, y, **fit_params)
    for expected, got in zip(_outputs(model, X), _outputs(loaded, X)):
        np.testing.assert_array_equal(got, expected)


def _small_saved_model(tmp_path):
    model, X, y, _ = _MODELS[0]
    model.fit(X, y)
    path = tmp_path / "model.skvf"
    save_model(model, path)
    return path


def _rewrite(path, edit):
    """Rewrite a model file after ``edit(arrays, document)``, keeping or not its digests."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    document = json.loads(arrays.pop("model.json").tobytes())
    edit(arrays, document)
    arrays["model.json"] = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _relist(arrays, document):
    """Make the document's array records match the (edited) arrays, as a careful forger would."""
    document["arrays"] = {name: {"dtype": a.dtype.str, "shape": list(a.shape),
                                 "sha256": model_format._digest(a)}
                          for name, a in arrays.items()}


def _set_class(name):
    def edit(arrays, document):
        document["class"] = name
    return edit


def _set_version(arrays, document):
    document["format_version"] = model_format.FORMAT_VERSION + 1


def _drop_state(arrays, document):
    del arrays["dense_state"]


def _add_array(arrays, document):
    arrays["payload"] = np.zeros(3)


def _edit_weights(arrays, document):
    arrays["dense_params"] = arrays["dense_params"] + np.float32(1)


def _narrow_table(arrays, document):
    arrays["input_table"] = np.ascontiguousarray(arrays["input_table"][:, :-1])
    _relist(arrays, document)


def _shorten_dense_params(arrays, document):
    arrays["dense_params"] = arrays["dense_params"][:-1].copy()
    _relist(arrays, document)


def _float64_table(arrays, document):
    arrays["input_table"] = arrays["input_table"].astype(np.float64)
    _relist(arrays, document)


def _change_hidden(arrays, document):
    document["params"]["hidden_layer_sizes"] = {"tuple": [5]}


def _callable_param(arrays, document):
    document["params"]["loss_callback"] = {"code": "__import__('os').system('true')"}


def _unknown_param(arrays, document):
    document["params"]["evil"] = 1


def _bad_attribute(arrays, document):
    document["attributes"]["n_features_in_"] = -3


@pytest.mark.parametrize("edit, fragment", [
    (_set_class("Popen"), "names the class 'Popen', which is not one of"),
    (_set_class("LogisticRegression"), "names the class 'LogisticRegression'"),
    (_set_version, "written in model format version 2"),
    (_drop_state, "array(s) dense_state listed in model.json are missing"),
    (_add_array, "holds array(s) payload that model.json does not list"),
    (_edit_weights, "array 'dense_params' does not match its SHA-256"),
    (_narrow_table, "input_table is float32 of shape (40, 8)"),
    (_shorten_dense_params, "dense_params is float32 of shape"),
    (_float64_table, "input_table is float64"),
    (_change_hidden, "the network layout's layer_sizes [4, 3] is not the one the parameters give ([5, 3])"),
    (_callable_param, "parameter 'loss_callback' has a value of an unknown form"),
    (_unknown_param, "has no parameter(s) evil"),
    (_bad_attribute, "fitted attribute n_features_in_ has an invalid value -3"),
])
def test_load_model_refuses_an_edited_file(edit, fragment, tmp_path):
    path = _small_saved_model(tmp_path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ")) as error:
        load_model(path)
    assert fragment in str(error.value)


def test_load_model_refuses_a_truncated_or_foreign_file(tmp_path):
    path = _small_saved_model(tmp_path)
    content = path.read_bytes()
    for cut in (10, len(content) // 2, len(content) - 30):
        path.write_bytes(content[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            load_model(path)
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    with pytest.raises(ValueError, match="no model.json document"):
        load_model(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="no such file"):
        load_model(tmp_path / "missing.skvf")


def test_load_model_refuses_invalid_json(tmp_path):
    path = _small_saved_model(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["model.json"] = np.frombuffer(b"{not json", dtype=np.uint8)
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    with pytest.raises(ValueError, match="model.json is not valid JSON"):
        load_model(path)


def test_save_model_refuses_what_json_cannot_hold(tmp_path):
    from skvectorflow.losses import BUILTIN_CALLBACKS

    model, X, y, _ = _MODELS[0]

    def squared(pred, target, weight, grad):
        return 0.0

    with pytest.raises(ValueError, match="loss_callback=.* cannot be saved without code"):
        save_model(model.fit(X, y).set_params(loss_callback=squared), tmp_path / "m.skvf")
    with pytest.raises(ValueError, match="RandomState"):
        save_model(model.set_params(loss_callback=None, random_state=np.random.RandomState(0)),
                   tmp_path / "m.skvf")
    with pytest.raises(ValueError, match="not fitted"):
        save_model(SparseMLPClassifier(), tmp_path / "m.skvf")

    class Subclass(SparseMLPClassifier):
        pass

    with pytest.raises(ValueError, match="got a Subclass"):
        save_model(Subclass(max_iter=1).fit(X, y), tmp_path / "m.skvf")
    # A built-in loss named as a callback is plain data, and saves.
    assert "multinomial_log_loss" in BUILTIN_CALLBACKS
    named = SparseMLPClassifier(loss_callback="multinomial_log_loss", max_iter=1).fit(X, y)
    save_model(named, tmp_path / "named.skvf")
    np.testing.assert_array_equal(load_model(tmp_path / "named.skvf").predict_proba(X),
                                  named.predict_proba(X))
