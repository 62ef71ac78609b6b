"""Categorical fields in one CSR matrix: the field map, and a transformer that builds both.

Recommendation models (DLRM, field-aware factorization machines) see their
input as *fields*: a categorical variable such as "advertiser" or "site",
each of whose values is a column of X, and *dense* columns such as counts.
skvectorflow keeps scikit-learn's single-X API: X is one CSR matrix, and a
**field map** says what each column is.

``field_of_column`` : int array of length ``n_features``
    ``field_of_column[j] = f`` (``0 <= f < n_fields``) puts column ``j`` in
    categorical field ``f``; ``field_of_column[j] = DENSE_FIELD`` (-1) marks a
    dense column.  Field ids are ``0, 1, ..., n_fields - 1``, each with at
    least one column.  A row may have several non-zeros in one field
    (multi-hot): models pool them, weighted by their values.

Ways to build X and its map:

- :func:`skvectorflow.datasets.load_criteo` and
  :func:`skvectorflow.datasets.make_criteo_like` return both;
- :class:`FieldHasher` turns a DataFrame of numeric and categorical columns
  into both (the map is its ``field_of_column_`` attribute);
- by hand with :class:`~sklearn.compose.ColumnTransformer`: put the numeric
  columns first (``"passthrough"`` or a scaler), then one
  :class:`~sklearn.feature_extraction.FeatureHasher` (or
  :class:`~sklearn.preprocessing.OneHotEncoder`) *per categorical column*, and
  build the map from the widths of the blocks with :func:`field_map_of_blocks`.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    _get_feature_names,
    _num_samples,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._engine.criteo_format import hash_tokens

__all__ = ["DENSE_FIELD", "FieldHasher", "check_field_map", "field_map_of_blocks", "hash_values"]

DENSE_FIELD = -1

# Column widths of a hashed field are 2**hash_bits; more than this would
# overflow the engine's int32 column indices with a few dozen fields.
MAX_HASH_BITS = 26

# The values ``min_frequency`` takes, as in OneHotEncoder: a count >= 1, a
# fraction of the rows in (0, 1), or None (no folding).  FieldHasher and the
# Criteo reader share this one list.
MIN_FREQUENCY_CONSTRAINTS = [
    Interval(numbers.Integral, 1, None, closed="left"),
    Interval(RealNotInt, 0, 1, closed="neither"),
    None,
]


def check_min_frequency(min_frequency, caller):
    """Validate ``min_frequency`` as scikit-learn validates an estimator's parameter.

    Parameters
    ----------
    min_frequency : int, float or None
    caller : str
        The function or class named in the error.

    Returns
    -------
    min_frequency : int, float or None
        As given (an int as ``int``, a float as ``float``).

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A ``ValueError`` (and ``TypeError``) naming ``min_frequency``, for a
        bool, a number below 1 that is not a fraction in (0, 1), or a
        non-number.
    """
    validate_parameter_constraints({"min_frequency": MIN_FREQUENCY_CONSTRAINTS},
                                   {"min_frequency": min_frequency}, caller)
    if isinstance(min_frequency, bool):
        # An Interval of Integral accepts True as 1; a flag is not a count.
        raise InvalidParameterError(
            f"The 'min_frequency' parameter of {caller} must be an int in the range [1, inf), a "
            f"float in the range (0.0, 1.0) or None. Got {min_frequency!r} instead.")
    if min_frequency is None:
        return None
    if isinstance(min_frequency, numbers.Integral):
        return int(min_frequency)
    return float(min_frequency)


def frequency_threshold(min_frequency, n_rows):
    """The count below which a category is infrequent, or None when nothing is folded.

    As in :class:`~sklearn.preprocessing.OneHotEncoder`, an int is a count
    and a float a fraction of ``n_rows``: a category seen fewer than
    ``min_frequency * n_rows`` times is infrequent, that is fewer than
    ``ceil(min_frequency * n_rows)`` times.  A threshold of 1 or less (``None``,
    ``1``, or a fraction of fewer than one row) folds nothing: no category
    seen at all is infrequent, and the output is that without
    ``min_frequency``.

    Parameters
    ----------
    min_frequency : int, float or None
        Validated by :func:`check_min_frequency`.
    n_rows : int
        Rows counted.

    Returns
    -------
    threshold : int or None
        Categories with fewer rows than this are folded; None: no folding.

    Examples
    --------
    >>> from skvectorflow.fields import frequency_threshold
    >>> frequency_threshold(5, 1000), frequency_threshold(0.01, 1000), frequency_threshold(1, 1000)
    (5, 10, None)
    """
    if min_frequency is None:
        return None
    if isinstance(min_frequency, numbers.Integral):
        threshold = int(min_frequency)
    else:
        threshold = math.ceil(min_frequency * n_rows)
    return threshold if threshold >= 2 else None


def lowest_infrequent_bucket(frequent_buckets, width):
    """The smallest bucket in ``[0, width)`` not in the sorted ``frequent_buckets``, or -1.

    That bucket becomes the field's infrequent column: no frequent category
    hashes there, so folding merges only infrequent (and unseen) categories.

    Parameters
    ----------
    frequent_buckets : ndarray of int, sorted, unique
    width : int

    Returns
    -------
    bucket : int
        -1 when every bucket is frequent (then nothing is infrequent).
    """
    gaps = np.flatnonzero(frequent_buckets != np.arange(frequent_buckets.size))
    bucket = int(gaps[0]) if gaps.size else int(frequent_buckets.size)
    return bucket if bucket < width else -1


def field_map_of_blocks(n_dense, field_widths):
    """The field map of X laid out as ``n_dense`` dense columns, then one block per field.

    Parameters
    ----------
    n_dense : int
        Number of leading dense columns.
    field_widths : sequence of int
        Columns of each categorical field, in order.

    Returns
    -------
    field_of_column : ndarray of int32, shape (n_dense + sum(field_widths),)

    Examples
    --------
    >>> from skvectorflow.fields import field_map_of_blocks
    >>> field_map_of_blocks(2, [3, 1]).tolist()
    [-1, -1, 0, 0, 0, 1]
    """
    widths = np.asarray(field_widths, dtype=np.int64)
    if widths.ndim != 1 or np.any(widths < 1):
        raise ValueError(f"field_widths must be positive integers, got {field_widths!r}.")
    if not isinstance(n_dense, numbers.Integral) or n_dense < 0:
        raise ValueError(f"n_dense must be an integer >= 0, got {n_dense!r}.")
    fields = np.repeat(np.arange(widths.size, dtype=np.int32), widths)
    return np.concatenate([np.full(n_dense, DENSE_FIELD, dtype=np.int32), fields])


def check_field_map(field_of_column, n_features, *, name="field_of_column"):
    """Validate a field map against X's width; return it as int32 and the number of fields.

    Parameters
    ----------
    field_of_column : array-like of int, shape (n_features,)
    n_features : int
        Columns of X.
    name : str
        How error messages name the parameter.

    Returns
    -------
    field_of_column : ndarray of int32
    n_fields : int

    Raises
    ------
    ValueError
        If the map's length is not ``n_features``, an entry is below
        ``DENSE_FIELD``, or a field id up to the largest has no column.
    TypeError
        If the map is not an array of integers.
    """
    array = np.asarray(field_of_column)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of field ids, got shape {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (field ids, -1 for dense), got dtype {array.dtype}.")
    if array.size != n_features:
        raise ValueError(
            f"{name} has {array.size} entries but X has {n_features} columns; it needs one "
            f"field id per column."
        )
    if array.size and array.min() < DENSE_FIELD:
        raise ValueError(
            f"{name} holds {array.min()}; field ids are >= 0, and {DENSE_FIELD} marks a dense column."
        )
    n_fields = int(array.max()) + 1 if array.size else 0
    counts = np.bincount(array[array >= 0], minlength=n_fields)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(
            f"{name}: field {empty[0]} has no columns; field ids must be 0..n_fields-1 with "
            f"at least one column each."
        )
    return array.astype(np.int32), n_fields


def signed_log1p(values):
    """``sign(v) * log1p(|v|)``: counts compressed, zero kept at zero, negatives kept."""
    return np.sign(values) * np.log1p(np.abs(values))


def hash_values(values, field, hash_bits):
    """Hashed column (within its field's range) of every string in ``values``.

    The hash is the one the Criteo reader applies to a token (FNV-1a of the
    UTF-8 bytes, seeded by the field), so a DataFrame of Criteo tokens and
    the TSV file give the same columns.  The empty string is the missing
    value's category.

    Parameters
    ----------
    values : sequence of str
    field : int
    hash_bits : int

    Returns
    -------
    ndarray of int64, values in ``[0, 2**hash_bits)``
    """
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(token) for token in encoded], out=offsets[1:])
    buffer = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
    buckets = np.empty(len(encoded), dtype=np.int64)
    hash_tokens(buffer, offsets, np.int64(field), np.int64((1 << hash_bits) - 1), buckets)
    return buckets


class FieldHasher(TransformerMixin, BaseEstimator):
    """Turn numeric and categorical columns into CSR and a field map.

    Numeric columns become the dense columns (transformed by
    ``sign(v) * log1p(|v|)`` when ``numeric_transform='log1p'``, the usual
    treatment of counts; a missing value becomes 0).  Each categorical column
    becomes one field of ``2**hash_bits`` columns: a value is hashed to one of
    them with value 1, and a missing value (None, NaN) is its own category
    (it is hashed as the empty string).  Hashing needs no vocabulary, so
    ``transform`` handles values never seen in ``fit``.

    X is a pandas DataFrame or a 2-d array-like:

    - A DataFrame whose column names are all strings is read by name: a
      column is numeric if its dtype is (boolean, object, string and category
      dtypes are categorical), and ``transform`` takes the columns seen in
      ``fit`` by name, in any order, ignoring extra ones (as
      :class:`~sklearn.compose.ColumnTransformer` does).
    - Anything else (a numpy array, a list of rows, a DataFrame whose column
      names are not strings) is read by position, its columns named ``x0,
      x1, ...``; column names mixing strings and other types are a
      ``TypeError``, as in scikit-learn.
      An integer or float array's columns are numeric, a boolean or string
      array's categorical.  In an object array, a column is numeric if every
      value that is not missing is a number (not a boolean), and categorical
      otherwise.  ``fit`` makes this choice and ``transform`` keeps it: a
      numeric column then holding a string is an error.

    Parameters
    ----------
    categorical_columns : list of str or int, or None, default=None
        Columns to hash, by name; with input read by position, also by
        position (``2`` and ``"x2"`` are the same column).  ``None``: every
        column that is not numeric.
    numeric_columns : list of str or int, or None, default=None
        Dense columns, named as ``categorical_columns``.  ``None``: every
        numeric column not in ``categorical_columns``.
    hash_bits : int, default=16
        Each field has ``2**hash_bits`` columns.
    numeric_transform : {'log1p', 'none'}, default='log1p'
        Transform of the numeric columns.
    min_frequency : int, float or None, default=None
        Fold rare categories, with the meaning of
        :class:`~sklearn.preprocessing.OneHotEncoder`'s ``min_frequency``: a
        category of a field seen in fewer than ``min_frequency`` rows of
        ``fit`` (an int >= 1), or in fewer than ``min_frequency * n_samples``
        (a float in (0, 1)), is *infrequent*, and ``transform`` puts every
        infrequent category of the field, and every category ``fit`` never
        saw, in the field's one infrequent column.  ``None`` or ``1`` (or a
        fraction of less than one row) folds nothing: the output is that of
        plain hashing.  A category here is a hashed column: values that hash
        to the same column are counted together, as they share a column
        anyway (see Notes).

    Attributes
    ----------
    field_of_column_ : ndarray of int32, shape (n_features_out,)
        The field map of the output: ``-1`` for each numeric column, then the
        field id of each categorical column's block.
    numeric_columns_, categorical_columns_ : list of str
        The columns used, by name (``x0, x1, ...`` for input read by
        position), in output order.
    n_fields_ : int
    frequent_buckets_ : list of ndarray of int64, or None
        Per field, the buckets (in ``[0, 2**hash_bits)``) of the columns seen
        in at least ``min_frequency`` rows of ``fit``, sorted; ``None`` when
        ``min_frequency`` folds nothing.
    infrequent_column_ : ndarray of int64 of length ``n_fields_``
        The output column of each field's infrequent column, or -1 where the
        field has none (no folding, or every bucket frequent).
    feature_names_in_ : ndarray of str
        The column names; only set when X was a DataFrame with string
        column names.
    n_features_in_ : int

    Notes
    -----
    FieldHasher needs pandas (``pip install 'skvectorflow[pandas]'``): its
    ``factorize`` codes a categorical column without Python per row, a missing
    value as a category of its own; the rest of skvectorflow does not.

    With ``min_frequency``, ``fit`` counts the rows of each hashed column
    (bucket) of each field, not of each raw value.  The counts are exact
    for the columns of the output, they need no vocabulary of strings (the
    fitted state is the frequent buckets, at most ``2**hash_bits`` a field),
    and they are the counts :func:`skvectorflow.datasets.load_criteo` takes
    from a file with the same ``min_frequency``, so a DataFrame of Criteo
    tokens and the TSV file still give the same matrix.  The price is that
    two rare values hashing to one bucket count together.  The infrequent
    column of a field is its lowest bucket that is not frequent: no
    frequent category hashes there, so the field map is unchanged (every
    field keeps its ``2**hash_bits`` columns, most of the infrequent
    buckets now empty) and :meth:`get_feature_names_out` names it
    ``column=infrequent``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skvectorflow.fields import FieldHasher
    >>> frame = pd.DataFrame({"clicks": [0, 3, 10], "site": ["a", None, "b"]})
    >>> hasher = FieldHasher(hash_bits=4).fit(frame)
    >>> X = hasher.transform(frame)
    >>> X.shape, hasher.field_of_column_[:3].tolist(), X.getnnz(axis=1).tolist()
    ((3, 17), [-1, 0, 0], [1, 2, 2])

    An object array: its first column holds only numbers, so it is numeric.

    >>> import numpy as np
    >>> rows = np.array([[0, "a"], [3, None], [10, "b"]], dtype=object)
    >>> hasher = FieldHasher(hash_bits=4).fit(rows)
    >>> hasher.numeric_columns_, hasher.categorical_columns_
    (['x0'], ['x1'])
    >>> hasher.transform(rows).shape
    (3, 17)

    ``min_frequency=2``: "a" is the one category seen twice; "b", the missing
    value and the unseen "c" share the infrequent column.

    >>> frame = pd.DataFrame({"site": ["a", "a", "b", None]})
    >>> hasher = FieldHasher(hash_bits=8, min_frequency=2).fit(frame)
    >>> columns = hasher.transform(pd.DataFrame({"site": ["a", "b", None, "c"]})).indices
    >>> bool(columns[0] != columns[1]), bool(columns[1] == columns[2] == columns[3])
    (True, True)
    >>> int(columns[1]) == int(hasher.infrequent_column_[0])
    True
    """

    _parameter_constraints = {
        "categorical_columns": [list, None],
        "numeric_columns": [list, None],
        "hash_bits": [Interval(numbers.Integral, 1, MAX_HASH_BITS, closed="both")],
        "numeric_transform": [StrOptions({"log1p", "none"})],
        "min_frequency": MIN_FREQUENCY_CONSTRAINTS,
    }

    def __init__(self, categorical_columns=None, numeric_columns=None, hash_bits=16,
                 numeric_transform="log1p", min_frequency=None):
        self.categorical_columns = categorical_columns
        self.numeric_columns = numeric_columns
        self.hash_bits = hash_bits
        self.numeric_transform = numeric_transform
        self.min_frequency = min_frequency

    def fit(self, X, y=None):
        """Choose the numeric and categorical columns, build the field map, count categories.

        The counts (of ``min_frequency``) are taken only when it folds.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            See the class docstring for how columns are named and typed.
        y : ignored

        Returns
        -------
        self : FieldHasher
        """
        _pandas()  # before any work: a missing pandas says how to install it
        self._validate_params()
        check_min_frequency(self.min_frequency, type(self).__name__)  # bools, which Interval lets by
        if _has_string_column_names(X):
            columns = [str(c) for c in X.columns]
            if len(set(columns)) != len(columns):
                raise ValueError("X has repeated column names; FieldHasher needs unique names.")
            is_numeric = {c: _is_numeric(dtype) for c, dtype in zip(columns, X.dtypes)}
            categorical, numeric = self.categorical_columns, self.numeric_columns
        else:
            X = check_array(_mixed_rows_as_objects(X), dtype=None, ensure_all_finite=False,
                            estimator=self)
            columns = [f"x{j}" for j in range(X.shape[1])]
            is_numeric = {c: _holds_only_numbers(X[:, j]) for j, c in enumerate(columns)}
            categorical = _names_of_positions(self.categorical_columns, "categorical_columns", columns)
            numeric = _names_of_positions(self.numeric_columns, "numeric_columns", columns)
        if categorical is None:
            numeric_given = set(numeric or [])
            categorical = [c for c in columns if c not in numeric_given and not is_numeric[c]]
        if numeric is None:
            numeric = [c for c in columns if c not in set(categorical)]
        for name, chosen in (("categorical_columns", categorical), ("numeric_columns", numeric)):
            missing = [c for c in chosen if c not in is_numeric]
            if missing:
                raise ValueError(f"{name} names {missing[0]!r}, which is not a column of X.")
        overlap = set(categorical) & set(numeric)
        if overlap:
            raise ValueError(f"column {min(overlap)!r} is both numeric and categorical.")
        for c in numeric:
            if not is_numeric[c]:
                why = (f"has dtype {X[c].dtype}" if hasattr(X, "dtypes")
                       else "holds values that are not numbers, or booleans")
                raise ValueError(f"numeric column {c!r} {why}; list it in categorical_columns.")
        if not categorical and not numeric:
            raise ValueError("X has no columns to encode.")
        width = 1 << self.hash_bits
        threshold = frequency_threshold(self.min_frequency, _num_samples(X))
        frequent_buckets = None
        infrequent_column = np.full(len(categorical), -1, dtype=np.int64)
        if threshold is not None:
            frequent_buckets = []
            for field, name in enumerate(categorical):
                values = X[name] if hasattr(X, "dtypes") else X[:, columns.index(name)]
                buckets, counts = np.unique(_row_buckets(values, name, field, self.hash_bits),
                                            return_counts=True)
                frequent = buckets[counts >= threshold]
                frequent_buckets.append(frequent)
                bucket = lowest_infrequent_bucket(frequent, width)
                if bucket >= 0:
                    infrequent_column[field] = len(numeric) + field * width + bucket
        # Only now, so that a fit that fails leaves a fitted hasher as it was.
        validate_data(self, X, skip_check_array=True, reset=True)
        self.numeric_columns_ = list(numeric)
        self.categorical_columns_ = list(categorical)
        self.n_fields_ = len(categorical)
        self.field_of_column_ = field_map_of_blocks(len(numeric), [width] * len(categorical))
        self.frequent_buckets_ = frequent_buckets
        self.infrequent_column_ = infrequent_column
        return self

    def transform(self, X):
        """Encode X.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, ``n_features_in_``)
            A DataFrame with the columns seen in ``fit`` when ``fit`` read
            its input by name; otherwise the columns of ``fit``, in order.

        Returns
        -------
        Xt : scipy.sparse.csr_matrix of float32, shape (n_samples, n_features_out)
            Sorted indices; one entry per categorical column and row, one per
            non-zero numeric value.
        """
        _pandas()  # a hasher fitted elsewhere and unpickled here needs it too
        check_is_fitted(self)
        if hasattr(self, "feature_names_in_") and _has_string_column_names(X):
            absent = [c for c in self.numeric_columns_ + self.categorical_columns_ if c not in X.columns]
            if absent:
                raise ValueError(f"X lacks column {absent[0]!r}, seen in fit.")
            column = X.__getitem__
        else:
            array = validate_data(self, _mixed_rows_as_objects(X), reset=False, dtype=None,
                                  ensure_all_finite=False)
            position = {name: j for j, name in enumerate(_check_feature_names_in(self, None))}

            def column(name):
                return array[:, position[name]]

        n_rows = _num_samples(X)
        n_numeric = len(self.numeric_columns_)
        blocks = []
        if n_numeric:
            values = np.column_stack([_as_float(column(name), name) for name in self.numeric_columns_])
            values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
            if self.numeric_transform == "log1p":
                values = signed_log1p(values)
            blocks.append(sp.csr_matrix(values.astype(np.float32)))
        if self.categorical_columns_:
            width = 1 << self.hash_bits
            columns = np.empty((n_rows, self.n_fields_), dtype=np.int64)
            frequent_buckets = getattr(self, "frequent_buckets_", None)  # None if pickled before
            for field, name in enumerate(self.categorical_columns_):
                codes, buckets = _value_buckets(column(name), name, field, self.hash_bits)
                if frequent_buckets is not None and self.infrequent_column_[field] >= 0:
                    infrequent = self.infrequent_column_[field] - n_numeric - field * width
                    buckets = np.where(np.isin(buckets, frequent_buckets[field]), buckets, infrequent)
                # Code -1 (missing) picks the last bucket: the empty string's.
                columns[:, field] = n_numeric + field * width + buckets[codes]
            indptr = np.arange(0, n_rows * self.n_fields_ + 1, self.n_fields_, dtype=np.int64)
            categorical = sp.csr_matrix(
                (np.ones(columns.size, dtype=np.float32), columns.ravel().astype(np.int32), indptr),
                shape=(n_rows, len(self.field_of_column_)))
            blocks.append(categorical)
        if len(blocks) == 2:
            numeric_block = sp.csr_matrix(blocks[0], shape=(n_rows, len(self.field_of_column_)))
            Xt = (numeric_block + blocks[1]).tocsr()
        else:
            Xt = sp.csr_matrix(blocks[0], shape=(n_rows, len(self.field_of_column_)))
        Xt.sort_indices()
        Xt.data = Xt.data.astype(np.float32, copy=False)
        return Xt

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the numeric columns, then ``column=bucket``.

        A field's infrequent column (see ``min_frequency``) is ``column=infrequent``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Names of the input columns, in order; ``None``: the names of
            ``fit`` (``feature_names_in_``, or ``x0, x1, ...``).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        fitted_names = _check_feature_names_in(self, None)
        given_names = _check_feature_names_in(self, input_features)
        renamed = dict(zip(fitted_names, given_names))
        width = 1 << self.hash_bits
        names = [renamed[name] for name in self.numeric_columns_]
        for name in self.categorical_columns_:
            names.extend(f"{renamed[name]}={bucket}" for bucket in range(width))
        for column in getattr(self, "infrequent_column_", ()):
            if column >= 0:
                names[column] = names[column].rsplit("=", 1)[0] + "=infrequent"
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        # Missing values are a category of their own, or 0 in a numeric column.
        tags.input_tags.allow_nan = True
        # The output is always float32 CSR, whatever the input's dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags


def _pandas():
    """The pandas module, or an ImportError that says how to install it.

    pandas is an extra: FieldHasher alone needs it (``factorize`` with missing
    values as their own category, ``infer_dtype`` for object columns).
    """
    try:
        import pandas
    except ImportError as error:
        raise ImportError("FieldHasher needs pandas: pip install 'skvectorflow[pandas]'") from error
    return pandas


def _has_string_column_names(X):
    """Whether X is a DataFrame read by name: one whose column names are all strings."""
    return hasattr(X, "columns") and hasattr(X, "dtypes") and _get_feature_names(X) is not None


def _mixed_rows_as_objects(X):
    """A list of rows as an object array if it mixes numbers and strings, else X unchanged.

    numpy would turn such a list into an array of strings, numbers included,
    and every column would then be categorical.
    """
    if sp.issparse(X) or hasattr(X, "__array__") or hasattr(X, "dtypes"):
        return X
    array = np.asarray(X)
    return np.asarray(X, dtype=object) if array.dtype.kind in "US" else array


def _holds_only_numbers(values):
    """The rule of an array's column: numeric if every non-missing value is a number, not a boolean."""
    if values.dtype.kind in "iuf":
        return True
    if values.dtype != object:
        return False
    # An all-missing column ("empty") holds no value that is not a number.
    inferred = _pandas().api.types.infer_dtype(values, skipna=True)
    return inferred in {"integer", "floating", "mixed-integer-float", "empty"}


def _names_of_positions(chosen, parameter, columns):
    """``categorical_columns``/``numeric_columns`` for input read by position: integers become names."""
    if chosen is None:
        return None
    names = []
    for c in chosen:
        if isinstance(c, numbers.Integral) and not isinstance(c, bool):
            if not 0 <= c < len(columns):
                raise ValueError(
                    f"{parameter} names column {c}, but X has {len(columns)} columns (0 to "
                    f"{len(columns) - 1})."
                )
            c = columns[c]
        names.append(c)
    return names


def _as_float(values, name):
    """A numeric column as float64, missing values (None, NaN, pd.NA) as NaN.

    An object column must hold numbers: numpy would parse the string "1.5".
    """
    if values.dtype == object:
        if not _holds_only_numbers(np.asarray(values)):
            raise ValueError(
                f"numeric column {name!r} holds a value that is not a number; it was numeric in fit."
            )
        values = _pandas().Series(values, copy=False)
    if hasattr(values, "to_numpy"):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


def _is_numeric(dtype):
    types = _pandas().api.types
    return types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype)


def _value_buckets(values, name, field, hash_bits):
    """Codes (-1 for missing) of a column and the bucket of each code, missing last.

    ``buckets[codes]`` is then every row's bucket: code -1 picks the last,
    the empty string's, the missing value's category.
    """
    codes, uniques = _factorize(values, name)
    buckets = hash_values([str(value) for value in uniques] + [""], field, hash_bits)
    return codes, buckets


def _row_buckets(values, name, field, hash_bits):
    """The bucket of every row of a categorical column."""
    codes, buckets = _value_buckets(values, name, field, hash_bits)
    return buckets[codes]


def _factorize(values, name):
    """Codes (-1 for missing) and unique values of a column, without Python per row."""
    try:
        return _pandas().factorize(values, use_na_sentinel=True)
    except TypeError as error:
        raise TypeError(f"categorical column {name!r} holds a value that cannot be hashed: {error}.") from error
