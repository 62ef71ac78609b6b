"""Distributed prediction over a Dask array of CSR blocks, the model sent once.

The fitted estimator becomes one key of the graph (``dask.delayed`` of the
model); every block's task depends on that key, so Dask moves the model to
each worker once and the block tasks read it there, instead of carrying a
copy of the model inside every task.
"""

import numpy as np
import scipy.sparse as sp
from dask import delayed
from dask.array import Array
from sklearn.utils.validation import check_is_fitted

PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function",
                   "predict_rate", "predict_median_time")


def _predict_block(X, model, method):
    return getattr(model, method)(X)


def predict_blocks(estimator, X, method="predict"):
    """Predict every block of a Dask array of CSR matrices, lazily, on the cluster.

    Parameters
    ----------
    estimator : fitted skvectorflow estimator
    X : dask.array.Array
        Rows chunked any way, columns in one chunk; blocks are scipy CSR
        matrices (dense blocks work too).
    method : str, default='predict'
        The estimator's method to call: one of ``predict``,
        ``predict_proba``, ``predict_log_proba``, ``decision_function``,
        ``predict_rate``, ``predict_median_time`` that it has.

    Returns
    -------
    predictions : dask.array.Array
        Chunked as X's rows; 1-d or 2-d as the method's output.  Call
        ``.compute()`` or ``client.compute`` on it.

    Examples
    --------
    >>> from skvectorflow.dask import predict_blocks  # doctest: +SKIP
    >>> proba = predict_blocks(model, X_blocks, method="predict_proba").compute()  # doctest: +SKIP
    """
    check_is_fitted(estimator)
    if method not in PREDICT_METHODS or not hasattr(estimator, method):
        raise ValueError(f"method must be one of {type(estimator).__name__}'s "
                         f"{[m for m in PREDICT_METHODS if hasattr(estimator, m)]}, got {method!r}.")
    if not isinstance(X, Array) or X.ndim != 2:
        raise TypeError(f"X must be a 2-d Dask array, got {type(X).__name__}.")
    if len(X.chunks[1]) != 1:
        raise ValueError(f"X must be chunked by rows only, got {len(X.chunks[1])} column chunks; "
                         f"use X.rechunk({{1: -1}}).")
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input.")
    # The output's type and width, from one empty row on the driver.
    sample = getattr(estimator, method)(sp.csr_matrix((1, X.shape[1]), dtype=np.float32))
    model = delayed(estimator, pure=True)
    if sample.ndim == 1:
        return X.map_blocks(_predict_block, model, method, dtype=sample.dtype, drop_axis=1,
                            chunks=(X.chunks[0],), meta=np.empty((0,), dtype=sample.dtype))
    return X.map_blocks(_predict_block, model, method, dtype=sample.dtype,
                        chunks=(X.chunks[0], (sample.shape[1],)),
                        meta=np.empty((0, 0), dtype=sample.dtype))
