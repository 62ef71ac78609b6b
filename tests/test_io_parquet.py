"""ParquetReader: hashed categorical, list and numeric columns in CSR chunks (needs pyarrow)."""

import numpy as np
import pytest

from skvectorflow import SparseMLPClassifier, SparseMLPRanker
from skvectorflow.io import ParquetReader, convert, fit_stream, load_csr
from skvectorflow.io.hashing import column_seed, hash_bytes, hash_integers, hash_name

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

N_FEATURES = 2**12


def hashed(name, value):
    """The feature of one categorical value, computed the slow, obvious way."""
    if isinstance(value, str):
        data = np.frombuffer(value.encode(), dtype=np.uint8)
        return int(hash_bytes(np.array([0, data.size]), data, column_seed(name), N_FEATURES)[0])
    return int(hash_integers(np.array([value]), column_seed(name), N_FEATURES)[0])


@pytest.fixture
def clicks(tmp_path):
    table = pa.table({
        "clicked": pa.array([1, 0, 1, 1, 0], pa.int8()),
        "site": pa.array(["a.com", "b.org", None, "a.com", "c.net"]),
        "device": pa.array([3, 3, 7, None, 7], pa.int64()).dictionary_encode(),
        "price": pa.array([2.5, 0.0, None, float("nan"), -1.0]),
        "tags": pa.array([["x", "y"], [], None, ["x", "x"], ["z"]]),
        "unused": pa.array([{"a": 1}] * 5),
    })
    path = tmp_path / "clicks.parquet"
    pq.write_table(table, path, row_group_size=2)
    return path


def test_columns_become_hashed_features(clicks):
    reader = ParquetReader(clicks, target="clicked", categorical=["site", "device"],
                           numeric="price", lists="tags", n_features=N_FEATURES, batch_size=5)
    (X, y), = list(reader)
    assert y.tolist() == [1, 0, 1, 1, 0]
    price = hash_name("price", N_FEATURES)
    expected = [
        {hashed("site", "a.com"): 1, hashed("device", 3): 1, price: 2.5, hashed("tags", "x"): 1,
         hashed("tags", "y"): 1},
        {hashed("site", "b.org"): 1, hashed("device", 3): 1},
        {hashed("device", 7): 1},
        {hashed("site", "a.com"): 1, hashed("tags", "x"): 2},
        {hashed("site", "c.net"): 1, hashed("device", 7): 1, price: -1.0, hashed("tags", "z"): 1},
    ]
    for row, features in enumerate(expected):
        got = {}
        for column, value in zip(X[row].indices.tolist(), X[row].data.tolist()):
            got[column] = value
        want = {}
        for column, value in features.items():  # collisions add up, as in the reader
            want[column] = want.get(column, 0) + value
        assert got == want
    assert X.has_canonical_format and X.dtype == np.float32 and X.indices.dtype == np.int32


def test_hashes_are_pinned_across_versions_and_platforms():
    # A model trained on hashed features needs the same hashes at prediction
    # time.  FNV-1a 64's published values for "" and "a":
    assert column_seed("") == 0xCBF29CE484222325
    assert column_seed("a") == 0xAF63DC4C8601EC8C
    # And this module's features, as first computed.
    assert [hashed("site", "a.com"), hashed("device", 3), hash_name("price", N_FEATURES)] == [
        725, 3791, 3316]


def test_batches_files_and_folders(clicks, tmp_path):
    reader = ParquetReader(clicks, target="clicked", categorical="site", n_features=N_FEATURES,
                           batch_size=2)
    chunks = list(reader)
    assert [X.shape[0] for X, _ in chunks] == [2, 2, 1]
    assert reader.fraction_read == 1.0
    folder = tmp_path / "parts"
    folder.mkdir()
    table = pq.read_table(clicks)
    pq.write_table(table.slice(0, 3), folder / "part-0.parquet")
    pq.write_table(table.slice(3), folder / "part-1.parquet")
    both = list(ParquetReader(folder, target="clicked", categorical="site", n_features=N_FEATURES))
    assert [X.shape[0] for X, _ in both] == [3, 2]


def test_bad_input_names_the_file_column_and_row(clicks, tmp_path):
    with pytest.raises(ValueError, match=r"clicks\.parquet has no column 'nope'"):
        ParquetReader(clicks, target="clicked", categorical="nope")
    with pytest.raises(TypeError, match=r"column 'price' has type double; categorical"):
        list(ParquetReader(clicks, target="clicked", categorical="price"))
    with pytest.raises(ValueError, match=r"clicks\.parquet, row 2: column 'site' is null"):
        list(ParquetReader(clicks, target="site", numeric="price"))
    with pytest.raises(TypeError, match="column 'site' is not numeric"):
        list(ParquetReader(clicks, target="clicked", numeric="site"))
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(clicks.read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"cut\.parquet is not a readable Parquet file"):
        ParquetReader(cut, target="clicked")
    huge = tmp_path / "huge.parquet"
    pq.write_table(pa.table({"y": [0, 1], "x": [1.0, 1e300]}), huge)
    with pytest.raises(ValueError, match=r"huge\.parquet, row 1: column 'x' holds 1e\+300"):
        list(ParquetReader(huge, target="y", numeric="x"))


def test_query_ids_train_a_ranker_and_convert_keeps_them(tmp_path):
    rng = np.random.default_rng(0)
    qid = np.repeat(np.arange(40), 10)
    words = rng.integers(0, 50, size=qid.size)
    label = (words % 3 == 0).astype(np.int64)
    path = tmp_path / "rank.parquet"
    pq.write_table(pa.table({"qid": qid, "label": label, "word": words}), path)
    reader = ParquetReader(path, target="label", categorical="word", qid="qid",
                           n_features=N_FEATURES, batch_size=100)
    ranker = fit_stream(SparseMLPRanker(random_state=0, n_jobs=1), reader, n_epochs=3)
    X, y, q = next(iter(reader))
    assert ranker.score(X, y, qid=q) > 0.9
    convert(path, tmp_path / "d", "parquet", target="label", categorical="word", qid="qid",
            n_features=N_FEATURES, batch_size=64)
    X_loaded, y_loaded, qid_loaded = load_csr(tmp_path / "d", query_id=True)
    np.testing.assert_array_equal(qid_loaded, qid)
    np.testing.assert_array_equal(y_loaded, label)
    assert X_loaded.shape == (400, N_FEATURES) and X_loaded.nnz == 400


def test_a_classifier_streams_from_parquet(clicks):
    reader = ParquetReader(clicks, target="clicked", categorical="site", lists="tags",
                           n_features=N_FEATURES, batch_size=2)
    model = fit_stream(SparseMLPClassifier(random_state=0), reader, n_epochs=2, classes=[0, 1])
    assert model.n_iter_ == 6 and model.n_features_in_ == N_FEATURES
