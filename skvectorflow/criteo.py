r"""The Criteo display-advertising format: a streaming reader and a synthetic look-alike.

A Criteo line is a click label, ``n_dense = 13`` integer counts and
``n_fields = 26`` categorical values (8 hexadecimal digits in the real data),
tab-separated; an empty field is missing.  :func:`load_criteo` reads such a
file (plain or gzip) into one CSR matrix with a field map (see
:mod:`skvectorflow.fields`):

- columns ``[0, n_dense)`` hold ``sign(v) * log1p(|v|)`` of the counts (a
  missing or zero count is no entry);
- categorical field ``f`` owns the ``2**hash_bits`` columns starting at
  ``n_dense + f * 2**hash_bits``; its value is hashed (FNV-1a, seeded by
  ``f``) to one of them, with value 1, and a missing value is its own
  category.

So every row has exactly ``n_fields`` categorical entries, as DLRM's inputs
do. :func:`parse_criteo_chunk` parses lines held in memory, for readers that
get their bytes elsewhere.

``min_frequency`` folds rare categories as
:class:`~sklearn.preprocessing.OneHotEncoder` does: a first pass over the
file counts the rows of each hashed column (:func:`count_criteo`, a
:class:`CriteoCounts` of ``n_fields x 2**hash_bits`` int32, whatever the
number of distinct tokens), and the second moves the columns seen fewer
than ``min_frequency`` times to one infrequent column per field.  The counts
of a training file encode a test file the same way (``counts=``).

:func:`make_criteo_like` draws data of the same shape from a hidden teacher
in which fields interact, so that models of interactions (factorization
machines, DLRM) can beat a linear model; it can write the TSV format too.
Both functions are re-exported by :mod:`skvectorflow.datasets`.
"""

import gzip
import math
import numbers
import os
import sys
import time
import zlib

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logit
from sklearn.utils import check_random_state

from ._engine.criteo_format import (
    PARSE_BAD_INTEGER,
    PARSE_BAD_LABEL,
    PARSE_OK,
    PARSE_WRONG_FIELD_COUNT,
    count_categories,
    fold_infrequent,
    parse_criteo_lines,
)
from .fields import (
    MAX_HASH_BITS,
    check_min_frequency,
    field_map_of_blocks,
    frequency_threshold,
    hash_values,
    lowest_infrequent_bucket,
    signed_log1p,
)

__all__ = ["CriteoCounts", "CriteoReader", "count_criteo", "criteo_field_map", "load_criteo",
           "make_criteo_like", "parse_criteo_chunk"]

CRITEO_N_DENSE = 13
CRITEO_N_FIELDS = 26

# Bytes read per chunk of the file; lines are parsed in whole chunks.
_CHUNK_BYTES = 1 << 24
# Seconds between progress lines under ``verbose``.
_PROGRESS_SECONDS = 2.0
_GZIP_MAGIC = b"\x1f\x8b"


def _check_hash_bits(hash_bits, n_dense, n_fields):
    if isinstance(hash_bits, bool) or not isinstance(hash_bits, numbers.Integral):
        raise TypeError(f"hash_bits must be an integer, got {hash_bits!r}.")
    if not 1 <= hash_bits <= MAX_HASH_BITS:
        raise ValueError(f"hash_bits must be in [1, {MAX_HASH_BITS}], got {hash_bits}.")
    if n_dense + n_fields * (1 << hash_bits) > np.iinfo(np.int32).max:
        raise ValueError(
            f"hash_bits={hash_bits} gives {n_fields} fields of 2**{hash_bits} columns, more than "
            f"int32 column indices hold; lower hash_bits."
        )
    return int(hash_bits)


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def criteo_field_map(n_dense=CRITEO_N_DENSE, n_fields=CRITEO_N_FIELDS, hash_bits=16):
    """The field map of the CSR matrices this module makes.

    Parameters
    ----------
    n_dense, n_fields : int, default=13, 26
        Integer and categorical columns per line.
    hash_bits : int, default=16
        Each categorical field has ``2**hash_bits`` columns.

    Returns
    -------
    field_of_column : ndarray of int32, shape (n_dense + n_fields * 2**hash_bits,)
    """
    return field_map_of_blocks(n_dense, [1 << hash_bits] * n_fields)


class _ParseError(ValueError):
    """A line the parser rejected: ``line`` is 0-based within the parsed buffer."""

    def __init__(self, message, line):
        super().__init__(message)
        self.line = line


def _parse_into_arrays(buffer, n_dense, n_fields, hash_bits, max_rows):
    """Parse whole lines of a uint8 buffer; return (indptr, indices, data, labels)."""
    n_lines = int(np.count_nonzero(buffer == 10)) + 1
    rows = min(max_rows, n_lines)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    indices = np.empty(rows * (n_dense + n_fields), dtype=np.int32)
    data = np.empty(rows * (n_dense + n_fields), dtype=np.float32)
    labels = np.empty(rows, dtype=np.float32)
    status = np.zeros(3, dtype=np.int64)
    n_rows, _ = parse_criteo_lines(buffer, np.int64(n_dense), np.int64(n_fields), np.int64(hash_bits),
                                   np.int64(rows), indptr, indices, data, labels, status)
    if status[0] != PARSE_OK:
        line = int(status[1])
        text = _line_text(buffer, line)
        expected = 1 + n_dense + n_fields
        if status[0] == PARSE_WRONG_FIELD_COUNT:
            found = text.count("\t") + 1
            detail = f"has {found} tab-separated fields, expected {expected} (label, {n_dense} " \
                     f"integers, {n_fields} categorical)"
        elif status[0] == PARSE_BAD_LABEL:
            detail = f"has label {text.split(chr(9))[0]!r}, expected 0 or 1"
        else:
            assert status[0] == PARSE_BAD_INTEGER
            column = int(status[2])
            detail = f"has {text.split(chr(9))[column - 1]!r} in integer column {column - 1}"
        raise _ParseError(detail, line)
    nnz = int(indptr[n_rows])
    return indptr[: n_rows + 1], indices[:nnz], data[:nnz], labels[:n_rows]


def _line_text(buffer, line):
    text = buffer.tobytes().split(b"\n")[line]
    return text.decode("utf-8", errors="replace").rstrip("\r")


def parse_criteo_chunk(lines, *, n_dense=CRITEO_N_DENSE, n_fields=CRITEO_N_FIELDS, hash_bits=16,
                       first_line=1, source="<chunk>"):
    """Parse Criteo-format lines held in memory into CSR arrays.

    Parameters
    ----------
    lines : bytes
        Whole lines (the last may lack its newline); empty lines are skipped.
    n_dense, n_fields : int, default=13, 26
        Integer and categorical columns per line.
    hash_bits : int, default=16
        Each categorical field has ``2**hash_bits`` columns.
    first_line : int, default=1
        File line number of the chunk's first line, for error messages.
    source : str, default='<chunk>'
        Name of the file, for error messages.

    Returns
    -------
    indptr : ndarray of int64, shape (n_rows + 1,)
    indices : ndarray of int32
    data : ndarray of float32
    labels : ndarray of float32, shape (n_rows,)

    Raises
    ------
    ValueError
        Naming ``source`` and the line number, for a line with the wrong
        number of fields, a label other than 0/1, or a non-integer count.

    Examples
    --------
    >>> from skvectorflow.criteo import parse_criteo_chunk
    >>> line = "1\\t5\\t\\t" + "\\t".join(["68fd1e64"] * 3) + "\\n"
    >>> indptr, indices, data, labels = parse_criteo_chunk(
    ...     line.encode(), n_dense=2, n_fields=3, hash_bits=4)
    >>> indptr.tolist(), labels.tolist(), round(float(data[0]), 4)
    ([0, 4], [1.0], 1.7918)
    """
    n_dense = _check_count("n_dense", n_dense, 0)
    n_fields = _check_count("n_fields", n_fields, 0)
    hash_bits = _check_hash_bits(hash_bits, n_dense, n_fields)
    buffer = np.frombuffer(bytes(lines), dtype=np.uint8)
    try:
        return _parse_into_arrays(buffer, n_dense, n_fields, hash_bits, np.iinfo(np.int64).max // 2)
    except _ParseError as error:
        raise ValueError(f"{source}, line {first_line + error.line}: {error}.") from None


def _text_stream(raw):
    """The text of an open binary file: decompressed if it is gzip (by content, not name)."""
    magic = raw.read(2)
    raw.seek(0)
    return gzip.open(raw, "rb") if magic == _GZIP_MAGIC else _Unclosed(raw)


class _Unclosed:
    """``raw`` as a context manager that leaves closing to its owner."""

    def __init__(self, raw):
        self.raw = raw

    def read(self, size):
        return self.raw.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def load_criteo(path, n_rows=None, *, hash_bits=16, n_dense=CRITEO_N_DENSE, n_fields=CRITEO_N_FIELDS,
                min_frequency=None, counts=None, verbose=0):
    """Read a Criteo display-advertising file into a CSR matrix, labels and a field map.

    The file is streamed in chunks of 16 MiB and parsed by a compiled
    kernel; memory holds the growing CSR arrays and one chunk (and, with
    ``min_frequency``, the counts: ``n_fields * 2**hash_bits`` int32).

    Parameters
    ----------
    path : str or path-like
        Tab-separated text, plain or gzip-compressed (detected from the
        content, not the name).
    n_rows : int or None, default=None
        Read at most this many rows (the first ones).
    hash_bits : int, default=16
        Each categorical field has ``2**hash_bits`` columns (26 fields of
        65,536 columns by default).
    n_dense, n_fields : int, default=13, 26
        Integer and categorical columns per line (the Criteo data sets' 13
        and 26; other values read files of the same layout).
    min_frequency : int, float or None, default=None
        Fold rare categories, as :class:`~sklearn.preprocessing.OneHotEncoder`
        does: a hashed column of a field seen in fewer than ``min_frequency``
        rows (an int >= 1), or fewer than ``min_frequency * n`` of the ``n``
        rows counted (a float in (0, 1)), goes to the field's one infrequent
        column (its lowest such bucket); so do columns never seen in the
        rows counted.  The width and field map do not change.  ``None`` or
        ``1`` folds nothing.  Without ``counts`` the rows counted are the rows
        read (the first ``n_rows``), in a first pass over the file.
    counts : CriteoCounts or None, default=None
        Counts to fold by instead, from :func:`count_criteo` of the training
        file (or ``CriteoReader.counts``): a test file read with the
        training counts gets the training data's columns.  Its ``hash_bits``,
        ``n_dense`` and ``n_fields`` must be these.  Needs ``min_frequency``.
    verbose : int, default=0
        Print progress (rows, MiB, rows/s) to stderr every few seconds.

    Returns
    -------
    X : scipy.sparse.csr_matrix of float32, shape (n_rows, n_dense + n_fields * 2**hash_bits)
    y : ndarray of int64, shape (n_rows,)
        The click labels.
    field_of_column : ndarray of int32
        The field map: ``-1`` for the dense columns, ``f`` for field ``f``'s columns.

    Raises
    ------
    ValueError
        Naming the file and the line number of a malformed line.

    Examples
    --------
    >>> import os, tempfile
    >>> from skvectorflow.datasets import load_criteo, make_criteo_like
    >>> path = os.path.join(tempfile.mkdtemp(), "day_0.tsv")
    >>> _ = make_criteo_like(100, hash_bits=8, random_state=0, path=path)
    >>> X, y, field_of_column = load_criteo(path, hash_bits=8)
    >>> X.shape, int(X.getnnz(axis=1).min()) >= 26
    ((100, 6669), True)

    Held-out rows encoded with the training rows' counts:

    >>> from skvectorflow.criteo import count_criteo
    >>> counts = count_criteo(path, n_rows=80, hash_bits=8)
    >>> X_test, _, _ = load_criteo(path, hash_bits=8, min_frequency=5, counts=counts)
    >>> X_test.shape == X.shape, (X_test != X).nnz > 0
    (True, True)
    """
    check_min_frequency(min_frequency, "load_criteo")
    reader = CriteoReader(path, n_rows=n_rows, hash_bits=hash_bits, n_dense=n_dense,
                          n_fields=n_fields, min_frequency=min_frequency, counts=counts)
    parts = []
    rows_read = 0
    started = last_report = time.perf_counter()
    for X_chunk, y_chunk in reader:
        parts.append((X_chunk.indptr, X_chunk.indices, X_chunk.data, y_chunk))
        rows_read += y_chunk.size
        now = time.perf_counter()
        if verbose and now - last_report >= _PROGRESS_SECONDS:
            last_report = now
            print(f"load_criteo: {rows_read:,} rows, {reader.bytes_read / 2**20:,.0f} MiB, "
                  f"{rows_read / max(now - started, 1e-9):,.0f} rows/s", file=sys.stderr, flush=True)
    X, y = _stack_parts(parts, reader.n_features)
    if verbose:
        seconds = time.perf_counter() - started
        print(f"load_criteo: read {X.shape[0]:,} rows ({X.nnz:,} non-zeros) in {seconds:.1f} s",
              file=sys.stderr, flush=True)
    return X, y, criteo_field_map(reader.n_dense, reader.n_fields, reader.hash_bits)


class CriteoReader:
    """Chunks of a Criteo display-advertising file as CSR matrices and labels.

    The streaming half of :func:`load_criteo`: the file is read in chunks of
    16 MiB of whole lines, each parsed by the compiled kernel into one
    ``(X, y)`` pair, so memory holds one chunk.  It is the ``'criteo'``
    format of :func:`skvectorflow.io.convert` and can feed
    :func:`skvectorflow.io.fit_stream` directly.

    Parameters
    ----------
    path : str or path-like
        Tab-separated text, plain or gzip-compressed.
    n_rows : int or None, default=None
        Read at most this many rows (the first ones).
    hash_bits : int, default=16
    n_dense, n_fields : int, default=13, 26
    min_frequency : int, float or None, default=None
    counts : CriteoCounts or None, default=None
        As in :func:`load_criteo`.  With ``min_frequency`` and no
        ``counts``, the first iteration starts with a counting pass over the
        rows it reads (the first ``n_rows``); later iterations reuse those
        counts, held in ``counts``.

    Attributes
    ----------
    counts : CriteoCounts or None
        The counts folded by: those given, or those of the rows read, once
        an iteration has started; ``None`` while nothing is folded (no
        ``min_frequency``, or before the first iteration).  Give them to the
        reader of a test file to fold it the same way.
    n_features : int
        ``n_dense + n_fields * 2**hash_bits``: the width of every chunk.
    fraction_read : float
        Share of the file read so far (of its compressed size for gzip).
    bytes_read : int
        Bytes of text parsed so far.
    location : str
        File and first line of the chunk being parsed, for messages.
    field_of_column : ndarray of int32, shape (n_features,)
        The field map of every chunk (:func:`criteo_field_map`), which
        :func:`skvectorflow.io.convert` stores with the converted folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from skvectorflow.criteo import CriteoReader, make_criteo_like
    >>> path = os.path.join(tempfile.mkdtemp(), "day_0.tsv")
    >>> _ = make_criteo_like(100, hash_bits=8, random_state=0, path=path)
    >>> [(X.shape, y.shape) for X, y in CriteoReader(path, hash_bits=8)]
    [((100, 6669), (100,))]
    """

    def __init__(self, path, n_rows=None, *, hash_bits=16, n_dense=CRITEO_N_DENSE,
                 n_fields=CRITEO_N_FIELDS, min_frequency=None, counts=None):
        self.path = os.fspath(path)
        self.n_dense = _check_count("n_dense", n_dense, 0)
        self.n_fields = _check_count("n_fields", n_fields, 0)
        self.hash_bits = _check_hash_bits(hash_bits, self.n_dense, self.n_fields)
        self.n_rows = None if n_rows is None else _check_count("n_rows", n_rows, 1)
        self.min_frequency = check_min_frequency(min_frequency, "CriteoReader")
        if counts is not None:
            if self.min_frequency is None:
                raise ValueError("counts folds rare categories only with min_frequency; give "
                                 "min_frequency too.")
            _check_counts(counts, self.n_dense, self.n_fields, self.hash_bits)
        self.counts = counts
        self.n_features = self.n_dense + self.n_fields * (1 << self.hash_bits)
        self.fraction_read = 0.0
        self.bytes_read = 0
        self.location = f"{self.path}, line 1"

    @property
    def field_of_column(self):
        return criteo_field_map(self.n_dense, self.n_fields, self.hash_bits)

    def __iter__(self):
        fold = None
        if self.min_frequency is not None:
            if self.counts is None:
                self.counts = count_criteo(self.path, self.n_rows, hash_bits=self.hash_bits,
                                           n_dense=self.n_dense, n_fields=self.n_fields)
            fold = self.counts._fold_arguments(self.min_frequency)
        limit = np.iinfo(np.int64).max // 2 if self.n_rows is None else self.n_rows
        size = max(1, os.path.getsize(self.path))
        rows_read = 0
        line_number = 1
        carry = b""
        with open(self.path, "rb") as raw, _text_stream(raw) as stream:
            while rows_read < limit:
                try:
                    chunk = stream.read(_CHUNK_BYTES)
                except (EOFError, OSError, zlib.error) as exc:
                    raise ValueError(
                        f"{self.path}: cannot be read after line {line_number - 1}, the file is "
                        f"truncated or corrupt: {exc}") from None
                at_end = not chunk
                text = carry + chunk
                if not at_end:
                    cut = text.rfind(b"\n") + 1
                    text, carry = text[:cut], text[cut:]
                    if not text:
                        continue
                elif not text:
                    break
                self.location = f"{self.path}, line {line_number}"
                buffer = np.frombuffer(text, dtype=np.uint8)
                try:
                    indptr, indices, data, labels = _parse_into_arrays(
                        buffer, self.n_dense, self.n_fields, self.hash_bits, limit - rows_read)
                except _ParseError as error:
                    raise ValueError(f"{self.path}, line {line_number + error.line}: "
                                     f"{error}.") from None
                self.bytes_read += len(text)
                self.fraction_read = min(1.0, raw.tell() / size)
                rows_read += labels.size
                line_number += int(np.count_nonzero(buffer == 10))
                if fold is not None:
                    fold_infrequent(indices, np.int64(self.n_dense), np.int64(self.hash_bits), *fold)
                if labels.size:
                    yield (sp.csr_matrix((data, indices, indptr),
                                         shape=(labels.size, self.n_features)), labels)
                if at_end:
                    break
        self.fraction_read = 1.0


def _check_counts(counts, n_dense, n_fields, hash_bits):
    if not isinstance(counts, CriteoCounts):
        raise TypeError(f"counts must be a CriteoCounts (from count_criteo), got "
                        f"{type(counts).__name__}.")
    given = (counts.n_dense, counts.n_fields, counts.hash_bits)
    if given != (n_dense, n_fields, hash_bits):
        raise ValueError(
            f"counts are of n_dense={given[0]}, n_fields={given[1]}, hash_bits={given[2]}, but "
            f"this file is read with n_dense={n_dense}, n_fields={n_fields}, "
            f"hash_bits={hash_bits}; count the training file with the same settings.")


class CriteoCounts:
    """Rows per hashed column of every categorical field: what ``min_frequency`` folds by.

    Made by :func:`count_criteo` (or by a :class:`CriteoReader` with
    ``min_frequency``); give it as ``counts=`` to :func:`load_criteo` or
    :class:`CriteoReader` to fold another file (a test set) by the same
    counts.  It holds numpy arrays only, so it pickles.

    Parameters
    ----------
    counts : ndarray of int32, shape (n_fields, 2**hash_bits)
        ``counts[f, b]``: rows whose field ``f`` hashed to bucket ``b``
        (column ``n_dense + f * 2**hash_bits + b``), stopping at the int32
        maximum.
    n_rows : int
        Rows counted (the base of a fractional ``min_frequency``).
    n_dense : int
        Dense columns of the matrices folded.

    Attributes
    ----------
    counts, n_rows, n_dense
        As given.
    n_fields, hash_bits : int
        Of ``counts``' shape.
    """

    def __init__(self, counts, n_rows, n_dense=CRITEO_N_DENSE):
        counts = np.ascontiguousarray(counts, dtype=np.int32)
        width = counts.shape[1] if counts.ndim == 2 else 0
        if counts.ndim != 2 or width < 2 or width & (width - 1):
            raise ValueError(f"counts must have shape (n_fields, 2**hash_bits), got {counts.shape}.")
        self.counts = counts
        self.n_rows = _check_count("n_rows", n_rows, 0)
        self.n_dense = _check_count("n_dense", n_dense, 0)
        self.n_fields = counts.shape[0]
        self.hash_bits = width.bit_length() - 1

    def infrequent_columns(self, min_frequency):
        """The column of X that holds each field's infrequent categories under ``min_frequency``.

        Parameters
        ----------
        min_frequency : int, float or None
            As in :func:`load_criteo`.

        Returns
        -------
        columns : ndarray of int64, shape (n_fields,)
            -1 for a field without one: no folding, or every bucket frequent.
        """
        threshold = self._threshold(check_min_frequency(min_frequency, "CriteoCounts.infrequent_columns"))
        columns = np.full(self.n_fields, -1, dtype=np.int64)
        if threshold is None:
            return columns
        buckets = self._infrequent_buckets(threshold)
        fields = np.flatnonzero(buckets >= 0)
        columns[fields] = self.n_dense + (fields << self.hash_bits) + buckets[fields]
        return columns

    def _threshold(self, min_frequency):
        """``frequency_threshold`` of ``n_rows``, at most the int32 maximum counts stop at."""
        threshold = frequency_threshold(min_frequency, self.n_rows)
        return None if threshold is None else min(threshold, int(np.iinfo(np.int32).max))

    def _infrequent_buckets(self, threshold):
        width = 1 << self.hash_bits
        return np.array([lowest_infrequent_bucket(np.flatnonzero(row >= threshold), width)
                         for row in self.counts], dtype=np.int64)

    def _fold_arguments(self, min_frequency):
        """The trailing arguments of ``fold_infrequent``, or None when nothing folds."""
        threshold = self._threshold(min_frequency)
        if threshold is None:
            return None
        return (self.counts.ravel(), np.int64(threshold), self._infrequent_buckets(threshold))

    def __repr__(self):
        return (f"CriteoCounts(n_rows={self.n_rows}, n_fields={self.n_fields}, "
                f"hash_bits={self.hash_bits}, n_dense={self.n_dense})")


def count_criteo(path, n_rows=None, *, hash_bits=16, n_dense=CRITEO_N_DENSE, n_fields=CRITEO_N_FIELDS):
    """Count the rows of every hashed column of a Criteo file: the first pass of ``min_frequency``.

    Memory holds one chunk and the counts, ``n_fields * 2**hash_bits`` int32
    (6.5 MiB for 26 fields of 2**16), however many distinct tokens the
    file has.  A token is counted by its hashed column, so tokens that share
    a column (a hash collision) are counted together, as they are one
    column of X anyway.

    Parameters
    ----------
    path : str or path-like
        A Criteo TSV, plain or gzip: the training data.
    n_rows : int or None, default=None
        Count the first this many rows only (a training prefix).
    hash_bits : int, default=16
    n_dense, n_fields : int, default=13, 26
        As the files will be read, in :func:`load_criteo`.

    Returns
    -------
    counts : CriteoCounts

    Examples
    --------
    >>> import os, tempfile
    >>> from skvectorflow.criteo import count_criteo, make_criteo_like
    >>> path = os.path.join(tempfile.mkdtemp(), "day_0.tsv")
    >>> _ = make_criteo_like(100, hash_bits=8, random_state=0, path=path)
    >>> counts = count_criteo(path, hash_bits=8)
    >>> counts.counts.shape, int(counts.counts.sum()) == 100 * 26
    ((26, 256), True)
    """
    reader = CriteoReader(path, n_rows=n_rows, hash_bits=hash_bits, n_dense=n_dense, n_fields=n_fields)
    table = np.zeros(reader.n_fields << reader.hash_bits, dtype=np.int32)
    rows = 0
    for X_chunk, _ in reader:
        count_categories(X_chunk.indices, np.int64(reader.n_dense), table)
        rows += X_chunk.shape[0]
    return CriteoCounts(table.reshape(reader.n_fields, 1 << reader.hash_bits), rows, reader.n_dense)


def _stack_parts(parts, n_features):
    """One CSR matrix and label vector from parsed chunks."""
    if not parts:
        empty = sp.csr_matrix((0, n_features), dtype=np.float32)
        return empty, np.zeros(0, dtype=np.int64)
    offsets = np.cumsum([0] + [part[0][-1] for part in parts[:-1]])
    indptr = np.concatenate([parts[0][0][:1]] + [part[0][1:] + offset for part, offset in zip(parts, offsets)])
    indices = np.concatenate([part[1] for part in parts])
    data = np.concatenate([part[2] for part in parts])
    labels = np.concatenate([part[3] for part in parts]).astype(np.int64)
    X = sp.csr_matrix((data, indices, indptr), shape=(labels.size, n_features))
    X.has_sorted_indices = True
    return X, labels


# ---------------------------------------------------------------------------
# Synthetic Criteo-like data
# ---------------------------------------------------------------------------

# Zipf exponent of category popularity within a field.
_ZIPF_EXPONENT = 1.1
# Width of the teacher's latent vectors.
_TEACHER_FACTORS = 4
# Logits are _LOGIT_SCALE * score (score variance ~ 1), around the base rate's.
_LOGIT_SCALE = 2.0
_CLICK_RATE = 0.25


def _generator(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    legacy = check_random_state(random_state)
    return np.random.default_rng(legacy.randint(2**32, size=4, dtype=np.uint64))


def _zipf_draw(rng, cardinality, size):
    """Category ranks in ``[0, cardinality)`` with ``p(r) ~ (r + 1) ** -1.1``."""
    weights = np.arange(1, cardinality + 1, dtype=np.float64) ** -_ZIPF_EXPONENT
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), cardinality - 1)


def make_criteo_like(n_samples=10000, *, n_dense=CRITEO_N_DENSE, n_fields=CRITEO_N_FIELDS,
                     max_cardinality=10000, hash_bits=16, interaction_strength=1.5,
                     missing_rate=0.1, random_state=None, path=None):
    r"""Synthetic click data in the Criteo format, from a teacher with field interactions.

    Field ``f`` has a vocabulary of ``c_f`` categories (cardinalities spread
    log-uniformly from 3 to ``max_cardinality``), drawn with Zipf
    popularity ``p(r) ~ (r + 1)^{-1.1}``; each category's token is 8 random
    hexadecimal digits.  Each count column draws ``floor(exp(N(mu, 1.5)))``;
    a third of the fields and of the count columns are missing in a share
    ``missing_rate`` of the rows (a missing token is its own category to the
    teacher and to the reader).

    The teacher gives every category a weight ``w`` ~ N(0, 1) and a latent
    vector ``u`` of 4 entries ~ N(0, 1/2), and the standardised counts ``z``
    a weight vector ``a`` and a projection ``D`` (4 x n_dense).  A row's score
    is

    .. math::

        s = \frac{\ell + \lambda\, q}{\sqrt{1 + \lambda^2}},\quad
        \ell = \frac{\sum_f w_f + a^\top z}{\sqrt{n_f + 1}},\quad
        q = \frac{\sum_{f<g} \langle u_f, u_g\rangle + \sum_f \langle D z, u_f\rangle}
                 {\sqrt{n_f (n_f - 1) / 2 + n_f}},

    each part of variance about 1, with ``lambda = interaction_strength``;
    the click is Bernoulli with logit ``logit(0.25) + 2 s``.  The pairwise
    part is exactly what DLRM's dot interactions and a factorization machine
    model, and no linear model of the columns can.

    Parameters
    ----------
    n_samples : int, default=10000
    n_dense, n_fields : int, default=13, 26
    max_cardinality : int, default=10000
        Largest vocabulary of a field.
    hash_bits : int, default=16
        Columns per field in X, as for :func:`load_criteo`.
    interaction_strength : float, default=1.5
        ``lambda`` above: 0 makes a purely linear (logistic) teacher.
    missing_rate : float, default=0.1
    random_state : int, Generator, RandomState or None, default=None
    path : str or path-like or None, default=None
        Also write the rows in the Criteo TSV format there (gzip if the name
        ends in ``.gz``); :func:`load_criteo` of that file returns the same
        ``X``, ``y`` and field map.

    Returns
    -------
    X : scipy.sparse.csr_matrix of float32, shape (n_samples, n_dense + n_fields * 2**hash_bits)
    y : ndarray of int64, shape (n_samples,)
    field_of_column : ndarray of int32

    Examples
    --------
    >>> from skvectorflow.datasets import make_criteo_like
    >>> X, y, field_of_column = make_criteo_like(1000, hash_bits=10, random_state=0)
    >>> X.shape, int((field_of_column == -1).sum()), bool(0.1 < y.mean() < 0.5)
    ((1000, 26637), 13, True)
    """
    n_samples = _check_count("n_samples", n_samples, 1)
    n_dense = _check_count("n_dense", n_dense, 0)
    n_fields = _check_count("n_fields", n_fields, 1)
    max_cardinality = _check_count("max_cardinality", max_cardinality, 3)
    hash_bits = _check_hash_bits(hash_bits, n_dense, n_fields)
    for name, value, upper in (("interaction_strength", interaction_strength, np.inf),
                               ("missing_rate", missing_rate, 1.0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= upper:
            raise ValueError(f"{name} must be a number in [0, {upper}], got {value!r}.")
    teacher_rng, row_rng, label_rng = [
        np.random.default_rng(seed) for seed in np.random.SeedSequence(
            _generator(random_state).integers(2**63, size=2)).spawn(3)]

    cardinalities = np.round(np.geomspace(3, max_cardinality, n_fields)).astype(np.int64)
    teacher_rng.shuffle(cardinalities)
    sometimes_missing_fields = teacher_rng.random(n_fields) < 1 / 3
    sometimes_missing_dense = teacher_rng.random(n_dense) < 1 / 3
    count_log_means = teacher_rng.uniform(0.0, 4.0, n_dense)
    dense_weights = teacher_rng.normal(size=n_dense) / math.sqrt(max(n_dense, 1))
    projection = teacher_rng.normal(size=(n_dense, _TEACHER_FACTORS)) / math.sqrt(max(n_dense, 1))

    # Counts, their standardised log (the teacher's z) and the reader's columns.
    counts = np.floor(np.exp(row_rng.normal(count_log_means, 1.5, size=(n_samples, n_dense))))
    dense_missing = (row_rng.random((n_samples, n_dense)) < missing_rate) & sometimes_missing_dense
    counts[dense_missing] = 0.0
    log_counts = signed_log1p(counts)
    z = (log_counts - log_counts.mean(axis=0)) / np.maximum(log_counts.std(axis=0), 1e-12)

    linear = z @ dense_weights
    dense_embedding = z @ projection
    pooled = np.zeros((n_samples, _TEACHER_FACTORS))
    squares = np.zeros(n_samples)
    dense_dots = np.zeros(n_samples)
    tokens = []
    columns = np.empty((n_samples, n_fields), dtype=np.int64)
    for field in range(n_fields):
        cardinality = int(cardinalities[field])
        ranks = _zipf_draw(row_rng, cardinality, n_samples)
        if sometimes_missing_fields[field]:
            ranks[row_rng.random(n_samples) < missing_rate] = cardinality  # the missing category
        vocabulary = [f"{value:08x}" for value in teacher_rng.integers(2**32, size=cardinality)] + [""]
        weights = teacher_rng.normal(size=cardinality + 1)
        factors = teacher_rng.normal(scale=math.sqrt(0.5), size=(cardinality + 1, _TEACHER_FACTORS))
        buckets = hash_values(vocabulary, field, hash_bits)
        columns[:, field] = n_dense + (field << hash_bits) + buckets[ranks]
        linear += weights[ranks]
        row_factors = factors[ranks]
        pooled += row_factors
        squares += np.einsum("ij,ij->i", row_factors, row_factors)
        dense_dots += np.einsum("ij,ij->i", dense_embedding, row_factors)
        tokens.append(np.asarray(vocabulary, dtype=object)[ranks])
    field_pairs = 0.5 * (np.einsum("ij,ij->i", pooled, pooled) - squares)
    n_pairs = n_fields * (n_fields - 1) / 2 + n_fields
    interaction = (field_pairs + dense_dots) / math.sqrt(n_pairs)
    linear /= math.sqrt(n_fields + 1)
    score = (linear + interaction_strength * interaction) / math.sqrt(1 + interaction_strength**2)
    y = (label_rng.random(n_samples) < expit(logit(_CLICK_RATE) + _LOGIT_SCALE * score)).astype(np.int64)

    dense_part = sp.csr_matrix(log_counts.astype(np.float32), shape=(n_samples, n_dense))
    n_features = n_dense + n_fields * (1 << hash_bits)
    categorical = sp.csr_matrix(
        (np.ones(columns.size, dtype=np.float32), columns.ravel().astype(np.int32),
         np.arange(0, columns.size + 1, n_fields, dtype=np.int64)), shape=(n_samples, n_features))
    X = sp.hstack([dense_part, sp.csr_matrix((n_samples, n_features - n_dense), dtype=np.float32)],
                  format="csr") + categorical
    X = X.tocsr().astype(np.float32)
    X.sort_indices()
    if path is not None:
        _write_criteo_tsv(os.fspath(path), y, counts, dense_missing, tokens)
    return X, y, criteo_field_map(n_dense, n_fields, hash_bits)


def _write_criteo_tsv(path, y, counts, dense_missing, tokens):
    """Write rows in the Criteo TSV format (gzip when ``path`` ends in .gz)."""
    count_text = np.where(dense_missing, "", counts.astype(np.int64).astype(str))
    columns = [y.astype(str)] + [count_text[:, j] for j in range(counts.shape[1])]
    columns += [column.astype(str) for column in tokens]
    lines = columns[0].astype(object)
    for column in columns[1:]:
        lines = lines + "\t" + column.astype(object)
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as stream:
        stream.write(payload)
