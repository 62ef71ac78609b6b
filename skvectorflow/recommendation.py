r"""Recommendation models on sparse categorical data: factorization machines.

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

The models run on the same Hogwild engine as :class:`SparseMLPClassifier`:
the factorization layer is one kind of the engine's input layer, whose table
row per column holds ``[w_j | v_j]`` and its optimizer state, updated only
where a row has non-zeros.  Every option of the MLP estimators (optimizers,
mini-batches, threads, ``loss_callback``, early stopping, ``partial_fit``)
works the same way.
"""

from numbers import Integral

from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import FITTED_ATTRIBUTES_DOC, TRAINING_PARAMETERS_DOC
from ._engine import network
from .neural_network import (
    _LOSS_CALLBACK_PARAMETER,
    SparseMLPClassifier,
    SparseMLPRegressor,
)

__all__ = ["FactorizationMachineClassifier", "FactorizationMachineRegressor"]

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
    coef_ : ndarray of shape (n_features_in_, n_outputs_)
        Linear weights ``w`` (a view of the training table).

    factors_ : ndarray of shape (n_features_in_, n_factors)
        Factor vectors ``v`` (a view of the training table).
""" + FITTED_ATTRIBUTES_DOC.replace(
    "``coefs_[0]`` has shape\n        ``(n_features_in_, h0)`` and is a view of the training table.",
    "``coefs_[0]`` has shape\n        ``(n_features_in_, n_outputs_ + n_factors)``: ``coef_`` then ``factors_``.",
)


class _FactorizationLayer:
    """What a factorization machine adds to an MLP estimator: its input layer and attributes."""

    def _network_spec(self, hidden_sizes, n_outputs):
        return [self.n_factors, *hidden_sizes, n_outputs], network.INPUT_FACTORIZATION

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
        alpha=1e-5,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        verbose=0,
        n_jobs=None,
    ):
        self.n_factors = n_factors
        super().__init__(
            loss, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            loss_callback=loss_callback, optimizer=optimizer, alpha=alpha, l1=l1,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter, tol=tol,
            shuffle=shuffle, shuffle_block_size=shuffle_block_size, random_state=random_state,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, warm_start=warm_start, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, verbose=verbose, n_jobs=n_jobs)


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
        alpha=1e-5,
        l1=0.0,
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        max_iter=10,
        tol=1e-4,
        shuffle=True,
        shuffle_block_size=128,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        warm_start=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
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
            shuffle=shuffle, shuffle_block_size=shuffle_block_size, random_state=random_state,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, warm_start=warm_start, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, huber_delta=huber_delta, verbose=verbose,
            n_jobs=n_jobs)
