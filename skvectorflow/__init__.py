"""skvectorflow: scikit-learn estimators for very sparse, very high-dimensional data.

Linear models and shallow neural networks trained by lock-free Hogwild SGD
over every core, on scipy CSR matrices used without a copy.
"""

from .neural_network import SparseMLPClassifier, SparseMLPRegressor
from .ranking import SparseMLPRanker
from .recommendation import (DLRMClassifier, FactorizationMachineClassifier,
                             FactorizationMachineRegressor)
from .survival import SurvivalExponentialRegressor

__all__ = [
    "DLRMClassifier",
    "FactorizationMachineClassifier",
    "FactorizationMachineRegressor",
    "SparseMLPClassifier",
    "SparseMLPRanker",
    "SparseMLPRegressor",
    "SurvivalExponentialRegressor",
]
__version__ = "0.1.0"
