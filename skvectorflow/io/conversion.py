"""Conversion of text and columnar files to the memory-mapped CSR format.

:func:`convert` streams a reader's chunks into a :class:`CSRWriter`: one pass
over the source, memory bounded by one chunk.  A reader is any class in
``READERS``, built as ``READERS[format](source, **reader_options)``, that

- iterates over ``(X, y)`` or ``(X, y, qid)`` chunks (CSR ``X``);
- has ``n_features`` (an int, or None when the width is only known at the end);
- has ``fraction_read`` (0 to 1, for the progress line) and ``location`` (where
  its last chunk came from, for error messages);
- may have ``field_of_column`` (the field of each of its ``n_features``
  columns, see :mod:`skvectorflow.fields`), which is stored in the folder.

A new format plugs in by adding its class to ``READERS``, as the Criteo
reader (:class:`skvectorflow.criteo.CriteoReader`) does.
"""

import sys
import time

from ..criteo import CriteoReader
from .csr_format import CSRWriter, read_header
from .parquet import ParquetReader
from .svmlight import SvmlightReader

__all__ = ["READERS", "convert"]

READERS = {
    "svmlight": SvmlightReader,
    "libsvm": SvmlightReader,
    "parquet": ParquetReader,
    "criteo": CriteoReader,
}


class _ProgressLine:
    """A one-line progress report on a stream, redrawn at most twice a second."""

    def __init__(self, label, stream):
        self.label = label
        self.stream = stream
        self.started = time.perf_counter()
        self._last_drawn = 0.0
        self._open = False  # a line is drawn and not yet ended

    def interrupt(self):
        """End a drawn line, so that what is written next (an error) starts a line."""
        if self._open:
            self.stream.write("\n")
            self._open = False

    def update(self, fraction, n_rows, nnz, final=False):
        now = time.perf_counter()
        if not final and now - self._last_drawn < 0.5:
            return
        self._last_drawn = now
        seconds = max(now - self.started, 1e-9)
        self.stream.write(f"\r{self.label}: {100 * fraction:5.1f}%  {n_rows:,} rows, "
                          f"{nnz:,} non-zeros, {n_rows / seconds:,.0f} rows/s, {seconds:.0f} s"
                          + ("\n" if final else ""))
        self._open = not final
        self.stream.flush()


def convert(source, destination, format="svmlight", *, progress=False, overwrite=False,
            **reader_options):
    """Convert a data file to the memory-mapped CSR format, in one streaming pass.

    Parameters
    ----------
    source : str or path-like
        The file to read (a folder or list of files for Parquet).
    destination : str or path-like
        The folder to write (see :func:`save_csr` for its layout).  On an
        error it is removed: a destination either is complete or does not
        exist.
    format : {'svmlight', 'libsvm', 'parquet', 'criteo'}, default='svmlight'
        Source format; ``'libsvm'`` is the same as ``'svmlight'``;
        ``'criteo'`` is the display-advertising TSV of
        :func:`skvectorflow.datasets.load_criteo`.
    progress : bool or file-like, default=False
        Draw a progress line (share of the source read, rows, rows/s) on
        stderr, or on the given stream.
    overwrite : bool, default=False
        Replace an existing destination.
    **reader_options
        Passed to the format's reader: for ``'svmlight'``, ``n_features``,
        ``chunk_size``, ``zero_based``, ``query_id``
        (:class:`SvmlightReader`); for ``'parquet'``, ``target``,
        ``categorical``, ``numeric``, ``lists``, ``qid``, ``n_features``,
        ``batch_size`` (:class:`ParquetReader`); for ``'criteo'``, ``hash_bits``,
        ``n_dense``, ``n_fields``, ``n_rows``, ``min_frequency``, ``counts``
        (:class:`~skvectorflow.criteo.CriteoReader`; with ``min_frequency`` the
        source is read twice, to count and to fold).

    Returns
    -------
    header : dict
        The written header: ``n_rows``, ``n_features``, ``nnz``, ``has_qid``,
        ``has_field_map`` (true for ``'criteo'``, whose field map is stored
        as ``field_of_column.npy`` in the folder).

    Examples
    --------
    >>> import tempfile, os
    >>> from skvectorflow.io import convert, load_csr
    >>> folder = tempfile.mkdtemp()
    >>> source = os.path.join(folder, "train.svm")
    >>> with open(source, "w") as f:
    ...     _ = f.write("1 1:0.5 7:2\\n-1 3:1\\n")
    >>> header = convert(source, os.path.join(folder, "train"), zero_based=False)
    >>> header["n_rows"], header["n_features"], header["nnz"]
    (2, 7, 3)
    >>> X, y = load_csr(os.path.join(folder, "train"))
    >>> X.indices.tolist(), y.tolist()
    ([0, 6, 2], [1.0, -1.0])
    """
    if format not in READERS:
        raise ValueError(f"format must be one of {sorted(READERS)}, got {format!r}.")
    reader = READERS[format](source, **reader_options)
    stream = sys.stderr if progress is True else progress or None
    bar = _ProgressLine(f"convert {source}", stream) if stream else None
    try:
        with CSRWriter(destination, n_features=reader.n_features, overwrite=overwrite,
                       field_of_column=getattr(reader, "field_of_column", None)) as writer:
            for chunk in reader:
                try:
                    writer.append(*chunk)
                except ValueError as exc:
                    raise ValueError(f"{reader.location}: {exc}") from None
                if bar:
                    bar.update(reader.fraction_read, writer.n_rows, writer.nnz)
    except BaseException:
        if bar:
            bar.interrupt()
        raise
    if bar:
        bar.update(1.0, writer.n_rows, writer.nnz, final=True)
    return read_header(destination)
