"""libsvm / svmlight text files read in CSR chunks of bounded size.

Each chunk of lines is parsed by scikit-learn's compiled svmlight parser; the
reader itself only cuts the byte stream at line ends (and at query ends), so
reading costs about what ``sklearn.datasets.load_svmlight_file`` costs, in
memory bounded by one chunk.  On an error, the chunk is parsed again by
halves to find the first bad line, which the message names.
"""

import bz2
import gzip
import io
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

__all__ = ["SvmlightReader"]

# Bytes read from the file at a time.
_READ_SIZE = 1 << 22
_NEWLINE = ord("\n")


def _open_binary(path):
    """``(raw file, decompressed stream)``: gzip and bz2 by suffix, else the file itself."""
    raw = open(path, "rb")  # noqa: SIM115 (closed by the caller's with)
    suffix = Path(path).suffix
    if suffix == ".gz":
        return raw, gzip.GzipFile(fileobj=raw)
    if suffix == ".bz2":
        return raw, bz2.BZ2File(raw)
    return raw, raw


def _line_blocks(stream, lines_per_block):
    """Yield ``(block, n_lines)``: runs of ``lines_per_block`` whole lines (the last may be shorter)."""
    pending = []
    pending_lines = 0
    while True:
        piece = stream.read(_READ_SIZE)
        if not piece:
            break
        n_newlines = piece.count(b"\n")
        if pending_lines + n_newlines < lines_per_block:
            pending.append(piece)
            pending_lines += n_newlines
            continue
        ends = np.flatnonzero(np.frombuffer(piece, dtype=np.uint8) == _NEWLINE) + 1
        start = 0
        next_end = lines_per_block - pending_lines - 1
        while next_end < ends.size:
            stop = int(ends[next_end])
            pending.append(piece[start:stop])
            yield b"".join(pending), lines_per_block
            pending, pending_lines, start = [], 0, stop
            next_end += lines_per_block
        pending.append(piece[start:])
        pending_lines = ends.size - (next_end - lines_per_block + 1)
    block = b"".join(pending)
    if block:
        yield block, pending_lines + (not block.endswith(b"\n"))


class SvmlightReader:
    """Read a libsvm/svmlight file as a sequence of CSR chunks.

    Iterating yields ``(X, y)``, or ``(X, y, qid)`` with ``query_id=True``;
    every iteration reads the file anew, so the reader can be passed to
    :func:`skvectorflow.io.fit_stream` for several epochs.

    Parameters
    ----------
    path : str or path-like
        A text file; ``.gz`` and ``.bz2`` files are decompressed on the fly.
    n_features : int or None, default=None
        Width of every chunk.  Required to train from the chunks (each must
        have the model's width); ``None`` gives each chunk the width of its
        largest column index, which :func:`skvectorflow.io.convert` widens to
        the file's.
    chunk_size : int, default=100_000
        Lines per chunk (comment and blank lines count).  With
        ``query_id=True`` a chunk ends where a query ends, so a query is never
        split across chunks: a chunk may hold more lines or fewer.
    zero_based : bool, default=True
        Whether column indices start at 0 (``dump_svmlight_file``'s default)
        or at 1 (the libsvm tools').  scikit-learn's ``"auto"`` is not
        offered: it guesses from the data, and chunks could guess differently.
    query_id : bool, default=False
        Read the ``qid:`` field of every line and yield it.

    Attributes
    ----------
    fraction_read : float
        Share of the file's bytes read so far (for progress bars).
    location : str
        Where the last chunk came from: the file and its first line.

    Examples
    --------
    >>> import tempfile, os
    >>> from skvectorflow.io import SvmlightReader
    >>> path = os.path.join(tempfile.mkdtemp(), "rank.svm")
    >>> with open(path, "w") as f:
    ...     _ = f.write("2 qid:1 0:1.5 3:1\\n0 qid:1 1:1\\n1 qid:2 2:1\\n0 qid:2 0:1\\n")
    >>> for X, y, qid in SvmlightReader(path, n_features=4, chunk_size=3, query_id=True):
    ...     print(X.shape, y.tolist(), qid.tolist())
    (2, 4) [2.0, 0.0] [1, 1]
    (2, 4) [1.0, 0.0] [2, 2]
    >>> [X.shape for X, y in SvmlightReader(path, n_features=4, chunk_size=3)]
    [(3, 4), (1, 4)]
    """

    def __init__(self, path, n_features=None, *, chunk_size=100_000, zero_based=True,
                 query_id=False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path} does not exist or is not a file.")
        if n_features is not None and not 1 <= int(n_features) <= np.iinfo(np.int32).max:
            raise ValueError(f"n_features must be between 1 and 2**31 - 1, got {n_features}.")
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive number of lines, got {chunk_size}.")
        if zero_based not in (True, False):
            raise ValueError(f"zero_based must be True or False, got {zero_based!r}.")
        self.n_features = None if n_features is None else int(n_features)
        self.chunk_size = int(chunk_size)
        self.zero_based = zero_based
        self.query_id = bool(query_id)
        self.fraction_read = 0.0
        self.location = str(self.path)

    def _parse(self, block):
        """Parse a block of whole lines; raise ValueError on any bad line or value."""
        try:
            parsed = load_svmlight_file(io.BytesIO(block), n_features=self.n_features,
                                        dtype=np.float32, zero_based=self.zero_based,
                                        query_id=self.query_id)
        except OverflowError:  # the parser reads column ids as C ints
            raise ValueError(f"a column index is beyond 2**31 - 2, the largest the engine's "
                             f"int32 column indices hold") from None
        if not np.isfinite(parsed[0].data).all() or not np.isfinite(parsed[1]).all():
            raise ValueError("a value is NaN, infinite or too large for float32")
        return parsed

    def _parse_or_locate(self, block, first_line):
        try:
            return self._parse(block)
        except ValueError:
            pass
        # Find the first bad line: a prefix of the block parses if and only
        # if it stops before that line.
        lines = block.splitlines(keepends=True)
        good, bad = 0, len(lines)
        while bad - good > 1:
            middle = (good + bad) // 2
            try:
                self._parse(b"".join(lines[:middle]))
                good = middle
            except ValueError:
                bad = middle
        line = lines[bad - 1]
        try:
            self._parse(line)
            reason = "the line is malformed"
        except ValueError as exc:
            reason = str(exc)
        if "n_features was set" in reason:
            reason = (f"a column index is beyond n_features={self.n_features} "
                      f"(zero_based={self.zero_based})")
        text = line.decode("utf-8", "replace").rstrip("\n")
        raise ValueError(f"{self.path}, line {first_line + bad - 1}: {reason}: {text[:80]!r}") from None

    def __iter__(self):
        raw, stream = _open_binary(self.path)
        size = max(1, self.path.stat().st_size)
        carried = None
        first_line = 1
        try:
            with raw, stream:
                for block, n_lines in _line_blocks(stream, self.chunk_size):
                    self.location = f"{self.path}, line {first_line}"
                    parsed = self._parse_or_locate(block, first_line)
                    first_line += n_lines
                    self.fraction_read = min(1.0, raw.tell() / size)
                    if carried is not None:
                        # Without a fixed n_features, chunks are as wide as their
                        # largest index: widen both to stack them.
                        width = max(carried[0].shape[1], parsed[0].shape[1])
                        for part in (carried[0], parsed[0]):
                            part.resize(part.shape[0], width)
                        parsed = [sp.vstack([carried[0], parsed[0]], format="csr"),
                                  *(np.concatenate([a, b]) for a, b in zip(carried[1:], parsed[1:]))]
                        carried = None
                    if self.query_id and parsed[0].shape[0]:
                        # The last query may go on in the next block: hold it back.
                        qid = parsed[2]
                        last_start = qid.size - int(np.argmax(qid[::-1] != qid[-1])) \
                            if (qid != qid[-1]).any() else 0
                        carried = [parsed[0][last_start:], parsed[1][last_start:], qid[last_start:]]
                        parsed = [parsed[0][:last_start], parsed[1][:last_start], qid[:last_start]]
                    if parsed[0].shape[0]:
                        yield tuple(parsed)
        except (EOFError, OSError) as exc:
            raise ValueError(f"{self.path}: cannot be read after line {first_line - 1}, the file "
                             f"is truncated or corrupt: {exc}") from None
        if carried is not None and carried[0].shape[0]:
            yield tuple(carried)
        self.fraction_read = 1.0
