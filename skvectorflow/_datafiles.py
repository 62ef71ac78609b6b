"""The command line's data files: svmlight/libsvm text and ``.npz`` CSR.

Two formats are read, both into float32 CSR with int32 column indices (the
engine's types, so the estimators use X without another copy):

* **svmlight / libsvm** text (``.gz`` and ``.bz2`` too), read by
  :func:`sklearn.datasets.load_svmlight_file`: one row a line,
  ``<label> [qid:<query>] <column>:<value> ...``, column ids sorted and
  unique within a line, ``#`` starts a comment.  Column ids are used as they
  are (``zero_based=True``): a 1-based file only leaves column 0 empty, while
  guessing the base per file could shift the columns of a test file against
  those of the training file.
* **.npz**: the arrays ``data``, ``indices``, ``indptr`` and ``shape`` of a
  CSR matrix, as :func:`scipy.sparse.save_npz` writes them, plus ``y`` (the
  labels) and, for ranking, ``qid`` arrays of one value a row::

      np.savez("train.npz", data=X.data, indices=X.indices, indptr=X.indptr,
               shape=X.shape, y=y, qid=qid)

A **field map** (the field of each column, ``-1`` for a dense one, as
``DLRMClassifier`` takes it) is a 1-d integer ``.npy`` file, or is stored in
a folder written by ``convert --format criteo`` (:func:`stored_field_map`).

When the fast reader rejects a text file, the file is scanned again line by
line (on this error path only) to name the first malformed line and what is
wrong with it.
"""

import bz2
import gzip
import os
import re
import zipfile
import zlib

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

__all__ = ["DataFileError", "line_of_row", "read_data_file", "read_field_map", "stored_field_map"]

_CSR_KEYS = ("data", "indices", "indptr", "shape")
# Largest column id of a file: X is at most 2**31 - 1 columns wide (int32 indices).
_MAX_COLUMN = np.iinfo(np.int32).max - 1
_QID = re.compile(r"qid:(-?\d+)$")


class DataFileError(ValueError):
    """A data file that cannot be read: missing, malformed, or of the wrong shape.

    The message names the file and, where one is to blame, its line.
    """


def read_data_file(path, *, query_id=False, n_features=None):
    """Read rows, labels and optionally query ids from a data file.

    Parameters
    ----------
    path : str or path-like
        A svmlight/libsvm text file (optionally ``.gz``/``.bz2``), an
        ``.npz`` file (see the module docstring), or a folder in the
        memory-mapped format of :mod:`skvectorflow.io` (written by
        ``skvectorflow convert`` or ``save_csr``), read without a copy.
    query_id : bool, default=False
        Also return the ``qid`` of each row; a file without them is an error.
    n_features : int or None, default=None
        Width of the returned X.  Columns at or beyond it are dropped (a
        model has learned nothing about columns it never saw) and their
        count is returned; ``None`` keeps every column of the file.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        float32 values, int32 column indices.
    y : ndarray of shape (n_samples,)
        The labels, float64.
    qid : ndarray of shape (n_samples,) or None
        Query ids when ``query_id`` is true, else None.
    n_dropped : int
        Non-zeros dropped because their column is ``>= n_features``.

    Raises
    ------
    DataFileError
        The file is missing or unreadable, a line is malformed (the message
        gives its number), the file holds no rows, or query ids are asked
        for and absent.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        X, y, qid = _read_memory_mapped(path, query_id)
    elif not os.path.isfile(path):
        raise DataFileError(f"{path}: no such file")
    elif path.endswith(".npz"):
        X, y, qid = _read_npz(path, query_id)
    else:
        X, y, qid = _read_svmlight(path, query_id)
    if X.shape[0] == 0:
        raise DataFileError(f"{path}: no rows (an empty file?)")
    if query_id and (qid is None or qid.shape[0] != X.shape[0]):
        raise DataFileError(
            f"{path}: no query ids; ranking needs one per row "
            "('<label> qid:<query> <column>:<value> ...', or a 'qid' array in an .npz)"
        )
    X, n_dropped = _fit_width(X, n_features)
    return X, y, qid, n_dropped


def _read_memory_mapped(path, query_id):
    # Imported here: the command line's other formats do not need the io package.
    from .io import load_csr

    if not os.path.isfile(os.path.join(path, "header.json")):
        raise DataFileError(f"{path}: a folder, but not one written by 'skvectorflow convert' "
                            "or skvectorflow.io.save_csr (no header.json)")
    try:
        loaded = load_csr(path, query_id=query_id)
    except ValueError as exc:
        raise DataFileError(str(exc)) from None
    X, y = loaded[0], loaded[1]
    if y.ndim != 1 or y.dtype.names is not None:
        raise DataFileError(f"{path}: the command line needs one plain label per row, "
                            f"the folder holds y of dtype {y.dtype} and shape {y.shape}")
    return X, np.asarray(y, dtype=np.float64), (loaded[2] if query_id else None)


def read_field_map(path):
    """Read a field map from a ``.npy`` file of integers, one a column.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    field_of_column : ndarray of int of shape (n_columns,)
        As stored; its length and ids are checked against X by the caller.

    Raises
    ------
    DataFileError
        The file is missing, not an ``.npy`` array, or not 1-d integers.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: no such file")
    try:
        field_of_column = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataFileError(f"{path}: not a NumPy .npy array ({_reason(exc)})") from None
    if not isinstance(field_of_column, np.ndarray) or field_of_column.ndim != 1 \
            or field_of_column.dtype.kind not in "iu":
        raise DataFileError(
            f"{path}: a field map holds one integer a column (-1 for a dense column), got "
            f"{getattr(field_of_column, 'dtype', type(field_of_column).__name__)} of shape "
            f"{getattr(field_of_column, 'shape', ())}")
    return field_of_column


def stored_field_map(path):
    """The field map stored with a folder written by ``convert``, or None.

    Parameters
    ----------
    path : str or path-like
        A data file or folder; only a folder whose ``header.json`` says
        ``"has_field_map": true`` (``convert --format criteo``) has one.

    Returns
    -------
    field_of_column : ndarray of int32 of shape (n_features,) or None

    Raises
    ------
    DataFileError
        The folder's header, or its stored map, is missing, corrupt, or of
        the wrong length (see :func:`skvectorflow.io.load_field_map`).
    """
    from .io.csr_format import load_field_map, read_header

    path = os.fspath(path)
    if not os.path.isdir(path):
        return None
    try:
        if not read_header(path).get("has_field_map", False):
            return None
        return load_field_map(path)
    except ValueError as exc:
        raise DataFileError(str(exc)) from None


def _read_svmlight(path, query_id):
    """X, y and qid of a svmlight file; a rejected file names its bad line."""
    try:
        loaded = load_svmlight_file(path, dtype=np.float32, zero_based=True,
                                    query_id=query_id)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a corrupt archive
        raise DataFileError(f"{path}: cannot be read ({_reason(exc)})") from None
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:  # Overflow: a column id >= 2**31
        where = _first_malformed_line(path)
        if where is None:
            raise DataFileError(f"{path}: not a svmlight/libsvm file ({_reason(exc)})") from None
        line_number, reason = where
        raise DataFileError(f"{path}, line {line_number}: {reason}") from None
    X, y = loaded[0], loaded[1]
    qid = loaded[2] if query_id and loaded[2].size else None
    return X, y, qid


def _read_npz(path, query_id):
    """X, y and qid of an ``.npz`` holding a CSR matrix and its labels."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFileError(f"{path}: not a NumPy .npz archive ({exc})") from None
    missing = [key for key in (*_CSR_KEYS, "y") if key not in arrays]
    if missing:
        raise DataFileError(
            f"{path}: missing array(s) {', '.join(missing)}; an .npz data file holds "
            "data, indices, indptr and shape of a CSR matrix, and y"
        )
    if "format" in arrays and str(arrays["format"]) != "csr":
        raise DataFileError(f"{path}: holds a {arrays['format']} matrix, expected csr")
    try:
        X = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]),
            shape=tuple(int(n) for n in arrays["shape"]),
        )
        X.check_format(full_check=True)
    except (ValueError, TypeError) as exc:
        raise DataFileError(f"{path}: not a valid CSR matrix ({exc})") from None
    y = np.asarray(arrays["y"], dtype=np.float64) if arrays["y"].dtype.kind in "biuf" else None
    if y is None or y.shape != (X.shape[0],):
        raise DataFileError(
            f"{path}: y must hold one number a row ({X.shape[0]} rows), "
            f"got shape {arrays['y'].shape} of dtype {arrays['y'].dtype}"
        )
    qid = arrays.get("qid") if query_id else None
    if qid is not None and (qid.shape != (X.shape[0],) or qid.dtype.kind not in "iu"):
        raise DataFileError(
            f"{path}: qid must hold one integer a row ({X.shape[0]} rows), "
            f"got shape {qid.shape} of dtype {qid.dtype}"
        )
    return X.astype(np.float32, copy=False), y, qid


def _fit_width(X, n_features):
    """X as float32/int32 CSR ``n_features`` wide, and the non-zeros dropped."""
    n_dropped = 0
    if n_features is not None and X.shape[1] > n_features:
        kept = X.indices < n_features
        n_dropped = int(X.nnz - np.count_nonzero(kept))
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[kept], minlength=X.shape[0]), out=indptr[1:])
        X = sp.csr_matrix((X.data[kept], X.indices[kept], indptr), shape=(X.shape[0], n_features))
    elif n_features is not None and X.shape[1] < n_features:
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    if X.shape[1] <= np.iinfo(np.int32).max and X.indices.dtype != np.int32:
        X = sp.csr_matrix((X.data, X.indices.astype(np.int32), X.indptr), shape=X.shape)
    return X, n_dropped


def _open_text(path):
    """Open a possibly compressed text file for reading bytes."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def _data_lines(path):
    """Yield ``(line_number, tokens)`` for each line holding a row (1-based numbers)."""
    with _open_text(path) as lines:
        for line_number, raw in enumerate(lines, start=1):
            tokens = raw.split(b"#", 1)[0].split()
            if tokens:
                yield line_number, tokens


def _first_malformed_line(path):
    """``(line_number, reason)`` of the first line the svmlight grammar rejects, or None."""
    for line_number, tokens in _data_lines(path):
        reason = _line_problem(tokens)
        if reason is not None:
            return line_number, reason
    return None


def _line_problem(tokens):
    """What is wrong with one line's tokens, or None if it is well formed."""
    try:
        label = tokens[0].decode("ascii")
    except UnicodeDecodeError:
        return "not text (a binary file?)"
    if not _is_float(label):
        return f"the label {_shown(label)} is not a number"
    features = tokens[1:]
    if features and _QID.match(features[0].decode("ascii", "replace")):
        features = features[1:]
    previous = -1
    for token in features:
        text = token.decode("ascii", "replace")
        if text.startswith("qid:"):
            return f"{_shown(text)}: qid must come right after the label"
        column, sep, value = text.partition(":")
        if not sep or not column.isdigit() or not _is_float(value):
            return f"{_shown(text)} is not '<column>:<value>' (a non-negative integer and a number)"
        if int(column) > _MAX_COLUMN:
            return (f"column {column} is beyond {_MAX_COLUMN:,}, the largest column id the "
                    "engine's int32 column indices hold")
        if int(column) <= previous:
            return (f"column {column} after column {previous}: the columns of a line must be "
                    "sorted and unique")
        previous = int(column)
    return None


def _shown(text, limit=40):
    """``repr`` of a token, cut to ``limit`` characters for a one-line message."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _reason(exc):
    """The first line of an exception's message, at most 200 characters."""
    text = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).splitlines()[0]
    return text if len(text) <= 200 else text[:200] + "..."


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def line_of_row(path, row):
    """The line number of row ``row`` of a svmlight file (for error messages).

    Parameters
    ----------
    path : str
        The file.
    row : int
        0-based row index, as in the X that :func:`read_data_file` returns.

    Returns
    -------
    line_number : int or None
        1-based line number, or None for an ``.npz`` file or a row beyond
        the file.
    """
    if os.fspath(path).endswith(".npz"):
        return None
    for index, (line_number, _) in enumerate(_data_lines(path)):
        if index == row:
            return line_number
    return None
