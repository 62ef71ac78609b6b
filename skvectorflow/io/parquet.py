"""Parquet files read in CSR chunks, through pyarrow (the optional ``parquet`` extra).

Columns become sparse features by the hashing trick (see
:mod:`skvectorflow.io.hashing`): categorical columns and the elements of
list columns are hashed with their column's name into ``n_features``
columns of value 1; each numeric column gets one hashed column holding its
value.  Only the selected columns are read, batch by batch, so memory is
bounded by a batch.  A null, or a NaN in a numeric column, is a missing
value: no non-zero.
"""

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .hashing import column_seed, hash_bytes, hash_integers, hash_name

__all__ = ["ParquetReader"]


def _import_pyarrow():
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError:
        raise ImportError(
            "Reading Parquet needs pyarrow: pip install 'skvectorflow[parquet]'.") from None
    return pyarrow


def _as_names(columns, parameter):
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    names = list(columns)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"{parameter} must be a column name or a list of column names, got {columns!r}.")
    return names


class ParquetReader:
    """Read Parquet files as a sequence of CSR chunks with hashed features.

    Iterating yields ``(X, y)``, or ``(X, y, qid)`` when ``qid`` names a
    column.  Every iteration reads the files anew, so the reader can be
    passed to :func:`skvectorflow.io.fit_stream` for several epochs.

    Parameters
    ----------
    path : str, path-like, or list of them
        A Parquet file, a folder (its ``*.parquet`` files in name order), or
        a list of files.
    target : str or list of str
        The target column (``y`` 1-d), or several (``y`` 2-d, e.g. several
        regression targets).  Nulls in it are an error.
    categorical : str or list of str, default=()
        Columns of strings, binary, integers, booleans or dictionaries, each
        value hashed with the column's name to one feature of value 1.
    numeric : str or list of str, default=()
        Numeric (or boolean) columns, each one hashed feature holding the value.
    lists : str or list of str, default=()
        List columns (of strings or integers); each element is hashed as a
        categorical value, and repeats add up.
    qid : str or None, default=None
        Integer query-id column of ranking data (each query's rows must be
        contiguous and within one batch to be kept together by a ranker).
    n_features : int, default=2**20
        Width of the hashed space.
    batch_size : int, default=65_536
        Rows per chunk (the last of each file may be shorter).

    Attributes
    ----------
    fraction_read : float
        Share of the rows read so far.
    location : str
        The file and first row of the last chunk.

    Examples
    --------
    >>> import os, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from skvectorflow.io import ParquetReader
    >>> path = os.path.join(tempfile.mkdtemp(), "clicks.parquet")
    >>> pq.write_table(pa.table({"clicked": [1, 0, 1], "site": ["a.com", "b.org", None],
    ...                          "price": [2.5, 0.0, 1.0], "tags": [["x", "y"], [], ["x"]]}), path)
    >>> reader = ParquetReader(path, target="clicked", categorical="site", numeric="price",
    ...                        lists="tags", n_features=2**10)
    >>> [(X.shape, X.getnnz(axis=1).tolist(), y.tolist()) for X, y in reader]
    [((3, 1024), [4, 1, 2], [1, 0, 1])]
    """

    def __init__(self, path, target, *, categorical=(), numeric=(), lists=(), qid=None,
                 n_features=2**20, batch_size=65_536):
        pyarrow = _import_pyarrow()
        paths = [path] if isinstance(path, (str, Path)) else list(path)
        files = []
        for entry in map(Path, paths):
            if entry.is_dir():
                files.extend(sorted(entry.glob("*.parquet")))
            elif entry.is_file():
                files.append(entry)
            else:
                raise FileNotFoundError(f"{entry} does not exist.")
        if not files:
            raise ValueError(f"no Parquet file found in {path}.")
        self.files = files
        self.target = _as_names(target, "target")
        if not self.target:
            raise ValueError("target must name at least one column.")
        self.categorical = _as_names(categorical, "categorical")
        self.numeric = _as_names(numeric, "numeric")
        self.lists = _as_names(lists, "lists")
        self.qid = qid
        if not 1 <= int(n_features) <= np.iinfo(np.int32).max:
            raise ValueError(f"n_features must be between 1 and 2**31 - 1, got {n_features}.")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive number of rows, got {batch_size}.")
        self.n_features = int(n_features)
        self.batch_size = int(batch_size)
        self.columns = list(dict.fromkeys(
            self.target + self.categorical + self.numeric + self.lists + ([qid] if qid else [])))
        self._n_rows = 0
        for file in files:
            parquet_file = self._open(file)
            names = parquet_file.schema_arrow.names
            missing = [name for name in self.columns if name not in names]
            if missing:
                raise ValueError(f"{file} has no column {missing[0]!r}; its columns are {names}.")
            self._n_rows += parquet_file.metadata.num_rows
        self._pyarrow = pyarrow
        self.fraction_read = 0.0
        self.location = str(files[0])

    @staticmethod
    def _open(file):
        import pyarrow
        import pyarrow.parquet

        try:
            return pyarrow.parquet.ParquetFile(file)
        except (pyarrow.ArrowException, OSError) as exc:
            raise ValueError(f"{file} is not a readable Parquet file (truncated or corrupt?): "
                             f"{exc}") from None

    def __iter__(self):
        pa = self._pyarrow
        rows_done = 0
        for file in self.files:
            parquet_file = self._open(file)
            first_row = 0
            batches = parquet_file.iter_batches(batch_size=self.batch_size, columns=self.columns)
            while True:
                self.location = f"{file}, row {first_row}"
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as exc:
                    raise ValueError(f"{file}: cannot read the rows from {first_row}, the file "
                                     f"is truncated or corrupt: {exc}") from None
                chunk = self._chunk(batch, file, first_row)
                first_row += batch.num_rows
                rows_done += batch.num_rows
                self.fraction_read = rows_done / max(1, self._n_rows)
                yield chunk

    def _chunk(self, batch, file, first_row):
        """``(X, y[, qid])`` of one record batch."""
        pa = self._pyarrow
        n_rows = batch.num_rows
        rows, features, values = [], [], []
        for name in self.categorical:
            valid, hashed = self._hash_values(batch.column(name), name, file)
            rows.append(np.flatnonzero(valid))
            features.append(hashed[valid])
            values.append(np.ones(rows[-1].size, dtype=np.float32))
        for name in self.lists:
            column = batch.column(name)
            if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
                raise TypeError(f"{file}: column {name!r} of lists has type {column.type}.")
            lengths = pa.compute.list_value_length(column).fill_null(0).to_numpy()
            valid, hashed = self._hash_values(column.flatten(), name, file)
            element_rows = np.repeat(np.arange(n_rows), lengths)
            rows.append(element_rows[valid])
            features.append(hashed[valid])
            values.append(np.ones(rows[-1].size, dtype=np.float32))
        for name in self.numeric:
            column = batch.column(name)
            try:
                number = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowException, TypeError) as exc:
                raise TypeError(f"{file}: column {name!r} is not numeric ({column.type}): "
                                f"{exc}") from None
            present = np.flatnonzero(~np.isnan(number) & (number != 0))
            with np.errstate(over="ignore"):
                value = number[present].astype(np.float32)
            if not np.isfinite(value).all():
                bad = int(present[np.flatnonzero(~np.isfinite(value))[0]])
                raise ValueError(f"{file}, row {first_row + bad}: column {name!r} holds "
                                 f"{number[bad]}, which is not finite in float32.")
            rows.append(present)
            features.append(np.full(present.size, hash_name(name, self.n_features), np.int32))
            values.append(value)
        X = sp.csr_matrix(
            (np.concatenate(values) if values else np.zeros(0, np.float32),
             (np.concatenate(rows) if rows else np.zeros(0, np.int64),
              np.concatenate(features) if features else np.zeros(0, np.int32))),
            shape=(n_rows, self.n_features), dtype=np.float32)
        X.sum_duplicates()
        X.indices = X.indices.astype(np.int32, copy=False)
        targets = [self._target(batch.column(name), name, file, first_row) for name in self.target]
        y = targets[0] if len(targets) == 1 else np.column_stack(targets)
        if not self.qid:
            return X, y
        qid = self._target(batch.column(self.qid), self.qid, file, first_row)
        if not np.issubdtype(qid.dtype, np.integer):
            raise TypeError(f"{file}: query-id column {self.qid!r} must hold integers, not "
                            f"{batch.column(self.qid).type}.")
        return X, y, qid

    def _target(self, column, name, file, first_row):
        if column.null_count:
            row = first_row + int(np.flatnonzero(~column.is_valid().to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"{file}, row {row}: column {name!r} is null.")
        return column.to_numpy(zero_copy_only=False)

    def _hash_values(self, column, name, file):
        """``(valid, features)``: which entries are not null, and each one's hashed feature."""
        pa = self._pyarrow
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        seed = column_seed(name)
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) \
                or pa.types.is_large_binary(kind):
            wide = column.cast(pa.large_binary())
            _, offsets, data = wide.buffers()
            offsets = np.frombuffer(offsets, dtype=np.int64)[wide.offset:wide.offset + len(wide) + 1]
            data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
            return valid, hash_bytes(offsets, data, seed, self.n_features)
        if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
            values = column.cast(pa.int64()).fill_null(0).to_numpy()
            return valid, hash_integers(values, seed, self.n_features)
        raise TypeError(f"{file}: column {name!r} has type {kind}; categorical and list values "
                        f"must be strings, binary, integers or booleans.")
