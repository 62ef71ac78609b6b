"""Data bigger than memory: the memory-mapped CSR format, chunked readers, streaming fits.

- :func:`save_csr`, :func:`load_csr`, :class:`CSRWriter`: a folder of
  ``.npy`` arrays in the engine's own types, which every estimator fits on
  memory-mapped, without a copy (``skvectorflow.io.csr_format``);
  :func:`load_field_map` reads the field map a Criteo conversion stores
  there, for ``DLRMClassifier``.
- :func:`convert`: libsvm/svmlight or Parquet to that format in one streaming
  pass (``skvectorflow.io.conversion``).
- :class:`SvmlightReader`, :class:`ParquetReader`: CSR chunks of a text or
  Parquet file, Parquet columns hashed into features.
- :func:`fit_stream`: ``partial_fit`` over any iterable of chunks.
- :func:`save_model`, :func:`load_model`: a fitted estimator as NumPy arrays
  and a JSON document, loaded without executing code from the file
  (``skvectorflow.io.model_format``), unlike a pickle.

See ``docs/out_of_core.md``.
"""

from .conversion import READERS, convert
from .csr_format import CSRWriter, load_csr, load_field_map, save_csr
from .model_format import load_model, save_model
from .parquet import ParquetReader
from .streaming import fit_stream
from .svmlight import SvmlightReader

__all__ = [
    "READERS",
    "CSRWriter",
    "ParquetReader",
    "SvmlightReader",
    "convert",
    "fit_stream",
    "load_csr",
    "load_field_map",
    "load_model",
    "save_csr",
    "save_model",
]
