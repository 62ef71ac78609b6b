"""Tests of ``python -m skvectorflow train``, ``predict`` and ``convert`` on tiny files."""

import gzip
import io
import json
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from skvectorflow import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    FactorizationMachineRegressor,
    SparseMLPClassifier,
    SparseMLPRanker,
    SparseMLPRegressor,
    SurvivalExponentialRegressor,
)
from skvectorflow.__main__ import main
from skvectorflow.criteo import count_criteo, criteo_field_map
from skvectorflow.datasets import (
    load_criteo,
    make_criteo_like,
    make_sparse_classification,
    make_sparse_ranking,
    make_sparse_regression,
    make_sparse_survival,
)
from skvectorflow.io import load_csr, load_model
from skvectorflow.survival import make_survival_target

N_FEATURES = 300


def _run(*argv):
    """Run the command line in a new process, as a user would."""
    return subprocess.run([sys.executable, "-m", "skvectorflow", *map(str, argv)],
                          capture_output=True, text=True, timeout=300, check=False)


def _assert_one_line_error(result, *fragments, status=1):
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skvectorflow ") and "error:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def classification_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classification")
    X, y = make_sparse_classification(n_samples=600, n_features=N_FEATURES, nnz_per_row=10,
                                      random_state=0)
    dump_svmlight_file(X[:500], y[:500], str(folder / "train.svm"))
    dump_svmlight_file(X[500:], y[500:], str(folder / "test.svm"))
    return folder, X, y


def _signed_times(y):
    return np.where(y["event"], y["time"], -y["time"])


@pytest.fixture(scope="module")
def files_by_model(tmp_path_factory, classification_files):
    """A training file for every --model, and the data it holds."""
    folder = tmp_path_factory.mktemp("models")
    files = {"mlp-classifier": (classification_files[0] / "train.svm", None)}
    files["fm-classifier"] = files["mlp-classifier"]
    X, y = make_sparse_regression(n_samples=400, n_features=N_FEATURES, nnz_per_row=10,
                                  random_state=1)
    dump_svmlight_file(X, y, str(folder / "regression.svm"))
    files["mlp-regressor"] = (folder / "regression.svm", None)
    files["fm-regressor"] = files["mlp-regressor"]
    X, y = make_sparse_survival(n_samples=400, n_features=N_FEATURES, nnz_per_row=10,
                                random_state=2)
    dump_svmlight_file(X, _signed_times(y), str(folder / "survival.svm"))
    files["survival"] = (folder / "survival.svm", None)
    X, y, qid = make_sparse_ranking(n_queries=40, docs_per_query=10, n_features=N_FEATURES,
                                    random_state=3)
    dump_svmlight_file(X, y, str(folder / "ranking.svm"), query_id=qid)
    files["ranker"] = (folder / "ranking.svm", qid)
    return files


def test_train_then_predict_subprocess(classification_files, tmp_path):
    folder, X, _ = classification_files
    model_path = tmp_path / "model.joblib"
    result = _run("train", folder / "train.svm", "--model", "mlp-classifier", "--hidden", "8",
                  "--epochs", "2", "--n-jobs", "1", "--test", folder / "test.svm",
                  "--output", model_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert f"read {folder / 'train.svm'}: 500 rows x {N_FEATURES} columns" in out
    assert out.count("Epoch ") == 2  # progress: the estimator's verbose lines
    assert "held-out scores (100 rows): accuracy " in out and "ROC AUC" in out
    model = load_model(model_path)
    assert isinstance(model, SparseMLPClassifier)
    assert model.hidden_layer_sizes == (8,) and model.n_iter_ == 2

    predictions_path = tmp_path / "predictions.txt"
    result = _run("predict", model_path, folder / "test.svm", "--output", predictions_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    written = np.loadtxt(predictions_path)
    np.testing.assert_array_equal(written, model.predict(X[500:].astype(np.float32)))

    result = _run("predict", model_path, folder / "test.svm", "--proba")
    assert result.returncode == 0, result.stderr
    proba = np.loadtxt(result.stdout.splitlines())
    np.testing.assert_allclose(proba, model.predict_proba(X[500:].astype(np.float32)),
                               rtol=1e-6)


@pytest.mark.parametrize("model_name, estimator_class", [
    ("mlp-classifier", SparseMLPClassifier),
    ("mlp-regressor", SparseMLPRegressor),
    ("survival", SurvivalExponentialRegressor),
    ("ranker", SparseMLPRanker),
    ("fm-classifier", FactorizationMachineClassifier),
    ("fm-regressor", FactorizationMachineRegressor),
])
def test_every_model_trains_scores_and_predicts(model_name, estimator_class, files_by_model,
                                                 tmp_path, capsys):
    data, _ = files_by_model[model_name]
    model_path = tmp_path / "model.joblib"
    status = main(["train", str(data), "--model", model_name, "--hidden", "4", "--epochs", "2",
                   "--n-jobs", "1", "--validation-fraction", "0.25", "-o", str(model_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "held-out scores" in out
    model = load_model(model_path)
    assert isinstance(model, estimator_class)
    assert main(["predict", str(model_path), str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(data.read_text().splitlines())
    assert all(np.isfinite(float(line)) for line in lines)


def test_survival_labels_are_signed_times(files_by_model, tmp_path, capsys):
    data, _ = files_by_model["survival"]
    model_path = tmp_path / "survival.joblib"
    assert main(["train", str(data), "--model", "survival", "--epochs", "3", "--n-jobs", "1",
                 "--random-state", "5", "-q", "-o", str(model_path)]) == 0
    capsys.readouterr()
    X, y = make_sparse_survival(n_samples=400, n_features=N_FEATURES, nnz_per_row=10,
                                random_state=2)
    assert 0 < y["event"].sum() < y.shape[0]  # both observed and censored rows
    expected = SurvivalExponentialRegressor(max_iter=3, tol=None, n_jobs=1, random_state=5)
    expected.fit(X, make_survival_target(y["event"], y["time"]))
    # The file holds float64 text: times round-trip to the last bit of float32.
    np.testing.assert_allclose(load_model(model_path).predict(X), expected.predict(X),
                               rtol=1e-5)


def test_ranker_validation_holds_out_whole_queries(files_by_model, tmp_path, capsys):
    data, _ = files_by_model["ranker"]
    assert main(["train", str(data), "--model", "ranker", "--epochs", "1", "-q",
                 "--validation-fraction", "0.3", "-o", str(tmp_path / "r.joblib")]) == 0
    out = capsys.readouterr().out
    # 12 of 40 queries of 10 documents each: a split by rows would not give a multiple of 10.
    assert "held-out scores (120 rows): NDCG@10 " in out


def test_npz_trains_the_same_model_as_svmlight(classification_files, tmp_path, capsys):
    folder, X, y = classification_files
    npz = tmp_path / "train.npz"
    X_train = sp.csr_matrix(X[:500])
    np.savez(npz, data=X_train.data, indices=X_train.indices, indptr=X_train.indptr,
             shape=X_train.shape, y=y[:500])
    models = []
    for data in (folder / "train.svm", npz):
        path = tmp_path / f"{data.suffix}.joblib"
        assert main(["train", str(data), "--epochs", "2", "--n-jobs", "1", "-q",
                     "-o", str(path)]) == 0
        models.append(load_model(path))
    np.testing.assert_array_equal(models[0].coefs_[0], models[1].coefs_[0])


def test_params_flags_reach_the_estimator(classification_files, tmp_path, capsys):
    folder, _, _ = classification_files
    path = tmp_path / "m.joblib"
    assert main(["train", str(folder / "train.svm"), "--hidden", "6,3", "--activation", "tanh",
                 "--optimizer", "rowwise_adagrad", "--learning-rate", "0.1", "--alpha", "0.001",
                 "--l1", "0.0001", "--batch-size", "4", "--epochs", "1", "--n-features", "512",
                 "--param", "shuffle_block_size=16", "--param", "loss='hinge'", "-q",
                 "-o", str(path)]) == 0
    model = load_model(path)
    params = model.get_params()
    assert params["hidden_layer_sizes"] == (6, 3) and params["activation"] == "tanh"
    assert params["optimizer"] == "rowwise_adagrad" and params["learning_rate_init"] == 0.1
    assert (params["alpha"], params["l1"], params["batch_size"]) == (0.001, 0.0001, 4)
    assert params["shuffle_block_size"] == 16 and params["loss"] == "hinge"
    assert model.n_features_in_ == 512 and model.verbose == 0


def test_predict_ignores_columns_the_model_never_saw(classification_files, tmp_path, capsys):
    folder, X, _ = classification_files
    path = tmp_path / "m.joblib"
    assert main(["train", str(folder / "train.svm"), "--epochs", "1", "-q", "--n-jobs", "1",
                 "--n-features", "200", "-o", str(path)]) == 0
    capsys.readouterr()
    assert main(["predict", str(path), str(folder / "test.svm")]) == 0
    captured = capsys.readouterr()
    X_test = sp.csr_matrix(X[500:])
    n_unseen = int((X_test.indices >= 200).sum())
    assert n_unseen > 0
    assert f"ignored {n_unseen:,} non-zeros in columns >= 200" in captured.err
    expected = load_model(path).predict(X_test[:, :200].astype(np.float32))
    np.testing.assert_array_equal(np.loadtxt(captured.out.splitlines()), expected)


def test_gzipped_file_with_comments_and_blank_lines(tmp_path, capsys):
    path = tmp_path / "data.svm.gz"
    with gzip.open(path, "wt") as file:
        file.write("# a header comment\n1 0:1 3:2\n\n0 1:1 # trailing\n1 2:0.5 3:1\n0 1:2\n")
    assert main(["train", str(path), "--epochs", "1", "-q", "-o",
                 str(tmp_path / "m.joblib")]) == 0
    assert main(["predict", str(tmp_path / "m.joblib"), str(path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


# ---- bad input: one line on stderr, a non-zero status, no traceback --------------

def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, fragments", [
    ("1 0:1 2:3\n0 1:1\nabc 1:2\n", ["bad.svm, line 3:", "label 'abc' is not a number"]),
    ("1 0:1\n\n# comment\n0 1:x\n", ["bad.svm, line 4:", "'1:x' is not '<column>:<value>'"]),
    ("1 0:1\n0 3:1 1:1\n", ["bad.svm, line 2:", "column 1 after column 3", "sorted and unique"]),
    ("1 0:1\n0 1:1 qid:4\n", ["bad.svm, line 2:", "qid must come right after the label"]),
    ("", ["bad.svm: no rows"]),
    # sklearn's parser raised a 39-line OverflowError traceback here.
    ("1 0:1\n0 2147483653:1\n", ["bad.svm, line 2:", "column 2147483653 is beyond 2,147,483,646"]),
])
def test_malformed_training_file(text, fragments, tmp_path):
    data = _write(tmp_path / "bad.svm", text)
    result = _run("train", data, "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "skvectorflow train: error:", *fragments)
    assert not (tmp_path / "m.joblib").exists()


def test_missing_files(tmp_path, classification_files):
    folder, _, _ = classification_files
    result = _run("train", tmp_path / "nope.svm", "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "nope.svm: no such file")
    result = _run("predict", tmp_path / "nope.joblib", folder / "test.svm")
    _assert_one_line_error(result, "nope.joblib: no such file")
    result = _run("train", folder / "train.svm", "--test", tmp_path / "nope.svm",
                  "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "nope.svm: no such file")
    result = _run("train", folder / "train.svm", "-o", tmp_path / "no" / "m.joblib")
    _assert_one_line_error(result, "cannot write the model to", "no folder")
    assert "Epoch" not in result.stdout  # refused before training


def test_model_file_that_is_not_ours(tmp_path, classification_files):
    folder, _, _ = classification_files
    text_file = _write(tmp_path / "notes.txt", "not a model\n")
    result = _run("predict", text_file, folder / "test.svm")
    _assert_one_line_error(result, "notes.txt: not a skvectorflow model file", "--allow-pickle")
    result = _run("predict", text_file, folder / "test.svm", "--allow-pickle")
    _assert_one_line_error(result, "notes.txt: not a model file written by 'skvectorflow train'")
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": [1, 2]}, other)
    result = _run("predict", other, folder / "test.svm", "--allow-pickle")
    _assert_one_line_error(result, "other.joblib: holds a dict, not a skvectorflow model")


def test_survival_label_zero_names_its_line(tmp_path):
    data = _write(tmp_path / "s.svm", "# times\n3.5 0:1\n-2 1:1\n0 0:1 1:1\n")
    result = _run("train", data, "--model", "survival", "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "s.svm, line 4: survival label 0")


def test_ranking_file_without_qid(tmp_path):
    data = _write(tmp_path / "r.svm", "1 0:1\n0 1:1\n")
    result = _run("train", data, "--model", "ranker", "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "r.svm: no query ids")


def test_bad_flags_and_parameters(classification_files, tmp_path, capsys):
    folder, _, _ = classification_files
    train = ["train", str(folder / "train.svm"), "-o", str(tmp_path / "m.joblib"), "-q"]
    for flags, status, fragment in [
        (["--hidden", "16,x"], 2, "argument --hidden: expected comma-separated integers"),
        (["--validation-fraction", "1.5"], 2, "must be strictly between 0 and 1"),
        (["--param", "no_such=1"], 2, "SparseMLPClassifier has no parameter 'no_such'"),
        (["--param", "oops"], 2, "expected NAME=VALUE"),
        (["--model", "svm"], 2, "argument --model: invalid choice: 'svm'"),
        (["--test", "a.svm", "--validation-fraction", "0.2"], 2, "not allowed with argument"),
        (["--optimizer", "lbfgs"], 1, "The 'optimizer' parameter of SparseMLPClassifier"),
        (["--loss", "poisson"], 1, "The 'loss' parameter of SparseMLPClassifier"),
    ]:
        assert main(train + flags) == status, flags
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and fragment in err, (flags, err)
    assert main(["train", str(folder / "train.svm")]) == 2  # --output is required
    assert "the following arguments are required: --output" in capsys.readouterr().err


def test_proba_needs_a_probabilistic_classifier(files_by_model, tmp_path, capsys):
    data, _ = files_by_model["mlp-regressor"]
    path = tmp_path / "reg.joblib"
    assert main(["train", str(data), "--model", "mlp-regressor", "--epochs", "1", "-q",
                 "-o", str(path)]) == 0
    result = _run("predict", path, data, "--proba")
    _assert_one_line_error(result, "--proba: only classifiers predict probabilities", status=2)


def test_binary_and_corrupt_data_files(tmp_path):
    rng = np.random.default_rng(0)
    binary = tmp_path / "noise.svm"
    binary.write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    result = _run("train", binary, "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "noise.svm")
    assert len(result.stderr) < 400
    corrupt = tmp_path / "data.svm.gz"
    corrupt.write_bytes(b"not gzip at all")
    result = _run("train", corrupt, "-o", tmp_path / "m.joblib")
    _assert_one_line_error(result, "data.svm.gz: cannot be read")


@pytest.mark.parametrize("arrays, fragment", [
    ({"data": [1.0], "indices": [0], "indptr": [0, 1], "shape": [1, 3]}, "missing array(s) y"),
    ({"data": [1.0], "indices": [5], "indptr": [0, 1], "shape": [1, 3], "y": [1.0]},
     "not a valid CSR matrix"),
    ({"data": [1.0], "indices": [0], "indptr": [0, 1], "shape": [1, 3], "y": [1.0, 0.0]},
     "y must hold one number a row (1 rows)"),
])
def test_malformed_npz(arrays, fragment, tmp_path, capsys):
    path = tmp_path / "bad.npz"
    np.savez(path, **{key: np.asarray(value) for key, value in arrays.items()})
    assert main(["train", str(path), "-o", str(tmp_path / "m.joblib")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "bad.npz: " in err and fragment in err, err


def test_npz_ranking_file_reads_qid(tmp_path, capsys):
    X, y, qid = make_sparse_ranking(n_queries=20, docs_per_query=5, n_features=N_FEATURES,
                                    random_state=4)
    path = tmp_path / "rank.npz"
    np.savez(path, data=X.data, indices=X.indices, indptr=X.indptr, shape=X.shape, y=y, qid=qid)
    assert main(["train", str(path), "--model", "ranker", "--epochs", "1",
                 "-o", str(tmp_path / "r.joblib")]) == 0
    assert "20 queries" in capsys.readouterr().out


# ---- convert ------------------------------------------------------------------

def test_convert_then_train_from_the_memory_map_equals_training_from_text(
        classification_files, tmp_path, capsys):
    folder, _, _ = classification_files
    mapped = tmp_path / "train"
    result = _run("convert", folder / "train.svm", mapped, "--n-features", N_FEATURES)
    assert result.returncode == 0, result.stderr
    assert f"500 rows x {N_FEATURES} features" in result.stdout
    assert "100.0%" in result.stderr  # the progress line ends at the whole file
    models = []
    for data in (folder / "train.svm", mapped):
        path = tmp_path / f"{data.name}.joblib"
        assert main(["train", str(data), "--epochs", "2", "--n-jobs", "1", "-q",
                     "--n-features", str(N_FEATURES), "-o", str(path)]) == 0
        models.append(load_model(path))
    np.testing.assert_array_equal(models[0].coefs_[0], models[1].coefs_[0])
    assert main(["predict", str(tmp_path / "train.joblib"), str(mapped)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 500


def test_convert_keeps_query_ids_for_the_ranker(files_by_model, tmp_path, capsys):
    train = files_by_model["ranker"][0]
    mapped = tmp_path / "ranking"
    assert main(["convert", str(train), str(mapped), "--query-id", "--quiet"]) == 0
    assert "with qid" in capsys.readouterr().out
    assert main(["train", str(mapped), "--model", "ranker", "--epochs", "1", "-q",
                 "-o", str(tmp_path / "ranker.joblib")]) == 0


def test_convert_bad_input_is_one_line_and_leaves_no_folder(tmp_path):
    bad = tmp_path / "bad.svm"
    bad.write_text("1 1:0.5 7:2\nnot a line\n")
    _assert_one_line_error(_run("convert", bad, tmp_path / "out"), "bad.svm", "line 2")
    assert not (tmp_path / "out").exists()
    _assert_one_line_error(_run("convert", tmp_path / "missing.svm", tmp_path / "out"),
                           "no such file")
    _assert_one_line_error(_run("convert", bad, tmp_path / "out", "--target", "y"),
                           "Parquet flags", status=2)
    _assert_one_line_error(_run("convert", bad, tmp_path / "out", "--format", "parquet"),
                           "needs --target", status=2)


def test_a_folder_that_is_not_a_converted_file_is_refused(tmp_path):
    _assert_one_line_error(_run("train", tmp_path, "-o", tmp_path / "m.joblib"),
                           "no header.json")


# ---- recommendation models: factorization machines and DLRM on Criteo data --------

CRITEO_HASH_BITS = 6


@pytest.fixture(scope="module")
def criteo_folder(tmp_path_factory):
    """Criteo TSV converted by the command line, and the rows it holds."""
    folder = tmp_path_factory.mktemp("criteo")
    X, y, _ = make_criteo_like(400, hash_bits=CRITEO_HASH_BITS, random_state=0,
                               path=folder / "day_0.tsv")
    result = _run("convert", folder / "day_0.tsv", folder / "day_0", "--format", "criteo",
                  "--hash-bits", CRITEO_HASH_BITS, "--quiet")
    assert result.returncode == 0, result.stderr
    return folder, X, y


def test_convert_criteo_stores_its_field_map(criteo_folder):
    folder, X, _ = criteo_folder
    header = json.loads((folder / "day_0" / "header.json").read_text())
    assert header["has_field_map"] and header["n_features"] == X.shape[1]
    np.testing.assert_array_equal(np.load(folder / "day_0" / "field_of_column.npy"),
                                  criteo_field_map(hash_bits=CRITEO_HASH_BITS))


def test_convert_criteo_min_frequency_folds_as_load_criteo(criteo_folder, tmp_path, capsys):
    folder, X, _ = criteo_folder
    source = folder / "day_0.tsv"
    base = ["convert", str(source), "--format", "criteo", "--hash-bits", str(CRITEO_HASH_BITS),
            "--quiet"]
    for value, expected in [("5", 5), ("0.02", 0.02)]:
        destination = tmp_path / f"folded_{value}"
        assert main([*base[:2], str(destination), *base[2:], "--min-frequency", value]) == 0
        folded, _, _ = load_criteo(source, hash_bits=CRITEO_HASH_BITS, min_frequency=expected)
        assert (folded != X).nnz > 0
        assert (load_csr(destination)[0] != folded).nnz == 0
        np.testing.assert_array_equal(np.load(destination / "field_of_column.npy"),
                                      criteo_field_map(hash_bits=CRITEO_HASH_BITS))
    # --counts-from: a held-out file folded by the training file's counts.
    head = tmp_path / "head.tsv"
    head.write_text("".join(source.read_text().splitlines(keepends=True)[:100]))
    destination = tmp_path / "held_out"
    assert main([*base[:2], str(destination), *base[2:], "--min-frequency", "3",
                 "--counts-from", str(head)]) == 0
    counts = count_criteo(head, hash_bits=CRITEO_HASH_BITS)
    expected, _, _ = load_criteo(source, hash_bits=CRITEO_HASH_BITS, min_frequency=3, counts=counts)
    assert (load_csr(destination)[0] != expected).nnz == 0
    capsys.readouterr()
    for flags, fragments in [
        (["--min-frequency", "0"], ["argument --min-frequency: expected a count >= 1", "'0'"]),
        (["--min-frequency", "1.5"], ["argument --min-frequency:", "'1.5'"]),
        (["--min-frequency", "-3"], ["argument --min-frequency:", "'-3'"]),
        (["--min-frequency", "often"], ["argument --min-frequency:", "'often'"]),
        (["--counts-from", str(head)], ["--counts-from needs --min-frequency"]),
    ]:
        assert main([*base[:2], str(tmp_path / "never"), *base[2:], *flags]) == 2, flags
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "error:" in err, err
        assert all(fragment in err for fragment in fragments), (flags, err)
    assert main(["convert", str(source), str(tmp_path / "never"), "--min-frequency", "3"]) == 2
    assert "--min-frequency and --counts-from are Criteo flags" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("model_name, flags, expected", [
    ("fm-classifier", ["--n-factors", "3"], {"n_factors": 3}),
    ("dlrm-classifier", ["--embedding-dim", "4", "--bottom-mlp", "8", "--top-mlp", "8,4",
                         "--interaction", "cat", "--batch-size", "16"],
     {"embedding_dim": 4, "bottom_mlp": (8,), "top_mlp": (8, 4), "interaction": "cat",
      "batch_size": 16}),
])
def test_recommendation_models_train_and_predict_from_a_criteo_folder(
        model_name, flags, expected, criteo_folder, tmp_path):
    folder, X, _ = criteo_folder
    model_path = tmp_path / "model.joblib"
    result = _run("train", folder / "day_0", "--model", model_name, *flags, "--epochs", "2",
                  "--n-jobs", "1", "--validation-fraction", "0.25", "-o", model_path)
    assert result.returncode == 0, result.stderr
    assert "held-out scores (100 rows): accuracy " in result.stdout
    model = load_model(model_path)
    assert isinstance(model, {"fm-classifier": FactorizationMachineClassifier,
                              "dlrm-classifier": DLRMClassifier}[model_name])
    params = model.get_params()
    assert {name: params[name] for name in expected} == expected
    if model_name == "dlrm-classifier":  # the map convert stored
        np.testing.assert_array_equal(model.field_of_column,
                                      criteo_field_map(hash_bits=CRITEO_HASH_BITS))
        assert model.n_fields_ == 26

    result = _run("predict", model_path, folder / "day_0", "--proba")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.loadtxt(result.stdout.splitlines()), model.predict_proba(X),
                               rtol=1e-6)


def test_dlrm_reads_an_explicit_field_map(criteo_folder, tmp_path, capsys):
    _, X, y = criteo_folder
    dump_svmlight_file(X, y, str(tmp_path / "day_0.svm"))
    # The svmlight file is as wide as its largest column id, so the map is cut to that.
    width = int(X.indices.max()) + 1
    np.save(tmp_path / "fields.npy", criteo_field_map(hash_bits=CRITEO_HASH_BITS)[:width])
    path = tmp_path / "dlrm.joblib"
    assert main(["train", str(tmp_path / "day_0.svm"), "--model", "dlrm-classifier",
                 "--field-map", str(tmp_path / "fields.npy"), "--embedding-dim", "4",
                 "--bottom-mlp", "4", "--top-mlp", "4", "--epochs", "1", "--n-jobs", "1", "-q",
                 "-o", str(path)]) == 0
    assert load_model(path).n_features_in_ == width
    assert main(["predict", str(path), str(tmp_path / "day_0.svm")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == X.shape[0]


def test_dlrm_field_map_errors(criteo_folder, classification_files, tmp_path, capsys):
    folder, X, _ = criteo_folder
    svm = classification_files[0] / "train.svm"
    dlrm = ["train", "--model", "dlrm-classifier", "-o", tmp_path / "m.joblib"]
    _assert_one_line_error(_run(*dlrm, svm), "argument --field-map: dlrm-classifier needs the "
                           "field of each column", "convert --format criteo", status=2)
    np.save(tmp_path / "short.npy", np.zeros(5, dtype=np.int32))
    np.save(tmp_path / "floats.npy", np.zeros(N_FEATURES))
    for flags, status, fragments in [
        ([svm, "--field-map", tmp_path / "short.npy"], 2,
         ["argument --field-map:", "has 5 entries but X has", f"{N_FEATURES} columns"]),
        # The stored map no longer matches a width set by --n-features.
        ([folder / "day_0", "--n-features", X.shape[1] + 1], 2,
         ["its stored field map", f"has {X.shape[1]} entries"]),
        ([svm, "--field-map", tmp_path / "floats.npy"], 1,
         ["floats.npy: a field map holds one integer a column"]),
        ([svm, "--field-map", tmp_path / "nope.npy"], 1, ["nope.npy: no such file"]),
    ]:
        assert main([str(arg) for arg in (*dlrm, *flags)]) == status, flags
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, err
        assert all(fragment in err for fragment in fragments), (flags, err)
    assert not (tmp_path / "m.joblib").exists()


def test_dlrm_names_a_corrupt_stored_field_map(criteo_folder, tmp_path, capsys):
    folder, X, _ = criteo_folder
    copy = tmp_path / "day_0"
    shutil.copytree(folder / "day_0", copy)
    np.save(copy / "field_of_column.npy", np.zeros(X.shape[1] - 1, dtype=np.int32))
    assert main(["train", str(copy), "--model", "dlrm-classifier", "-q",
                 "-o", str(tmp_path / "m.joblib")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"{copy / 'field_of_column.npy'} has shape ({X.shape[1] - 1},)" in err, err
    assert not (tmp_path / "m.joblib").exists()


def test_flags_of_another_model_are_refused(classification_files, tmp_path, capsys):
    svm = str(classification_files[0] / "train.svm")
    train = ["train", svm, "-o", str(tmp_path / "m.joblib"), "-q"]
    for flags, fragment in [
        (["--model", "dlrm-classifier", "--hidden", "8"],
         "argument --hidden: DLRMClassifier has no parameter 'hidden_layer_sizes'"),
        (["--n-factors", "4"], "argument --n-factors: SparseMLPClassifier has no parameter"),
        (["--model", "fm-classifier", "--top-mlp", "4"],
         "argument --top-mlp: FactorizationMachineClassifier has no parameter 'top_mlp'"),
        (["--field-map", "f.npy"], "argument --field-map: SparseMLPClassifier takes no field map"),
        (["--model", "dlrm-classifier", "--bottom-mlp", "4,x"], "argument --bottom-mlp:"),
    ]:
        assert main(train + flags) == 2, flags
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and fragment in err, (flags, err)


def test_compile_loads_every_kernel_with_progress(capsys, monkeypatch):
    from skvectorflow._engine import compilation, hogwild, network, objectives, optimizers

    # Every epoch-kernel variant is registered; the test compiles the one the
    # suite's fits already use, beside every other kernel, to stay fast.
    variants = [kernel for kernel in compilation._KERNELS if kernel.__name__.startswith("_train_blocks[")]
    # Per optimizer: the sum layer's 7 built-in losses, callback and queries;
    # factorization and fields layers with any loss.
    assert len(variants) == len(optimizers.OPTIMIZER_CODES) * (9 + 2)
    used = hogwild.train_blocks_kernel(network.INPUT_SUM, optimizers.ADAGRAD, objectives.BINARY_LOG_LOSS)
    kernels = [kernel for kernel in compilation._KERNELS if kernel not in variants or kernel is used]
    monkeypatch.setattr(compilation, "_KERNELS", kernels)

    assert main(["compile"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("compiling or loading skvectorflow's kernels; Numba's cache: ")
    names = [line.split(":")[0].strip() for line in out.splitlines()[1:-1]]
    assert names == [kernel.__name__ for kernel in kernels]
    assert "_train_blocks[sum, adagrad, binary_log_loss]" in names and "_predict_rows[sum]" in names
    assert out.splitlines()[-1].startswith("done in ")


def test_compile_only_compiles_the_kernels_named(capsys):
    assert main(["compile", "--only", "sum, adagrad, binary_log_loss", "--only", "_predict_rows[sum]"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split(":")[0].strip() for line in lines[1:-1]]
    assert names == ["_predict_rows[sum]", "_train_blocks[sum, adagrad, binary_log_loss]"]

    assert main(["compile", "--only", "sum, adagrad, binary_log_loss", "--only", "lbfgs"]) == 2
    err = capsys.readouterr().err
    assert "--only: no kernel's name contains 'lbfgs'" in err and len(err.splitlines()) == 1


# ---- failures below the readers' checks are one line naming the file (issue 22, item 4) ----

def _main_error(capsys, *argv):
    """Run ``main`` in this process; return its status and its one line of stderr."""
    status = main([str(arg) for arg in argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return status, lines[0]


def test_a_column_id_beyond_int32_in_convert_names_its_line(tmp_path, capsys):
    data = _write(tmp_path / "over.svm", "1 0:1\n0 2147483653:1\n")
    status, line = _main_error(capsys, "convert", data, tmp_path / "out", "--quiet")
    assert status == 1
    assert "over.svm, line 2:" in line and "beyond 2**31 - 2" in line
    assert not (tmp_path / "out").exists()


def test_out_of_memory_names_the_file_and_the_likely_cause(tmp_path, capsys, monkeypatch):
    # A column id near 2**31 makes a table of 2**31 rows: numpy raises MemoryError
    # where memory is short (simulated here, as the allocation may succeed).
    from skvectorflow import _base

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 16.0 GiB for an array with shape (2147483601, 2)")

    monkeypatch.setattr(_base.network, "init_network", out_of_memory)
    data = _write(tmp_path / "wide.svm", "1 0:1\n0 2147483600:1\n")
    status, line = _main_error(capsys, "train", data, "-o", tmp_path / "m.svf", "-q")
    assert status == 1
    assert line.startswith("skvectorflow train: error: ")
    assert "wide.svm: out of memory (Unable to allocate 16.0 GiB" in line
    assert "largest column id" in line
    assert not (tmp_path / "m.svf").exists()


def _truncated_gzip(path, text):
    whole = gzip.compress(text.encode())
    path.write_bytes(whole[: len(whole) // 2])
    return path


def test_truncated_gzip_is_one_line_naming_the_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    text = "".join(f"{i % 2} {rng.integers(100)}:1 {100 + rng.integers(100)}:2\n"
                   for i in range(3000))
    data = _truncated_gzip(tmp_path / "cut.svm.gz", text)
    status, line = _main_error(capsys, "convert", data, tmp_path / "out", "--quiet")
    assert status == 1 and "cut.svm.gz" in line and "truncated or corrupt" in line
    status, line = _main_error(capsys, "train", data, "-o", tmp_path / "m.svf", "-q")
    assert status == 1 and "cut.svm.gz" in line


def test_truncated_criteo_gzip_is_one_line_naming_the_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = ["\t".join([str(i % 2), *(str(v) for v in rng.integers(0, 100, 13)),
                       *(format(int(v), "08x") for v in rng.integers(0, 1 << 30, 26))])
            for i in range(2000)]
    data = _truncated_gzip(tmp_path / "day.gz", "\n".join(rows) + "\n")
    status, line = _main_error(capsys, "convert", data, tmp_path / "out", "--format", "criteo",
                               "--quiet")
    assert status == 1
    assert "day.gz: cannot be read" in line and "truncated or corrupt" in line
    assert not (tmp_path / "out").exists()


def test_an_eof_below_the_readers_is_still_one_line(tmp_path, capsys, monkeypatch):
    # The fallback in main: an EOFError from anywhere names the command's input file.
    import skvectorflow.__main__ as cli

    def cut_short(*args, **kwargs):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(cli, "read_data_file", cut_short)
    data = _write(tmp_path / "ok.svm", "1 0:1\n0 1:1\n")
    status, line = _main_error(capsys, "train", data, "-o", tmp_path / "m.svf", "-q")
    assert status == 1
    assert "ok.svm: the file ends early or is corrupt" in line


# ---- the safe model format (issue 22, item 5) ----

class _Evil:
    """Unpickling this makes a folder: the stand-in for any code a pickle can run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.mkdir, (self.marker,)


def test_predict_refuses_a_pickle_without_running_it(tmp_path, classification_files, capsys):
    folder, _, _ = classification_files
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    joblib.dump(_Evil(str(marker)), evil)
    status, line = _main_error(capsys, "predict", evil, folder / "test.svm")
    assert status == 1
    assert "evil.joblib: not a skvectorflow model file" in line and "--allow-pickle" in line
    assert not marker.exists()  # refused before a byte of the pickle was run


def test_train_writes_the_safe_format_and_predict_reads_it(tmp_path, classification_files,
                                                           capsys):
    folder, _, _ = classification_files
    path = tmp_path / "m.skvf"
    assert main(["train", str(folder / "train.svm"), "-o", str(path), "-q", "--epochs", "2",
                 "--random-state", "0"]) == 0
    with np.load(path, allow_pickle=False) as archive:
        assert "model.json" in archive.files
    model = load_model(path)
    capsys.readouterr()
    assert main(["predict", str(path), str(folder / "test.svm")]) == 0
    written = np.loadtxt(io.StringIO(capsys.readouterr().out))
    X, _ = load_svmlight_file(str(folder / "test.svm"), n_features=N_FEATURES, dtype=np.float32)
    np.testing.assert_array_equal(written, model.predict(X))


def test_train_pickle_needs_allow_pickle_to_predict(tmp_path, classification_files, capsys):
    folder, _, _ = classification_files
    path = tmp_path / "m.joblib"
    assert main(["train", str(folder / "train.svm"), "-o", str(path), "-q", "--epochs", "1",
                 "--pickle"]) == 0
    model = joblib.load(path)
    capsys.readouterr()
    status, line = _main_error(capsys, "predict", path, folder / "test.svm")
    assert status == 1 and "--allow-pickle" in line
    assert main(["predict", str(path), str(folder / "test.svm"), "--allow-pickle"]) == 0
    X, _ = load_svmlight_file(str(folder / "test.svm"), n_features=N_FEATURES, dtype=np.float32)
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(capsys.readouterr().out)),
                                  model.predict(X))


def test_predict_names_an_edited_model_file(tmp_path, classification_files, capsys):
    folder, _, _ = classification_files
    path = tmp_path / "m.skvf"
    assert main(["train", str(folder / "train.svm"), "-o", str(path), "-q", "--epochs", "1"]) == 0
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    capsys.readouterr()
    status, line = _main_error(capsys, "predict", path, folder / "test.svm")
    assert status == 1 and "m.skvf: not a skvectorflow model file, or truncated or corrupt" in line
