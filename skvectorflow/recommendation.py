r"""Recommendation models on sparse categorical data: factorization machines and DLRM.

A factorization machine (Rendle, 2010) scores a row ``x`` as

.. math::

    y(x) = b + \sum_j w_j x_j + \sum_{j < k} \langle v_j, v_k \rangle x_j x_k,

with one weight ``w_j`` and one factor vector ``v_j`` (``n_factors``
entries) per column: every pair of columns interacts through its factors,
so pairs never seen together still get an estimate.  The pairwise sum is
computed in ``O(nnz * n_factors)`` by the identity

.. math::

    \sum_{j<k} \langle v_j, v_k \rangle x_j x_k
    = \sum_c \tfrac12 \Big( \big(\textstyle\sum_j x_j v_{jc}\big)^2 - \sum_j x_j^2 v_{jc}^2 \Big).

Here the ``n_factors`` terms of the outer sum form the *bi-interaction
vector* (He and Chua's neural FM), and an output layer combines them.
Without hidden layers the output layer starts at all ones, which is the
classic model above; it is trained with the rest, which lets each factor
carry its own weight (and sign), and each class its own interactions in the
multiclass case.  With ``hidden_layer_sizes``, an MLP reads the
bi-interaction vector and the linear term is added to its output (NFM).

:class:`DLRMClassifier` is Facebook's deep learning recommendation model
(Naumov et al., 2019) over X and a field map (see :mod:`skvectorflow.fields`):
each categorical field's non-zeros are pooled into one embedding (weighted by
their values, so multi-hot fields work), the dense columns go through the
bottom MLP to an embedding of the same width, the pairwise dot products of
all these embeddings (or their concatenation) go through the top MLP, and a
sigmoid gives the click probability.

All models run on the same Hogwild engine as :class:`SparseMLPClassifier`:
the factorization and field layers are kinds of the engine's input layer,
whose table row per column (``[w_j | v_j]``, or an embedding) and its
optimizer state are updated only where a row has non-zeros.  Every option of
the MLP estimators (optimizers, mini-batches, threads, ``loss_callback``,
early stopping, ``partial_fit``) works the same way.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import (FITTED_ATTRIBUTES_DOC, TRAINING_PARAMETERS_DOC, check_layer_widths,
                    check_positive_size)
from ._engine import network
from .fields import DENSE_FIELD, check_field_map
from .losses import compile_loss_callback
from .neural_network import (
    _LOSS_CALLBACK_PARAMETER,
    SparseMLPClassifier,
    SparseMLPRegressor,
)

__all__ = ["DLRMClassifier", "FactorizationMachineClassifier", "FactorizationMachineRegressor"]

_FACTORIZATION_PARAMETERS_DOC = """
    n_factors : int, default=8
        Entries of each column's factor vector ``v_j``: the rank of the
        pairwise interactions.

    hidden_layer_sizes : tuple of int, default=()
        Hidden layers of an MLP on the bi-interaction vector (neural FM).
        ``()`` is the factorization machine itself.

    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation of the hidden layers (the bi-interaction vector itself is
        not activated).

"""

_FACTORIZATION_ATTRIBUTES_DOC = """
    coef_ : ndarray of shape (n_features, n_outputs)
        Linear weights ``w`` (a view of the training table).

    factors_ : ndarray of shape (n_features, n_factors)
        Factor vectors ``v`` (a view of the training table).
""" + FITTED_ATTRIBUTES_DOC.replace(
    "``coefs_[0]`` has shape\n        ``(n_features_in_, h0)`` and is a view of the training table.",
    "``coefs_[0]`` has shape\n        ``(n_features_in_, n_outputs_ + n_factors)``: ``coef_`` then ``factors_``.",
)


class _FactorizationLayer:
    """What a factorization machine adds to an MLP estimator: its input layer and attributes."""

    def _more_validate_params(self):
        check_positive_size("n_factors", self.n_factors)
        return super()._more_validate_params()

    def _network_layout(self, hidden_sizes, n_outputs, n_features):
        return network.make_layout([self.n_factors, *hidden_sizes, n_outputs],
                                   network.INPUT_FACTORIZATION)

    @property
    def coef_(self):
        check_is_fitted(self)
        return self._network.input_table[:, : self.n_outputs_]

    @property
    def factors_(self):
        check_is_fitted(self)
        start = self.n_outputs_
        return self._network.input_table[:, start : start + int(self._network.layout.layer_sizes[0])]


class FactorizationMachineClassifier(_FactorizationLayer, SparseMLPClassifier):
    __doc__ = f"""Factorization machine classifier on sparse data, trained by Hogwild SGD.

    Binary problems train one logit; multiclass problems one logit per class
    (each with its own linear weights, all sharing the factors).  See
    :mod:`skvectorflow.recommendation` for the model.

    Parameters
    ----------
    loss : {{'log_loss', 'hinge'}}, default='log_loss'
        Training loss.  ``predict_proba`` needs ``'log_loss'``.
{_FACTORIZATION_PARAMETERS_DOC}{_LOSS_CALLBACK_PARAMETER}{TRAINING_PARAMETERS_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
{_FACTORIZATION_ATTRIBUTES_DOC}
    See Also
    --------
    FactorizationMachineRegressor : The regressor.
    SparseMLPClassifier : Linear models and MLPs on the same engine.

    Examples
    --------
    >>> from skvectorflow import FactorizationMachineClassifier
    >>> from skvectorflow.datasets import make_criteo_like
    >>> X, y, _ = make_criteo_like(2000, hash_bits=8, random_state=0)
    >>> model = FactorizationMachineClassifier(n_factors=4, max_iter=3, random_state=0)
    >>> model.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    >>> model.factors_.shape
    (6669, 4)
    """

    _parameter_constraints = {
        **SparseMLPClassifier._parameter_constraints,
        "n_factors": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        loss="log_loss",
        *,
        n_factors=8,
        hidden_layer_sizes=(),
        activation="relu",
        loss_callback=None,
        optimizer="adagrad",
        alpha=1e-4,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        shuffle_window_size=1 << 20,
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        ftrl_beta=1.0,
        verbose=0,
        n_jobs=None,
    ):
        self.n_factors = n_factors
        super().__init__(
            loss, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            loss_callback=loss_callback, optimizer=optimizer, alpha=alpha, l1=l1,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter, tol=tol,
            shuffle=shuffle, shuffle_block_size=shuffle_block_size,
            shuffle_window_size=shuffle_window_size, random_state=random_state,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, warm_start=warm_start, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, ftrl_beta=ftrl_beta, verbose=verbose, n_jobs=n_jobs)


class FactorizationMachineRegressor(_FactorizationLayer, SparseMLPRegressor):
    __doc__ = f"""Factorization machine regressor on sparse data, trained by Hogwild SGD.

    See :mod:`skvectorflow.recommendation` for the model; several targets
    each get their own linear weights and share the factors.

    Parameters
    ----------
    loss : {{'squared_error', 'huber', 'poisson'}}, default='squared_error'
        Training loss.  ``'poisson'`` models the log of the mean.
{_FACTORIZATION_PARAMETERS_DOC}{_LOSS_CALLBACK_PARAMETER}{TRAINING_PARAMETERS_DOC}
    huber_delta : float, default=1.0
        Residual beyond which the Huber loss grows linearly.

    Attributes
    ----------
{_FACTORIZATION_ATTRIBUTES_DOC}
    See Also
    --------
    FactorizationMachineClassifier : The classifier.
    SparseMLPRegressor : Linear models and MLPs on the same engine.

    Examples
    --------
    >>> import numpy as np
    >>> from skvectorflow import FactorizationMachineRegressor
    >>> from skvectorflow.datasets import make_sparse_regression
    >>> X, y = make_sparse_regression(n_samples=2000, n_features=500, random_state=0)
    >>> model = FactorizationMachineRegressor(n_factors=4, max_iter=3, random_state=0)
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **SparseMLPRegressor._parameter_constraints,
        "n_factors": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        n_factors=8,
        hidden_layer_sizes=(),
        activation="relu",
        loss_callback=None,
        optimizer="adagrad",
        alpha=1e-4,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        shuffle_window_size=1 << 20,
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        ftrl_beta=1.0,
        huber_delta=1.0,
        verbose=0,
        n_jobs=None,
    ):
        self.n_factors = n_factors
        super().__init__(
            loss, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            loss_callback=loss_callback, optimizer=optimizer, alpha=alpha, l1=l1,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter, tol=tol,
            shuffle=shuffle, shuffle_block_size=shuffle_block_size,
            shuffle_window_size=shuffle_window_size, random_state=random_state,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, warm_start=warm_start, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, ftrl_beta=ftrl_beta, huber_delta=huber_delta, verbose=verbose,
            n_jobs=n_jobs)


_INTERACTIONS = {"dot": network.INTERACTION_DOT, "cat": network.INTERACTION_CAT}


class DLRMClassifier(SparseMLPClassifier):
    __doc__ = f"""DLRM: embeddings per categorical field, bottom and top MLPs, pairwise interactions.

    A row's columns are split by ``field_of_column``: each categorical field's
    non-zeros ``j`` are pooled into ``e_f = sum_j x_j E[j]`` (an
    ``embedding_dim``-wide embedding per column; several non-zeros in a field
    are a weighted bag, as ``EmbeddingBag(mode='sum')``), and the dense
    columns go through ``bottom_mlp`` to ``e_dense``.  The interaction is
    ``[e_dense, <e_a, e_b> for every pair of the vectors]`` (``'dot'``) or
    all vectors concatenated (``'cat'``); ``top_mlp`` and a logistic output
    follow.  Every MLP layer uses ``activation``, the bottom MLP's last one
    included; the output is linear.

    Trained by the Hogwild engine like every estimator here: only the
    embeddings of a row's columns are updated (with ``'rowwise_adagrad'``,
    one accumulator per embedding, as DLRM does).  With ``batch_size > 1``
    each thread runs the MLPs on its ``batch_size`` rows at once, as matrix
    products (BLAS), and takes one step per batch; ``batch_size=1`` updates
    after every row.  See :mod:`skvectorflow.recommendation`.

    Parameters
    ----------
    field_of_column : array-like of int of shape (n_features,) or None, default=None
        Field of each column of X; ``-1`` (``skvectorflow.fields.DENSE_FIELD``)
        marks a dense column.  Field ids are ``0..n_fields-1``.  ``None``
        treats every column as dense (the model is then the two MLPs).
        :func:`~skvectorflow.datasets.load_criteo`,
        :func:`~skvectorflow.datasets.make_criteo_like` and
        :class:`~skvectorflow.fields.FieldHasher` (its ``field_of_column_``)
        provide it.  Stored as given; validated against X in ``fit``.

    embedding_dim : int, default=16
        Width of each embedding and of the bottom MLP's output.

    bottom_mlp : tuple of int or None, default=(512, 256, 64)
        Hidden widths of the bottom MLP (``n_dense -> bottom_mlp ->
        embedding_dim``).  ``None``: no bottom MLP, for X without dense
        columns.

    top_mlp : tuple of int, default=(512, 256)
        Hidden widths of the top MLP (``interaction -> top_mlp -> 1``).

    interaction : {{'dot', 'cat'}}, default='dot'
        Pairwise dot products (with the bottom output), or concatenation.

    loss : {{'log_loss', 'hinge'}}, default='log_loss'

    activation : {{'relu', 'tanh', 'logistic', 'identity'}}, default='relu'
{_LOSS_CALLBACK_PARAMETER}{TRAINING_PARAMETERS_DOC.replace("default='adagrad'", "default='rowwise_adagrad'")}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)

    embeddings_ : ndarray of shape (n_features, embedding_dim)
        The embedding of each column (a view of the training table; the rows
        of dense columns are unused).

    n_fields_ : int
{FITTED_ATTRIBUTES_DOC}
    See Also
    --------
    FactorizationMachineClassifier : Pairwise interactions of every column, no MLPs.
    skvectorflow.fields.FieldHasher : Builds X and the field map from a DataFrame.

    Examples
    --------
    >>> from skvectorflow import DLRMClassifier
    >>> from skvectorflow.datasets import make_criteo_like
    >>> X, y, field_of_column = make_criteo_like(2000, hash_bits=8, random_state=0)
    >>> model = DLRMClassifier(field_of_column=field_of_column, embedding_dim=8,
    ...                        bottom_mlp=(16,), top_mlp=(16,), max_iter=2, random_state=0)
    >>> model.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **{name: constraint for name, constraint in SparseMLPClassifier._parameter_constraints.items()
           if name != "hidden_layer_sizes"},
        "field_of_column": ["array-like", None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "bottom_mlp": ["array-like", None],
        "top_mlp": ["array-like"],
        "interaction": [StrOptions(set(_INTERACTIONS))],
    }

    def __init__(
        self,
        field_of_column=None,
        *,
        embedding_dim=16,
        bottom_mlp=(512, 256, 64),
        top_mlp=(512, 256),
        interaction="dot",
        loss="log_loss",
        activation="relu",
        loss_callback=None,
        optimizer="rowwise_adagrad",
        alpha=1e-4,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        shuffle_window_size=1 << 20,
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        ftrl_beta=1.0,
        verbose=0,
        n_jobs=None,
    ):
        self.field_of_column = field_of_column
        self.embedding_dim = embedding_dim
        self.bottom_mlp = bottom_mlp
        self.top_mlp = top_mlp
        self.interaction = interaction
        super().__init__(
            loss, hidden_layer_sizes=(), activation=activation,
            loss_callback=loss_callback, optimizer=optimizer, alpha=alpha, l1=l1,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter, tol=tol,
            shuffle=shuffle, shuffle_block_size=shuffle_block_size,
            shuffle_window_size=shuffle_window_size, random_state=random_state,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, warm_start=warm_start, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, ftrl_beta=ftrl_beta, verbose=verbose, n_jobs=n_jobs)
        del self.hidden_layer_sizes  # set by the parent; top_mlp is this model's

    def _more_validate_params(self):
        check_positive_size("embedding_dim", self.embedding_dim)
        top = check_layer_widths("top_mlp", self.top_mlp)
        check_layer_widths("bottom_mlp", self.bottom_mlp, allow_none=True)
        if self.loss_callback is not None:
            compile_loss_callback(self.loss_callback)
        return top

    def _network_layout(self, hidden_sizes, n_outputs, n_features):
        if self.field_of_column is None:
            field_of_column = np.full(n_features, DENSE_FIELD, dtype=np.int32)
        else:
            field_of_column, _ = check_field_map(self.field_of_column, n_features)
        bottom = check_layer_widths("bottom_mlp", self.bottom_mlp, allow_none=True)
        n_dense = int(np.sum(field_of_column == DENSE_FIELD))
        if bottom is not None and n_dense == 0:
            raise ValueError(
                "field_of_column marks no dense column (-1), but bottom_mlp is set: the bottom MLP "
                "reads the dense columns. Pass bottom_mlp=None for X without dense columns."
            )
        if bottom is None and n_dense > 0:
            raise ValueError(
                f"field_of_column marks {n_dense} dense columns (-1), but bottom_mlp is None: "
                f"dense columns need a bottom MLP (bottom_mlp=() is a single layer)."
            )
        return network.make_layout([1, *hidden_sizes, n_outputs], network.INPUT_FIELDS,
                                   field_of_column, bottom, self.embedding_dim,
                                   _INTERACTIONS[self.interaction])

    @property
    def embeddings_(self):
        check_is_fitted(self)
        return self._network.input_table[:, : self.embedding_dim]

    @property
    def n_fields_(self):
        check_is_fitted(self)
        return int(self._network.layout.input_spec[network.SPEC_N_FIELDS])
