"""Experimental: bounded-staleness (SSP) training through a Dask Actor.

The parameters live in one ``ParameterServer`` actor on a worker.  Every
block runs one long task that loops over its *clocks* (shares of an epoch, as
a BSP round): pull the rows of its columns and the dense arrays, train with
the unchanged engine, push the change, which the server applies at once
(times ``server_learning_rate``), and advance its clock.  A block may run at
most ``staleness`` clocks ahead of the slowest block (stale synchronous
parallel, Ho et al. 2013); ``staleness=0`` is a BSP without the driver in the
loop, but updates are applied in the order they arrive, so runs are not
reproducible.

Limits, why this is experimental: the actor is a single point of failure
(a lost worker fails the training; use :func:`skvectorflow.dask.fit` where
that matters), every block needs a worker thread of its own for the whole
training (blocked waiting tasks hold their thread), and the push order, hence
the model, varies from run to run.
"""

import time
from numbers import Integral

import numpy as np
from distributed import default_client

from .._engine import hogwild, network
from .._base import effective_n_threads
from .training import (
    check_options,
    resolve_rounds_per_epoch,
    start_training,
    train_block_round,
)

# Seconds a block waits between two looks at the slowest block's clock.
POLL_SECONDS = 0.002


class ParameterServer:
    """The model's parameters, held by a Dask Actor, updated as blocks push changes.

    Parameters
    ----------
    input_table, dense_params, dense_state : ndarray of float32
        The starting parameters (see ``skvectorflow._engine.network``).
    h0 : int
        Weight columns of a table row (the rest is optimizer state).
    n_blocks : int
    staleness : int
    server_learning_rate : float
    first_step : int, default=0
        Global optimizer steps the model took before (a warm start's): the
        step count, and the rows' penalty stamps, go on from there.
    """

    def __init__(self, input_table, dense_params, dense_state, h0, n_blocks, staleness,
                 server_learning_rate, first_step=0):
        self.input_table = np.array(input_table, dtype=np.float32)
        self.dense_params = np.array(dense_params, dtype=np.float32)
        self.dense_state = np.array(dense_state, dtype=np.float32)
        self.h0 = h0
        self.staleness = staleness
        self.server_learning_rate = np.float32(server_learning_rate)
        self.clocks = np.zeros(n_blocks, dtype=np.int64)
        self.n_steps = int(first_step)
        self.loss = {}

    def may_advance(self, block):
        """Whether ``block`` is at most ``staleness`` clocks ahead of the slowest block."""
        return bool(self.clocks[block] - self.clocks.min() <= self.staleness)

    def pull(self, columns):
        """The table rows of ``columns``, the dense arrays and the step count."""
        return (self.input_table[columns], self.dense_params.copy(), self.dense_state.copy(),
                self.n_steps)

    def push(self, block, epoch, columns, change):
        """Apply a block's ``BlockChange`` and advance its clock."""
        rows = columns[change.changed_rows]
        h0 = self.h0
        self.input_table[rows, :h0] += self.server_learning_rate * change.row_change[:, :h0]
        self.input_table[rows, h0:-1] += change.row_change[:, h0:]
        self.dense_params += self.server_learning_rate * change.dense_change
        self.dense_state += change.state_change
        self.n_steps += change.n_steps
        # The block's rows took its share of the penalty (the last column is
        # each row's step stamp, see ``optimizers.regularization``).
        self.input_table.view(np.int32)[columns, -1] = self.n_steps
        loss, weight = self.loss.get(epoch, (0.0, 0.0))
        self.loss[epoch] = (loss + change.loss_sum, weight + change.weight_sum)
        self.clocks[block] += 1

    def result(self):
        """Parameters, step count and per-epoch (loss sum, weight sum)."""
        return self.input_table, self.dense_params, self.dense_state, self.n_steps, self.loss


def _run_block(block, columns, server, index, estimator, layout, config, rounds_per_epoch,
               n_clocks, seed_root):
    """One block's whole training (a long task): wait, pull, train, push, per clock."""
    for clock in range(n_clocks):
        while not server.may_advance(index).result():
            time.sleep(POLL_SECONDS)
        rows, dense_params, dense_state, step = server.pull(columns).result()
        epoch, part = divmod(clock, rounds_per_epoch)
        change = train_block_round(
            block, rows, dense_params, dense_state,
            (estimator, layout, config, rounds_per_epoch, part), step,
            (seed_root + [epoch, index], seed_root + [clock + 1, index]))
        server.push(index, epoch, columns, change).result()
    return n_clocks


def fit_ssp(estimator, X, y, *, sample_weight=None, qid=None, classes=None, client=None,
            staleness=1, rounds_per_epoch=1, server_learning_rate=1.0):
    """Experimental: train with bounded staleness through a parameter-server Actor.

    Blocks push their changes to a :class:`ParameterServer` actor as soon as
    they finish a clock and go on without waiting for the others, unless they
    are more than ``staleness`` clocks ahead of the slowest block.  Changes
    are summed as they arrive (times ``server_learning_rate``); optimizer
    state increments are summed.  Runs ``max_iter`` epochs: the blocks do
    not stop together, so ``tol`` is not applied.  Not fault tolerant and not
    reproducible: see the module's documentation.

    Parameters
    ----------
    estimator, X, y, sample_weight, qid, classes, client
        As for :func:`skvectorflow.dask.fit`.  There must be no more blocks
        than worker threads in the cluster.
    staleness : int, default=1
        Clocks a block may run ahead of the slowest.
    rounds_per_epoch : int or 'auto', default=1
        Clocks per epoch; ``'auto'`` is twice the number of blocks, as in
        :func:`skvectorflow.dask.fit`.
    server_learning_rate : float, default=1.0

    Returns
    -------
    estimator : the fitted estimator
        ``loss_curve_`` holds the mean training loss of each epoch.
    """
    check_options(estimator, rounds_per_epoch, "sum", server_learning_rate, "sum", 0)
    if not isinstance(staleness, Integral) or staleness < 0:
        raise ValueError(f"staleness must be a non-negative int, got {staleness!r}.")
    client = client or default_client()
    previous_state = dict(estimator.__dict__)
    try:
        start = start_training(estimator, X, y, sample_weight, qid, classes, client)
        n_threads = sum(client.nthreads().values())
        if len(start.blocks) > n_threads:
            raise ValueError(
                f"fit_ssp runs one task per block for the whole training: {len(start.blocks)} "
                f"blocks need that many worker threads, the cluster has {n_threads}.")
        state = start.state
        h0 = network.table_width(state.layout)
        server = client.submit(
            ParameterServer, state.input_table, state.dense_params, state.dense_state, h0,
            len(start.blocks), staleness, server_learning_rate, start.step, actor=True).result()
        rounds_per_epoch = resolve_rounds_per_epoch(rounds_per_epoch, len(start.blocks))
        n_clocks = estimator.max_iter * rounds_per_epoch
        seed_root = estimator._seed(2 + start.step)
        tasks = [
            client.submit(_run_block, block, columns, server, index, start.worker_estimator,
                          state.layout,
                          start.config, rounds_per_epoch, n_clocks, seed_root,
                          key=f"svf-ssp-{start.token}-{index}")
            for index, (block, columns) in enumerate(zip(start.blocks, start.columns,
                                                         strict=True))]
        client.gather(tasks)
        input_table, dense_params, dense_state, n_steps, losses = server.result().result()
        client.cancel(start.blocks)
        state.input_table[...] = input_table
        state.dense_params[...] = dense_params
        state.dense_state[...] = dense_state
        hogwild.bring_rows_current(state.input_table, h0, n_steps, start.config,
                                   effective_n_threads(estimator.n_jobs))
        if not state.is_finite():
            raise ValueError("Training diverged: the parameters are no longer finite. Lower "
                             "server_learning_rate or learning_rate_init, or scale the input.")
        epoch_losses = [loss / max(weight, np.finfo(np.float64).tiny)
                        for _, (loss, weight) in sorted(losses.items())]
        loss_curve = start.loss_curve + epoch_losses
        estimator.n_features_in_ = start.n_features
        estimator._publish_network(
            state, n_steps,
            (estimator.n_iter_ if start.continuing else 0) + estimator.max_iter, loss_curve,
            min(loss_curve))
        return estimator
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(previous_state)
        raise
