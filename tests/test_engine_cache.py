"""Numba's on-disk cache must serve the engine's kernels to every new process.

The engine's kernels take the loss callback as a first-class function
argument of one declared type, so whichever callback a user passes, the
compiled epoch is the same and is loaded from the cache.  Passing a jitted
function as a plain argument, or closing over anything but constants (the
epoch kernels close over their variant's codes), would silently make every
process recompile; this test catches that.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import scipy.sparse as sp
    from skvectorflow import SparseMLPRegressor
    from skvectorflow._engine import hogwild, kernels, network, objectives, optimizers

    def user_loss_{suffix}(pred, target, weight, grad):
        loss = 0.0
        for i in range(pred.shape[0]):
            r = pred[i] - target[i]
            grad[i] = weight[0] * r
            loss += 0.5 * weight[0] * r * r
        return np.float32(loss)

    X = sp.random(50, 20, density=0.3, format="csr", dtype=np.float32, random_state=0)
    y = np.arange(50, dtype=float)
    SparseMLPRegressor(hidden_layer_sizes=(4,), max_iter=1, loss_callback=user_loss_{suffix}).fit(X, y).predict(X)
    kernel = hogwild.train_blocks_kernel(network.INPUT_SUM, optimizers.ADAGRAD, objectives.CALLBACK_LOSS).dispatcher
    stats = {{
        "train_hits": sum(kernel.stats.cache_hits.values()),
        "train_misses": sum(kernel.stats.cache_misses.values()),
        "predict_hits": sum(kernels.predict_rows_kernel(network.INPUT_SUM).dispatcher.stats.cache_hits.values()),
    }}
    print(json.dumps(stats))
    """
)


def run_fresh_process(suffix):
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(suffix=suffix)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    import json

    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_second_process_loads_kernels_from_cache_whatever_the_callback():
    # The first process fills the cache if the suite has not already; the
    # second, with a different callback function, must compile nothing.
    run_fresh_process("a")
    second = run_fresh_process("b")
    assert second["train_hits"] >= 1 and second["train_misses"] == 0
    assert second["predict_hits"] >= 1
