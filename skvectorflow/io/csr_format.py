"""The on-disk CSR format: a folder of ``.npy`` arrays that numpy memory-maps.

A folder written by :func:`save_csr` or :class:`CSRWriter` holds::

    header.json   {"format": "skvectorflow-csr", "version": 1, "n_rows": ...,
                   "n_features": ..., "nnz": ..., "has_qid": ..., "canonical": true}
    data.npy      float32, shape (nnz,)
    indices.npy   int32, shape (nnz,)
    indptr.npy    int64, shape (n_rows + 1,)
    y.npy         shape (n_rows,) or (n_rows, n_targets), the target's own dtype
                  (a structured (event, time) array for survival)
    qid.npy       int64, shape (n_rows,); only for ranking data
    field_of_column.npy
                  int32, shape (n_features,); only for data whose columns belong
                  to fields (``convert --format criteo``): the field map of
                  :mod:`skvectorflow.fields` that ``DLRMClassifier`` takes,
                  read by :func:`load_field_map`; the header then has
                  ``"has_field_map": true``

These are the engine's own types, so an estimator fits on the memory-mapped
arrays directly: no copy of ``data``, ``indices`` or ``indptr`` is made and
nothing is written into them (the maps are opened read-only).  Rows are
stored canonical (sorted column indices, no repeats).

The arrays are appended to as chunks arrive, so a file bigger than memory is
written in one pass with memory bounded by a chunk; ``header.json`` is
written last, so a folder without it is an interrupted write and is refused.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .._engine.csr import CSR_INDPTR_DECREASES, CSR_VALID, inspect_csr

__all__ = ["CSRWriter", "load_csr", "load_field_map", "save_csr"]

FORMAT_NAME = "skvectorflow-csr"
FORMAT_VERSION = 1
HEADER_FILE = "header.json"

DATA_DTYPE = np.dtype(np.float32)
INDICES_DTYPE = np.dtype(np.int32)
INDPTR_DTYPE = np.dtype(np.int64)
QID_DTYPE = np.dtype(np.int64)
FIELD_MAP_DTYPE = np.dtype(np.int32)
FIELD_MAP_FILE = "field_of_column.npy"

# Rows handed to the writer at a time by save_csr (bounds its temporaries).
_SAVE_ROWS_PER_CHUNK = 1 << 20

_NPY_MAGIC = b"\x93NUMPY\x01\x00"
# Placeholder dimension as wide as any real one, so the final header fits.
_WIDEST_DIMENSION = np.iinfo(np.int64).max


class _NpyAppender:
    """An ``.npy`` file of one dtype that grows along its first axis.

    The header is reserved at the start, wide enough for any length, and
    rewritten with the final shape by ``close``; the data in between is
    written as it arrives.
    """

    def __init__(self, path, dtype, trailing_shape=()):
        self.path = path
        self.dtype = np.dtype(dtype)
        self.trailing_shape = tuple(trailing_shape)
        self.length = 0
        self._header_size = len(self._header((_WIDEST_DIMENSION,) + self.trailing_shape))
        # Held open across appends, closed by close() or abort().
        self._file = open(path, "wb")  # noqa: SIM115
        self._file.write(b"\0" * self._header_size)

    def _header(self, shape, size=None):
        described = repr({"descr": np.lib.format.dtype_to_descr(self.dtype),
                          "fortran_order": False, "shape": shape})
        # Magic (8 bytes) + length (2) + header + newline, padded to 64 bytes.
        size = size or -(-(len(_NPY_MAGIC) + 2 + len(described) + 1) // 64) * 64
        text = described.ljust(size - len(_NPY_MAGIC) - 2 - 1) + "\n"
        return _NPY_MAGIC + len(text).to_bytes(2, "little") + text.encode("latin1")

    def append(self, values):
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self._file.write(memoryview(values).cast("B"))
        self.length += values.shape[0]

    def close(self):
        self._file.seek(0)
        self._file.write(self._header((self.length,) + self.trailing_shape, self._header_size))
        self._file.close()

    def abort(self):
        self._file.close()


class CSRWriter:
    """Write a CSR matrix and its targets to disk chunk by chunk.

    Memory stays bounded by one chunk whatever the total size.  Use it as a
    context manager: on an exception the files written so far are removed.

    Parameters
    ----------
    path : str or path-like
        Folder to create.
    n_features : int or None, default=None
        Width of the matrix.  Every chunk must then have exactly this many
        columns; ``None`` takes the widest chunk's width.
    overwrite : bool, default=False
        Replace an existing folder instead of raising ``FileExistsError``.
    field_of_column : array-like of int of shape (n_features,) or None, default=None
        The field of each column (``-1`` for a dense column), stored as
        ``field_of_column.npy`` beside the arrays; needs ``n_features``.

    Attributes
    ----------
    n_rows, nnz : int
        Rows and non-zeros written so far.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np, scipy.sparse as sp
    >>> from skvectorflow.io import CSRWriter, load_csr
    >>> folder = os.path.join(tempfile.mkdtemp(), "train")
    >>> with CSRWriter(folder, n_features=4) as writer:
    ...     writer.append(sp.eye(2, 4, format="csr"), np.array([0, 1]))
    ...     writer.append(sp.eye(1, 4, k=3, format="csr"), np.array([1]))
    >>> X, y = load_csr(folder)
    >>> X.shape, X.nnz, y.tolist()
    ((3, 4), 3, [0, 1, 1])
    """

    def __init__(self, path, n_features=None, *, overwrite=False, field_of_column=None):
        self.path = Path(path)
        if n_features is not None and not 1 <= int(n_features) <= np.iinfo(np.int32).max:
            raise ValueError(f"n_features must be between 1 and 2**31 - 1, got {n_features}.")
        if field_of_column is not None:
            field_of_column = np.asarray(field_of_column)
            if (n_features is None or field_of_column.shape != (int(n_features),)
                    or not np.issubdtype(field_of_column.dtype, np.integer)):
                raise ValueError(f"field_of_column must hold one integer a column (n_features="
                                 f"{n_features}), got dtype {field_of_column.dtype} and shape "
                                 f"{field_of_column.shape}.")
        self._fixed_n_features = None if n_features is None else int(n_features)
        self.n_features = self._fixed_n_features or 0
        if self.path.exists():
            if not overwrite:
                raise FileExistsError(f"{self.path} already exists; pass overwrite=True to replace it.")
            if self.path.is_dir():
                shutil.rmtree(self.path)
            else:
                self.path.unlink()
        self.path.mkdir(parents=True)
        self.n_rows = 0
        self.nnz = 0
        self._n_chunks = 0
        self._data = _NpyAppender(self.path / "data.npy", DATA_DTYPE)
        self._indices = _NpyAppender(self.path / "indices.npy", INDICES_DTYPE)
        self._indptr = _NpyAppender(self.path / "indptr.npy", INDPTR_DTYPE)
        self._indptr.append(np.zeros(1, dtype=INDPTR_DTYPE))
        self._y = None
        self._qid = None
        self._closed = False
        self._has_field_map = field_of_column is not None
        if self._has_field_map:
            np.save(self.path / FIELD_MAP_FILE, field_of_column.astype(FIELD_MAP_DTYPE))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def append(self, X, y, qid=None):
        """Append rows.

        Parameters
        ----------
        X : sparse matrix or array of shape (n_rows, n_columns)
            Any sparse format or a dense array; written as float32 CSR with
            sorted, unique column indices.
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
            Same dtype and trailing shape in every chunk.
        qid : array-like of shape (n_rows,), default=None
            Integer query ids; given in every chunk or in none.
        """
        chunk = f"chunk {self._n_chunks} (rows from {self.n_rows})"
        X = sp.csr_matrix(X, dtype=DATA_DTYPE) if not sp.issparse(X) or X.format != "csr" else X
        if X.dtype != DATA_DTYPE:
            X = X.astype(DATA_DTYPE)
        n_rows, n_columns = X.shape
        if self._fixed_n_features is not None and n_columns != self._fixed_n_features:
            raise ValueError(
                f"{chunk} of {self.path} has {n_columns} features, expected {self._fixed_n_features}.")
        if n_columns > np.iinfo(np.int32).max:
            raise ValueError(f"{chunk} has {n_columns} features; at most 2**31 - 1 fit int32 indices.")
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        if not np.isfinite(X.data).all():
            position = int(np.flatnonzero(~np.isfinite(X.data))[0])
            row = int(np.searchsorted(X.indptr, position, side="right")) - 1
            raise ValueError(f"{chunk} of {self.path}: row {self.n_rows + row} holds a NaN or "
                             f"infinite value.")
        y = np.asarray(y)
        if y.dtype == object:
            raise TypeError(f"{chunk}: y has dtype object, which cannot be memory-mapped; "
                            f"convert it to a numeric (or structured) dtype.")
        if y.ndim not in (1, 2) or y.shape[0] != n_rows:
            raise ValueError(f"{chunk}: X has {n_rows} rows but y has shape {y.shape}.")
        if self._y is None:
            if self._n_chunks:
                raise ValueError(f"{chunk}: y given, but not with the earlier chunks.")
            self._y = _NpyAppender(self.path / "y.npy", y.dtype, y.shape[1:])
        elif y.dtype != self._y.dtype or y.shape[1:] != self._y.trailing_shape:
            raise ValueError(
                f"{chunk}: y has dtype {y.dtype} and shape {y.shape}, but the first chunk's had "
                f"dtype {self._y.dtype} and trailing shape {self._y.trailing_shape}.")
        if (qid is None) != (self._qid is None) and self._n_chunks:
            raise ValueError(f"{chunk}: qid must be given with every chunk or with none.")
        if qid is not None:
            qid = np.asarray(qid)
            if qid.shape != (n_rows,) or not np.issubdtype(qid.dtype, np.integer):
                raise ValueError(f"{chunk}: qid must be {n_rows} integers, got dtype {qid.dtype} "
                                 f"and shape {qid.shape}.")
            if self._qid is None:
                self._qid = _NpyAppender(self.path / "qid.npy", QID_DTYPE)
            self._qid.append(qid)
        self._data.append(X.data)
        self._indices.append(X.indices)
        self._indptr.append(X.indptr[1:].astype(INDPTR_DTYPE) + self.nnz)
        self._y.append(y)
        self.n_rows += n_rows
        self.nnz += int(X.nnz)
        self.n_features = max(self.n_features, n_columns)
        self._n_chunks += 1

    def _appenders(self):
        return [a for a in (self._data, self._indices, self._indptr, self._y, self._qid) if a]

    def close(self):
        """Finish the files and write ``header.json``; return the header."""
        if self._closed:
            return None
        if self._y is None:
            self._y = _NpyAppender(self.path / "y.npy", np.float64)
        for appender in self._appenders():
            appender.close()
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "nnz": self.nnz,
            "has_qid": self._qid is not None,
            "has_field_map": self._has_field_map,
            "canonical": True,
        }
        temporary = self.path / (HEADER_FILE + ".partial")
        temporary.write_text(json.dumps(header, indent=1) + "\n")
        os.replace(temporary, self.path / HEADER_FILE)
        self._closed = True
        return header

    def abort(self):
        """Close and remove everything written (the folder included)."""
        for appender in self._appenders():
            appender.abort()
        shutil.rmtree(self.path, ignore_errors=True)
        self._closed = True


def save_csr(path, X, y, qid=None, *, overwrite=False):
    """Save X, y (and query ids) in the memory-mappable on-disk format.

    Parameters
    ----------
    path : str or path-like
        Folder to create.
    X : sparse matrix or array of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Any numeric dtype, or a structured array (survival targets).
    qid : array-like of int of shape (n_samples,), default=None
        Query ids of ranking data.
    overwrite : bool, default=False
        Replace an existing folder.

    Returns
    -------
    header : dict
        What ``header.json`` holds.

    See Also
    --------
    load_csr : Memory-map the folder again.
    CSRWriter : Write chunk by chunk, for data that does not fit in memory.

    Examples
    --------
    >>> import tempfile, os
    >>> from skvectorflow.datasets import make_sparse_classification
    >>> from skvectorflow.io import save_csr, load_csr
    >>> X, y = make_sparse_classification(n_samples=100, n_features=64, random_state=0)
    >>> folder = os.path.join(tempfile.mkdtemp(), "train")
    >>> save_csr(folder, X, y)["n_rows"]
    100
    >>> X_map, y_map = load_csr(folder)
    >>> (X_map != X).nnz, bool((y_map == y).all())
    (0, True)
    """
    if not sp.issparse(X):
        X = sp.csr_matrix(np.asarray(X, dtype=DATA_DTYPE))
    X = X.tocsr()
    y = np.asarray(y)
    if y.shape[:1] != (X.shape[0],):
        raise ValueError(f"X has {X.shape[0]} rows but y has shape {y.shape}.")
    if qid is not None:
        qid = np.asarray(qid)
    with CSRWriter(path, n_features=X.shape[1], overwrite=overwrite) as writer:
        for start in range(0, X.shape[0], _SAVE_ROWS_PER_CHUNK):
            stop = min(start + _SAVE_ROWS_PER_CHUNK, X.shape[0])
            writer.append(X[start:stop], y[start:stop], None if qid is None else qid[start:stop])
    return read_header(path)


def read_header(path):
    """The parsed ``header.json`` of a CSR folder, checked.

    Raises
    ------
    ValueError
        If the folder lacks a complete header or holds another format.
    """
    path = Path(path)
    header_path = path / HEADER_FILE
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder written by skvectorflow.io.save_csr.")
    if not header_path.exists():
        raise ValueError(f"{path} has no {HEADER_FILE}: the write was interrupted or this is not "
                         f"a skvectorflow CSR folder.")
    try:
        header = json.loads(header_path.read_text())
        if header.get("format") != FORMAT_NAME:
            raise ValueError(f"format is {header.get('format')!r}, not {FORMAT_NAME!r}")
        if header.get("version") != FORMAT_VERSION:
            raise ValueError(f"version {header.get('version')!r} is not supported "
                             f"(this skvectorflow reads version {FORMAT_VERSION})")
        for key in ("n_rows", "n_features", "nnz"):
            if not isinstance(header.get(key), int) or header[key] < 0:
                raise ValueError(f"{key} must be a non-negative integer, got {header.get(key)!r}")
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"{header_path} is not a valid header: {exc}.") from None
    return header


def _load_array(path, mmap, dtype, shape_head, one_dimensional=True):
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path} is missing.") from None
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} cannot be read, it is truncated or corrupt: {exc}") from None
    if dtype is not None and array.dtype != dtype:
        raise ValueError(f"{path} has dtype {array.dtype}, expected {dtype}.")
    if array.shape[:1] != shape_head or (one_dimensional and array.ndim != 1):
        raise ValueError(f"{path} has shape {array.shape}, but the header gives {shape_head[0]} "
                         f"entries; it is truncated or does not belong to this folder.")
    return array


def load_csr(path, *, mmap=True, query_id=False, validate=True):
    """Load a folder written by :func:`save_csr` or :class:`CSRWriter`.

    Parameters
    ----------
    path : str or path-like
    mmap : bool, default=True
        Memory-map the arrays read-only (the page cache holds them, not the
        process's own memory); ``False`` reads them into memory.
    query_id : bool, default=False
        Also return the query ids (the folder must hold them).
    validate : bool, default=True
        Check the structure in one sequential pass over ``indptr`` and
        ``indices`` (a column index outside ``[0, n_features)`` would make
        training read and write outside the weight table).  The sizes and
        dtypes of the files are always checked; skip this pass only for
        files you wrote yourself.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_features)
        float32 data, int32 indices, int64 indptr: estimators use it without
        a copy.
    y : ndarray of shape (n_rows,) or (n_rows, n_targets)
    qid : ndarray of int64 of shape (n_rows,)
        Only with ``query_id=True``.

    Raises
    ------
    ValueError
        Naming the file and position when a file is truncated, corrupt or
        inconsistent with the header.
    """
    path = Path(path)
    header = read_header(path)
    n_rows, n_features, nnz = header["n_rows"], header["n_features"], header["nnz"]
    if query_id and not header.get("has_qid"):
        raise ValueError(f"{path} holds no query ids (qid.npy); load it with query_id=False.")
    data = _load_array(path / "data.npy", mmap, DATA_DTYPE, (nnz,))
    indices = _load_array(path / "indices.npy", mmap, INDICES_DTYPE, (nnz,))
    indptr = _load_array(path / "indptr.npy", mmap, INDPTR_DTYPE, (n_rows + 1,))
    y = _load_array(path / "y.npy", mmap, None, (n_rows,), one_dimensional=False)
    if indptr[0] != 0 or indptr[-1] != nnz:
        raise ValueError(f"{path / 'indptr.npy'} runs from {indptr[0]} to {indptr[-1]}, expected "
                         f"0 to {nnz} (the number of non-zeros): the file is corrupt.")
    layout = None
    if validate:
        status, position, layout = inspect_csr(indptr, indices, n_features)
        if status == CSR_INDPTR_DECREASES:
            raise ValueError(f"{path / 'indptr.npy'}: entry {position} is smaller than the one "
                             f"before it (row {position - 1} would have a negative length).")
        if status != CSR_VALID:
            row = int(np.searchsorted(indptr, position, side="right")) - 1
            raise ValueError(f"{path / 'indices.npy'}: entry {position} (row {row}) is column "
                             f"{indices[position]}, outside [0, {n_features}).")
    X = sp.csr_matrix((n_rows, n_features), dtype=DATA_DTYPE)
    # Assigned directly: the constructor would make indices and indptr one
    # dtype, copying one of them (gigabytes at this scale).
    X.data, X.indices, X.indptr = data, indices, indptr
    # The header's "canonical" is a claim; only the verified layout sets
    # scipy's flag, which its arithmetic trusts.
    if layout == 0:
        X.has_canonical_format = True
    if not query_id:
        return X, y
    return X, y, _load_array(path / "qid.npy", mmap, QID_DTYPE, (n_rows,))


def load_field_map(path):
    """Load the field map stored in a folder with its CSR matrix.

    ``convert(..., format="criteo")`` and ``CSRWriter(..., field_of_column=...)``
    store the field of each column beside the arrays; this returns it, for
    ``DLRMClassifier(field_of_column=...)``.

    Parameters
    ----------
    path : str or path-like
        A folder written by :func:`~skvectorflow.io.convert` or
        :class:`CSRWriter`.

    Returns
    -------
    field_of_column : ndarray of int of shape (n_features,)
        The field of each column, ``-1`` for a dense one (see
        :mod:`skvectorflow.fields`), read into memory (int32 as written).

    Raises
    ------
    ValueError
        If the folder stores no field map, or its ``field_of_column.npy`` is
        missing, corrupt, not integers, or not one entry a column of X.

    See Also
    --------
    load_csr : X and y of the same folder.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np, scipy.sparse as sp
    >>> from skvectorflow.io import CSRWriter, load_csr, load_field_map
    >>> folder = os.path.join(tempfile.mkdtemp(), "clicks")
    >>> X = sp.csr_matrix(np.array([[0.5, 1, 0, 0], [2.0, 0, 0, 1]]))
    >>> with CSRWriter(folder, n_features=4, field_of_column=[-1, 0, 0, 1]) as writer:
    ...     writer.append(X, np.array([1, 0]))
    >>> X_map, y_map = load_csr(folder)
    >>> load_field_map(folder).tolist(), X_map.shape
    ([-1, 0, 0, 1], (2, 4))
    """
    path = Path(path)
    header = read_header(path)
    if not header.get("has_field_map"):
        raise ValueError(f"{path} stores no field map ({FIELD_MAP_FILE}): only "
                         f"convert(..., format='criteo') and CSRWriter(..., field_of_column=...) "
                         f"write one; build the map otherwise (see skvectorflow.fields).")
    file = path / FIELD_MAP_FILE
    field_of_column = _load_array(file, mmap=False, dtype=None, shape_head=(header["n_features"],))
    if field_of_column.dtype.kind not in "iu":
        raise ValueError(f"{file} has dtype {field_of_column.dtype}; a field map holds one "
                         f"integer a column (-1 for a dense column).")
    return field_of_column
