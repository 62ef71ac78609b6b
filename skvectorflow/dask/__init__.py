"""Scale skvectorflow out on a Dask cluster (``pip install skvectorflow[dask]``).

- :func:`fit`: train one model on row blocks spread over the workers, by
  bulk-synchronous rounds that move only the parameter rows each block
  touches (see :mod:`skvectorflow.dask.training` for the design).
- :func:`predict_blocks`: predict a Dask array of CSR blocks, the model sent
  to each worker once.
- :func:`warmup`: compile or load the Numba kernels on every worker.
- :func:`fit_ssp` (experimental): bounded-staleness training through a
  parameter-server Actor (see :mod:`skvectorflow.dask.staleness`).

Parameter sweeps need nothing from here: skvectorflow estimators pickle, so
``GridSearchCV`` and ``cross_val_score`` run on a cluster under
``joblib.parallel_config(backend="dask")``.  See ``docs/dask.md``.

This package imports the estimators; the estimators never import Dask.
"""

from .prediction import predict_blocks
from .staleness import fit_ssp
from .training import RoundStats, fit
from .warmup import warmup

__all__ = ["RoundStats", "fit", "fit_ssp", "predict_blocks", "warmup"]
