"""A model file that loads without executing code: NumPy arrays and a JSON document.

:func:`save_model` writes a fitted estimator as one uncompressed ``.npz``
archive (a zip of ``.npy`` arrays) holding

* the arrays: the network's ``input_table``, ``dense_params`` and
  ``dense_state`` (the optimizer state, so ``warm_start`` and
  ``partial_fit`` go on where training stopped), the ten integer arrays of
  its ``NetworkLayout``, ``classes_``, ``feature_names_in_`` and array
  parameters (``field_of_column``);
* ``model.json``, stored as an array of bytes: the format and its version,
  the skvectorflow version that wrote it, the estimator's class (one of
  :data:`MODEL_CLASSES`), ``get_params()``, the scalar fitted attributes, and
  the dtype, shape and SHA-256 of every array.

:func:`load_model` reads it with ``np.load(allow_pickle=False)`` and
``json.loads``, neither of which runs code from the file, and checks
everything before building the estimator: the class against the allow-list,
the format version, the set of arrays, each array's dtype, shape and digest,
the parameters (by the estimator's own validation), the layout against the
one the parameters give, and the table and parameter sizes against the
layout.  Any mismatch is a ``ValueError`` naming the file and the problem.

A pickle (``joblib.dump``) of an estimator runs code while it loads: load
one only from a source you trust.  This format is the one to use for models
that cross a trust boundary.
"""

import hashlib
import json
import os
import zipfile
from numbers import Integral, Real

import numpy as np

from .. import (
    DLRMClassifier,
    FactorizationMachineClassifier,
    FactorizationMachineRegressor,
    SparseMLPClassifier,
    SparseMLPRanker,
    SparseMLPRegressor,
    SurvivalExponentialRegressor,
    __version__,
)
from .._base import NetworkState
from .._engine import network, optimizers
from .._engine.kernels import ACTIVATION_CODES

__all__ = ["FORMAT_VERSION", "MODEL_CLASSES", "load_model", "save_model"]

FORMAT_NAME = "skvectorflow-model"
# Version 1: the arrays and JSON keys below.  A reader refuses newer versions.
FORMAT_VERSION = 1

# The only classes a file may name (exact classes: subclasses may add state).
MODEL_CLASSES = {cls.__name__: cls for cls in (
    DLRMClassifier, FactorizationMachineClassifier, FactorizationMachineRegressor,
    SparseMLPClassifier, SparseMLPRanker, SparseMLPRegressor, SurvivalExponentialRegressor)}

_JSON_ENTRY = "model.json"
_NETWORK_ARRAYS = ("input_table", "dense_params", "dense_state")
_LAYOUT_PREFIX = "layout."
_PARAM_PREFIX = "param."
# Scalar fitted attributes, each with the check of its JSON value.
_SCALAR_ATTRIBUTES = {
    "n_features_in_": lambda v: _is_int(v) and v >= 1,
    "n_outputs_": lambda v: _is_int(v) and v >= 1,
    "_activation_code": lambda v: v in ACTIVATION_CODES.values(),
    "_optimizer_code": lambda v: v in optimizers.OPTIMIZER_CODES.values(),
    "_fitted_optimizer": lambda v: v in optimizers.OPTIMIZER_CODES,
    "t_": lambda v: _is_int(v) and v >= 0,
    "n_iter_": lambda v: _is_int(v) and v >= 0,
    "loss_curve_": lambda v: isinstance(v, list) and all(_is_number(x) for x in v),
    "best_loss_": lambda v: v is None or _is_number(v),
    "validation_scores_": lambda v: v is None or (isinstance(v, list)
                                                 and all(_is_number(x) for x in v)),
    "best_validation_score_": lambda v: v is None or _is_number(v),
    "_y_was_1d": lambda v: isinstance(v, bool),
}
_REGRESSOR_ONLY = ("_y_was_1d",)
# Array attributes, and the dtype kinds they may hold.
_ARRAY_ATTRIBUTES = {"classes_": "biufU", "feature_names_in_": "U"}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_param(name, value, estimator):
    """``value`` as JSON, or raise: only plain data is saved, never code."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (Integral, np.integer)):
        return int(value)
    if isinstance(value, (Real, np.floating)):
        return float(value)
    if isinstance(value, (tuple, list)) and all(
            isinstance(v, (Integral, np.integer)) and not isinstance(v, (bool, np.bool_))
            for v in value):
        return {"tuple": [int(v) for v in value]}
    raise ValueError(
        f"save_model stores parameters as JSON, and {type(estimator).__name__}'s {name}="
        f"{value!r} is a {type(value).__name__}, which cannot be saved without code"
        + (" (a callable loss_callback: use a built-in loss's name, or pickle the model "
           "with joblib and load it only where you trust the file)" if callable(value) else
           " (a RandomState: pass an int or None)" if isinstance(value, np.random.RandomState)
           else "") + ".")


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).view(np.uint8).reshape(-1)).hexdigest()


def save_model(estimator, path):
    """Write a fitted skvectorflow estimator to ``path`` in the safe model format.

    Parameters
    ----------
    estimator : fitted estimator
        One of :data:`MODEL_CLASSES`, with JSON-safe parameters (no callable
        ``loss_callback``, no ``RandomState``).
    path : str or path-like
        The file to write (its name is used as given; ``.skvf`` is usual).

    Raises
    ------
    ValueError
        The estimator is not fitted, not of an allowed class, or has a
        parameter that is not plain data.

    Examples
    --------
    >>> import os, tempfile
    >>> from skvectorflow import SparseMLPClassifier
    >>> from skvectorflow.datasets import make_sparse_classification
    >>> from skvectorflow.io import load_model, save_model
    >>> X, y = make_sparse_classification(n_samples=500, n_features=100, random_state=0)
    >>> model = SparseMLPClassifier(max_iter=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skvf")
    >>> save_model(model, path)
    >>> bool((load_model(path).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    cls_name = type(estimator).__name__
    if MODEL_CLASSES.get(cls_name) is not type(estimator):
        raise ValueError(
            f"save_model writes the estimators {sorted(MODEL_CLASSES)}, got a {cls_name}.")
    if not hasattr(estimator, "_network"):
        raise ValueError(f"save_model needs a fitted estimator; this {cls_name} is not fitted.")
    arrays = {}
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, np.ndarray):
            arrays[_PARAM_PREFIX + name] = value
            params[name] = {"array": _PARAM_PREFIX + name}
        else:
            params[name] = _json_param(name, value, estimator)
    state = estimator._network
    for name in _NETWORK_ARRAYS:
        arrays[name] = getattr(state, name)
    for field, array in zip(network.NetworkLayout._fields, state.layout):
        arrays[_LAYOUT_PREFIX + field] = np.asarray(array, dtype=np.int64)
    for name in _ARRAY_ATTRIBUTES:
        if hasattr(estimator, name):
            value = np.asarray(getattr(estimator, name))
            if value.dtype.kind == "O":
                if not all(isinstance(v, str) for v in value.ravel()):
                    raise ValueError(
                        f"save_model stores {name} as plain arrays; {cls_name}'s holds "
                        f"objects other than strings ({sorted({type(v).__name__ for v in value.ravel()})}).")
                value = value.astype(str)
            arrays[name] = value
    attributes = {}
    for name in _SCALAR_ATTRIBUTES:
        if hasattr(estimator, name):
            value = getattr(estimator, name)
            if isinstance(value, (list, tuple)):
                value = [float(v) for v in value]
            elif isinstance(value, (bool, np.bool_)):
                value = bool(value)
            elif isinstance(value, (Integral, np.integer)):
                value = int(value)
            elif isinstance(value, (Real, np.floating)):
                value = float(value)
            attributes[name] = value
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skvectorflow_version": __version__,
        "class": cls_name,
        "params": params,
        "attributes": attributes,
        "object_arrays": sorted(name for name in _ARRAY_ATTRIBUTES
                                if getattr(getattr(estimator, name, None), "dtype", None) == object),
        "arrays": {name: {"dtype": array.dtype.str, "shape": list(array.shape),
                          "sha256": _digest(array)} for name, array in arrays.items()},
    }
    arrays[_JSON_ENTRY] = np.frombuffer(json.dumps(document, indent=1).encode(), dtype=np.uint8)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def is_model_file(path):
    """Whether ``path`` is meant to be of this format: a zip archive (as every ``.npz`` is).

    Only the first bytes are read, so a truncated or edited file still counts
    (and :func:`load_model` then says what is wrong with it); a pickle never
    starts as a zip archive does.
    """
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def load_model(path):
    """Read an estimator written by :func:`save_model`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator : fitted estimator
        Predicts exactly as the saved one; ``warm_start`` and
        ``partial_fit`` continue from its optimizer state.

    Raises
    ------
    ValueError
        The file is not of this format, is truncated or edited, names a
        class outside :data:`MODEL_CLASSES`, is of a newer format version,
        or its arrays do not match each other or its parameters.  The
        message names the file and the problem.
    """
    path = os.fspath(path)

    def fail(problem):
        raise ValueError(f"{path}: {problem}")

    if not os.path.isfile(path):
        fail("no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        fail(f"not a skvectorflow model file, or truncated or corrupt ({type(exc).__name__}: "
             f"{str(exc).splitlines()[0] if str(exc) else ''})")
    raw = arrays.pop(_JSON_ENTRY, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        fail(f"not a skvectorflow model file (no {_JSON_ENTRY} document)")
    try:
        document = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"its {_JSON_ENTRY} is not valid JSON ({exc})")
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        fail(f"not a skvectorflow model file ({_JSON_ENTRY} does not say format {FORMAT_NAME!r})")
    version = document.get("format_version")
    if not _is_int(version) or version < 1:
        fail(f"format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        fail(f"written in model format version {version} (by skvectorflow "
             f"{document.get('skvectorflow_version')!r}); this skvectorflow ({__version__}) reads "
             f"up to version {FORMAT_VERSION}: upgrade skvectorflow to load it")
    for key, kind in (("class", str), ("params", dict), ("attributes", dict), ("arrays", dict),
                      ("object_arrays", list)):
        if not isinstance(document.get(key), kind):
            fail(f"{_JSON_ENTRY} lacks {key!r} (or it is not a {kind.__name__})")
    cls = MODEL_CLASSES.get(document["class"])
    if cls is None:
        fail(f"names the class {document['class']!r}, which is not one of the skvectorflow "
             f"estimators this format loads ({', '.join(sorted(MODEL_CLASSES))})")

    # Arrays: exactly the listed ones, each with its dtype, shape and digest.
    listed = document["arrays"]
    missing = sorted(set(listed) - set(arrays))
    extra = sorted(set(arrays) - set(listed))
    if missing:
        fail(f"array(s) {', '.join(missing)} listed in {_JSON_ENTRY} are missing")
    if extra:
        fail(f"holds array(s) {', '.join(extra)} that {_JSON_ENTRY} does not list")
    for name, array in arrays.items():
        record = listed[name]
        if not isinstance(record, dict):
            fail(f"{_JSON_ENTRY}'s record of array {name!r} is not an object")
        if array.dtype.str != record.get("dtype") or list(array.shape) != record.get("shape"):
            fail(f"array {name!r} is {array.dtype.str} of shape {array.shape}, but "
                 f"{_JSON_ENTRY} says {record.get('dtype')} of shape {record.get('shape')}")
        if _digest(array) != record.get("sha256"):
            fail(f"array {name!r} does not match its SHA-256 in {_JSON_ENTRY}: the file was "
                 "edited or is corrupt")
    for name in (*_NETWORK_ARRAYS, *(_LAYOUT_PREFIX + f for f in network.NetworkLayout._fields)):
        if name not in arrays:
            fail(f"array {name!r} is missing")

    # Parameters: plain JSON values, validated by the estimator itself.
    params = {}
    for name, value in document["params"].items():
        if isinstance(value, dict) and set(value) == {"tuple"} and isinstance(value["tuple"], list):
            value = tuple(value["tuple"])
        elif isinstance(value, dict) and set(value) == {"array"}:
            if value["array"] not in arrays or not value["array"].startswith(_PARAM_PREFIX):
                fail(f"parameter {name!r} refers to a missing array {value['array']!r}")
            value = arrays[value["array"]]
        elif isinstance(value, (dict, list)):
            fail(f"parameter {name!r} has a value of an unknown form: {value!r}")
        params[name] = value
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        fail(f"{cls.__name__} has no parameter(s) {', '.join(unknown)}")
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        fail(f"its parameters are not valid for {cls.__name__}: {exc}")

    # Fitted attributes.
    attributes = document["attributes"]
    expected = set(_SCALAR_ATTRIBUTES) - (
        set() if issubclass(cls, SparseMLPRegressor) else set(_REGRESSOR_ONLY))
    if set(attributes) != expected:
        fail(f"fitted attributes {sorted(attributes)} differ from {cls.__name__}'s "
             f"{sorted(expected)}")
    for name, value in attributes.items():
        if not _SCALAR_ATTRIBUTES[name](value):
            fail(f"fitted attribute {name} has an invalid value {value!r}")
    if optimizers.OPTIMIZER_CODES[attributes["_fitted_optimizer"]] != attributes["_optimizer_code"]:
        fail("_optimizer_code does not match _fitted_optimizer")
    for name, value in attributes.items():
        setattr(estimator, name, value)
    for name, kinds in _ARRAY_ATTRIBUTES.items():
        if name in arrays:
            value = arrays[name]
            if value.ndim != 1 or value.dtype.kind not in kinds:
                fail(f"{name} must be a 1-d array of kind {kinds!r}, got {value.dtype} of shape "
                     f"{value.shape}")
            setattr(estimator, name, value.astype(object) if name in document["object_arrays"]
                    else value)
    if issubclass(cls, SparseMLPClassifier):
        if not hasattr(estimator, "classes_"):
            fail("a classifier needs classes_")
        n_classes = estimator.classes_.size
        if n_classes < 2 or estimator.n_outputs_ != (1 if n_classes == 2 else n_classes):
            fail(f"{n_classes} classes_ do not fit n_outputs_={estimator.n_outputs_}")
    if hasattr(estimator, "feature_names_in_") and \
            estimator.feature_names_in_.size != estimator.n_features_in_:
        fail(f"{estimator.feature_names_in_.size} feature_names_in_ for n_features_in_="
             f"{estimator.n_features_in_}")

    # The network: its layout is the one the parameters give, its arrays fit it.
    layout = network.readonly_layout(network.NetworkLayout(
        *(arrays[_LAYOUT_PREFIX + field] for field in network.NetworkLayout._fields)))
    try:
        hidden_sizes = estimator._more_validate_params()
        rebuilt = estimator._network_layout(hidden_sizes, estimator.n_outputs_,
                                            estimator.n_features_in_)
    except (ValueError, TypeError) as exc:
        fail(f"its parameters do not give a network: {exc}")
    for field, stored, expected_array in zip(network.NetworkLayout._fields, layout, rebuilt):
        if stored.dtype != np.int64 or not np.array_equal(stored, expected_array):
            fail(f"the network layout's {field} {stored.tolist()} is not the one the parameters "
                 f"give ({np.asarray(expected_array).tolist()})")
    input_table, dense_params, dense_state = (arrays[name] for name in _NETWORK_ARRAYS)
    optimizer_code = attributes["_optimizer_code"]
    width = network.table_width(layout) + optimizers.input_state_width(
        optimizer_code, network.table_width(layout))
    n_dense = network.n_dense_params(layout)
    for name, array, shape in (
            ("input_table", input_table, (estimator.n_features_in_, width)),
            ("dense_params", dense_params, (n_dense,)),
            ("dense_state", dense_state, (optimizers.dense_state_width(optimizer_code) * n_dense,))):
        if array.dtype != np.float32 or array.shape != shape:
            fail(f"{name} is {array.dtype} of shape {array.shape}; the layout and optimizer "
                 f"{attributes['_fitted_optimizer']!r} need float32 of shape {shape}")
    estimator._network = NetworkState(layout, np.ascontiguousarray(input_table),
                                      np.ascontiguousarray(dense_params),
                                      np.ascontiguousarray(dense_state))
    return estimator
