"""Training from any iterable of chunks: ``fit_stream`` over ``partial_fit``."""

import inspect
import time

__all__ = ["fit_stream"]


def _fit_arguments(chunk, takes_qid, index):
    """Split a chunk into ``X, y`` and the keyword arguments of ``partial_fit``."""
    if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
        raise TypeError(f"chunk {index} must be a tuple (X, y) or (X, y, extra), got "
                        f"{type(chunk).__name__}" + (f" of length {len(chunk)}"
                                                     if isinstance(chunk, (tuple, list)) else "")
                        + ".")
    X, y = chunk[0], chunk[1]
    if len(chunk) == 2 or chunk[2] is None:
        return X, y, {}
    extra = chunk[2]
    if isinstance(extra, dict):
        return X, y, dict(extra)
    return X, y, {"qid": extra} if takes_qid else {"sample_weight": extra}


def fit_stream(estimator, chunks, n_epochs=1, *, classes=None, verbose=0):
    """Train an estimator with ``partial_fit`` over a stream of chunks.

    Each chunk is one ``partial_fit`` call: one epoch over the chunk's rows,
    Hogwild over the estimator's ``n_jobs`` threads.  Use it to train from
    your own reader, or from :class:`SvmlightReader` / :class:`ParquetReader`,
    when the data does not fit in memory and is not in the memory-mapped
    format (which ``fit`` reads directly, see :func:`load_csr`).

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        Any of skvectorflow's, or any scikit-learn estimator with
        ``partial_fit``; trained in place.
    chunks : iterable of tuples ``(X, y)`` or ``(X, y, extra)``
        ``extra`` is the chunk's side information:

        - an array of query ids (``qid``) for an estimator whose
          ``partial_fit`` takes ``qid`` (:class:`~skvectorflow.SparseMLPRanker`):
          a query must not be split across chunks;
        - an array of sample weights for any other estimator;
        - or a dict of ``partial_fit`` keyword arguments, e.g.
          ``{"qid": q, "sample_weight": w}``.

        ``y`` is what the estimator's ``fit`` takes: labels, targets, or the
        structured ``(event, time)`` array of
        :class:`~skvectorflow.SurvivalExponentialRegressor`.  With
        ``n_epochs > 1`` the iterable is iterated once per epoch, so it must
        be re-iterable (a list or a reader), not a one-shot iterator.
    n_epochs : int, default=1
        Passes over the chunks.
    classes : array-like, default=None
        Every class of a classification problem, passed to each
        ``partial_fit`` call (required before the first fit of a classifier).
    verbose : int, default=0
        Print one line per chunk: rows, seconds and the chunk's location.

    Returns
    -------
    estimator
        The same object, trained.

    Raises
    ------
    Exception
        Whatever a chunk's ``partial_fit`` (or the reader) raises, with a
        note naming the chunk and the epoch.  The estimator keeps the state
        it had after the last chunk that trained completely: skvectorflow's
        ``partial_fit`` validates a chunk fully before training and trains a
        copy of the parameters, so a bad chunk changes nothing.

    Examples
    --------
    >>> from skvectorflow import SparseMLPClassifier
    >>> from skvectorflow.datasets import make_sparse_classification
    >>> from skvectorflow.io import fit_stream
    >>> X, y = make_sparse_classification(n_samples=3000, n_features=256, random_state=0)
    >>> chunks = [(X[i:i + 1000], y[i:i + 1000]) for i in range(0, 3000, 1000)]
    >>> model = fit_stream(SparseMLPClassifier(random_state=0), chunks, n_epochs=2,
    ...                    classes=[0, 1])
    >>> model.n_iter_
    6
    """
    if not hasattr(estimator, "partial_fit"):
        raise TypeError(f"{type(estimator).__name__} has no partial_fit; fit_stream needs one.")
    if int(n_epochs) < 1:
        raise ValueError(f"n_epochs must be at least 1, got {n_epochs}.")
    if n_epochs > 1 and iter(chunks) is chunks:
        raise TypeError(
            "chunks is a one-shot iterator, which n_epochs > 1 would exhaust after the first "
            "epoch; pass a re-iterable (a list, or a reader such as SvmlightReader) instead.")
    parameters = inspect.signature(estimator.partial_fit).parameters
    takes_qid = "qid" in parameters
    if classes is not None and "classes" not in parameters:
        raise TypeError(f"{type(estimator).__name__}.partial_fit takes no classes.")
    for epoch in range(1, int(n_epochs) + 1):
        index = -1
        iterator = iter(chunks)
        while True:
            index += 1
            started = time.perf_counter()
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except Exception as exc:
                _add_note(exc, f"fit_stream: reading chunk {index} of epoch {epoch} failed; the "
                               f"estimator keeps its state from before this chunk.")
                raise
            X, y, kwargs = _fit_arguments(chunk, takes_qid, index)
            if classes is not None:
                kwargs["classes"] = classes
            try:
                estimator.partial_fit(X, y, **kwargs)
            except Exception as exc:
                location = getattr(chunks, "location", None)
                _add_note(exc, f"fit_stream: chunk {index} of epoch {epoch}"
                               + (f" ({location})" if location else "")
                               + " failed; the estimator keeps its state from before this chunk.")
                raise
            if verbose:
                location = getattr(chunks, "location", None)
                print(f"epoch {epoch}, chunk {index}: {X.shape[0]:,} rows in "
                      f"{time.perf_counter() - started:.2f} s"
                      + (f" ({location})" if location else ""), flush=True)
    return estimator


def _add_note(exc, note):
    # Python >= 3.11 shows notes under the traceback; older ones drop them.
    if hasattr(exc, "add_note"):
        exc.add_note(note)
