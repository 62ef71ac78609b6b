"""The shared training engine: Numba kernels and the Hogwild runner.

Imports numpy and numba only (and llvmlite, Numba's code generator, for the
prefetch intrinsic); it knows nothing of scikit-learn.  Estimators
build a ``NetworkLayout``, the parameter arrays and a ``TrainConfig``, then
call ``run_epoch`` once per epoch and ``predict_outputs`` to predict.
"""
