"""Bulk-synchronous (BSP) data-parallel training of one skvectorflow model on Dask.

Design
------
*Blocks stay put.*  Each block of rows (a chunk of a Dask array of CSR
matrices, or a CSR block already on a worker) is turned once, on the worker
that holds it, into a ``LocalBlock``: its rows grouped into work units (rows,
or a ranker's queries), its targets, and its column indices renumbered to
``0 .. k-1`` for the ``k`` distinct columns it touches, whose global ids
(``columns``) are the only part of it the driver ever sees.

*A round.*  The driver owns the model: the input table (one row per feature:
weights, then optimizer state), the dense parameters and their state.  For
each block it sends the table rows of that block's ``columns`` and the dense
arrays; the worker runs a share of an epoch (``1 / rounds_per_epoch`` of its
shuffled units; ``2 W`` rounds an epoch for ``W`` blocks by default) with the
unchanged engine, on a small local network whose feature ``i`` is global
feature ``columns[i]``, and sends back the change of the rows it updated and
of the dense arrays.  The driver then combines the changes: a weight's change
is summed (``combine="sum"``) or averaged (``"mean"``) over the blocks that
changed it and scaled by ``server_learning_rate``; optimizer state (AdaGrad
accumulators, Adam moments) is combined by ``state_combine``: ``"sum"`` adds
every block's increment, so an accumulator grows as it would in one process
that saw all the gradients, ``"mean"`` averages them as the weights are.

*Traffic.*  A round moves the rows each block touches, down and back, not the
whole table: on Zipf-skewed data a block of ``n`` rows touches far fewer than
``n_features`` columns.  ``RoundStats`` reports the bytes of both directions
next to what sending the whole parameter vector to and from every block
would cost.

*Failure.*  A round's task is a pure function of the block and the
parameters sent with it, and the driver combines a round only once every
block's change has arrived.  If a worker dies, Dask recomputes the lost
blocks from their graph on the surviving workers and runs their tasks again
from the same combined parameters; a task that kills workers repeatedly
(Dask's ``KilledWorker``) is submitted again, up to ``max_task_retries``
times.  Nothing is lost or counted twice, and with one engine thread per task
and an int ``random_state`` the model is bit for bit the one a run without the
failure gives.  Blocks must therefore be recomputable: a Dask array built
from a graph (``from_delayed``, ``map_blocks``, a reader), or futures with a
graph behind them.  A block created with ``client.scatter`` has no graph and
is lost with its worker.

The workers run the engine with ``n_jobs`` of the estimator resolved there
(Dask's worker processes set ``OMP_NUM_THREADS=1``, so one thread per task).
"""

import time
import uuid
import warnings
from collections import namedtuple
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from dask import delayed
from dask.array import Array
from dask.delayed import Delayed
from distributed import Future, KilledWorker, default_client, wait
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, check_array

from .._base import BaseSparseMLP, NetworkState, as_engine_csr, effective_n_threads, verified_csr
from .._engine import hogwild, network
from .._engine.csr import CheckedCSR
from ..losses import compile_loss_callback

LocalBlock = namedtuple(
    "LocalBlock",
    ["columns", "csr", "targets", "sample_weight", "unit_bounds", "block_bounds",
     "max_unit_rows", "max_unit_nnz"],
)
LocalBlock.__doc__ = """A block of rows as a worker keeps it for the whole training.

columns : int32 array (k,), the global ids of the block's distinct columns, sorted.
csr : (indptr int64, indices int32 in 0..k-1, data float32).
targets, sample_weight, unit_bounds : as the engine takes them (units grouped).
block_bounds : int64 array, unit ranges of the engine's shuffle blocks.
max_unit_rows, max_unit_nnz : sizes of the engine's per-thread scratch.
"""

BlockSummary = namedtuple("BlockSummary", ["columns", "n_rows", "nnz"])

BlockChange = namedtuple(
    "BlockChange",
    ["changed_rows", "row_change", "dense_change", "state_change", "loss_sum", "weight_sum",
     "n_steps", "seconds"],
)
BlockChange.__doc__ = """What one block's round task sends back.

changed_rows : int32 array, positions in the block's ``columns`` of the rows it changed.
row_change : float32 array (len(changed_rows), table width), their change.
dense_change, state_change : float32 arrays, change of the dense parameters and state.
loss_sum, weight_sum, n_steps, seconds : the engine's epoch result and time.
"""

RoundStats = namedtuple(
    "RoundStats",
    ["round", "epoch", "loss", "bytes_to_workers", "bytes_from_workers", "whole_vector_bytes",
     "seconds", "task_seconds", "retried_tasks"],
)
RoundStats.__doc__ = """Progress of one BSP round.

Attributes
----------
round, epoch : int
    1-based.
loss : float
    Mean training loss of the units trained this round (before combining).
bytes_to_workers, bytes_from_workers : int
    Parameter payload sent to and received from the blocks' tasks (rows,
    dense arrays, changed-row ids).
whole_vector_bytes : int
    What sending the whole parameter vector to every block and back would move.
seconds : float
    Wall time of the round on the driver, combining included.
task_seconds : float
    The longest engine time of one task in the round.
retried_tasks : int
    Tasks submitted again after a worker was lost.
"""

COMBINE = ("mean", "sum")


def _prepare_block(estimator, n_features, X, targets, sample_weight, qid):
    """Build the ``LocalBlock`` of one block of rows (runs on a worker)."""
    X = check_array(X, accept_sparse="csr", dtype=np.float32)
    if X.shape[1] != n_features:
        raise ValueError(f"A block of X has {X.shape[1]} columns; the first has {n_features}.")
    if not sp.issparse(X):
        X = sp.csr_matrix(X)
    X = verified_csr(X, name="a block of X")
    X, targets, sample_weight, unit_bounds = estimator._group_units(X, targets, sample_weight, qid)
    indptr, indices, data = as_engine_csr(X).arrays
    columns, local_indices = np.unique(indices, return_inverse=True)
    n_rows = X.shape[0]
    unit_rows = np.arange(n_rows + 1, dtype=np.int64) if unit_bounds.size == 0 else unit_bounds
    n_units = unit_rows.size - 1
    block_size = estimator.shuffle_block_size
    block_bounds = np.append(np.arange(0, n_units, block_size), n_units).astype(np.int64)
    return LocalBlock(
        columns=columns.astype(np.int32),
        csr=CheckedCSR(indptr, local_indices.astype(np.int32).reshape(-1), data, columns.size),
        targets=targets,
        sample_weight=sample_weight,
        unit_bounds=unit_bounds,
        block_bounds=block_bounds,
        max_unit_rows=int(np.max(np.diff(unit_rows))) if n_units else 1,
        max_unit_nnz=int(np.max(indptr[unit_rows[1:]] - indptr[unit_rows[:-1]])) if n_units else 1,
    )


def _summarize_block(block):
    return BlockSummary(block.columns, int(block.csr[0].size - 1), int(block.csr[2].size))


def train_block_round(block, rows, dense_params, dense_state, plan, first_step, seeds):
    """One block's share of a round (runs on a worker); returns its changes.

    ``rows`` are the input-table rows of ``block.columns``; nothing received
    is modified.  ``seeds`` (epoch seed, round seed) make the task a pure
    function of its arguments, so running it again gives the same result.
    """
    estimator, layout, config, rounds_per_epoch, part = plan
    if layout.column_role.size:
        # A field input layer (DLRM) knows each column's field or dense slot;
        # the block's columns are renumbered 0..k-1, so are their roles.
        layout = network.readonly_layout(layout._replace(
            column_role=np.ascontiguousarray(layout.column_role[block.columns])))
    callback = (compile_loss_callback(estimator.loss_callback)
                if estimator.loss_callback is not None else None)
    state = NetworkState(layout, np.array(rows, dtype=np.float32, order="C"),
                         np.array(dense_params, dtype=np.float32),
                         np.array(dense_state, dtype=np.float32))
    n_blocks = block.block_bounds.size - 1
    epoch_order = (np.random.default_rng(seeds[0]).permutation(n_blocks) if estimator.shuffle
                   else np.arange(n_blocks))
    order = np.array_split(epoch_order.astype(np.int64), rounds_per_epoch)[part]
    config = config._replace(seed=np.int64(np.random.default_rng(seeds[1]).integers(2**62)))
    n_threads = min(effective_n_threads(estimator.n_jobs), max(1, order.size))
    scratches = [
        hogwild.make_thread_scratch(layout, state.dense_params.size, block.targets.shape[1],
                                    block.max_unit_rows, block.max_unit_nnz, estimator.batch_size)
        for _ in range(n_threads)
    ]
    started = time.perf_counter()
    result = hogwild.run_epoch(
        block.csr, block.targets, block.sample_weight, block.unit_bounds, block.block_bounds, order,
        (state.input_table, state.dense_params, state.dense_state), layout, config, callback,
        scratches, first_step)
    seconds = time.perf_counter() - started
    estimator._check_epoch(result, state)
    # The last column is each row's step stamp (an int32 in float32 bits):
    # the driver sets it, so it is not a change to combine.
    row_change = state.input_table[:, :-1] - np.asarray(rows)[:, :-1]
    changed = np.flatnonzero(np.any(row_change != 0, axis=1)).astype(np.int32)
    return BlockChange(changed, row_change[changed], state.dense_params - dense_params,
                       state.dense_state - dense_state, result.loss_sum, result.weight_sum,
                       result.n_steps, seconds)


def _is_lost_worker(exc):
    """Whether a task failed because its worker (or its input's worker) went away."""
    return isinstance(exc, (KilledWorker, OSError)) or type(exc).__name__ in {
        "CancelledError", "FutureCancelledError", "CommClosedError"}


def _block_sources(X, client):
    """``(sources, n_rows, n_features)``: what a task can take as each block, its rows, X's width."""
    if isinstance(X, Array):
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-d Dask array, got {X.ndim} dimensions.")
        if len(X.chunks[1]) != 1:
            raise ValueError(
                f"X must be chunked by rows only, got {len(X.chunks[1])} column chunks; "
                f"use X.rechunk({{1: -1}}).")
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first.")
        return list(X.to_delayed()[:, 0]), [int(c) for c in X.chunks[0]], int(X.shape[1])
    if not isinstance(X, (list, tuple)) or not X:
        raise TypeError(
            "X must be a Dask array of CSR blocks or a non-empty list of CSR blocks, futures of "
            f"them or delayed ones, got {type(X).__name__}.")
    sources = []
    for i, block in enumerate(X):
        if isinstance(block, (Future, Delayed)):
            sources.append(block)
        elif sp.issparse(block) or isinstance(block, np.ndarray):
            sources.append(client.scatter(block, hash=False))
        else:
            raise TypeError(f"X[{i}] is a {type(block).__name__}, not a CSR block, future or delayed.")
    shapes = client.gather([client.submit(np.shape, s, pure=False) for s in sources])
    if any(len(shape) != 2 for shape in shapes):
        raise ValueError("Every block of X must be 2-d.")
    return sources, [int(s[0]) for s in shapes], int(shapes[0][1])


def _as_numpy(values):
    if values is None:
        return None
    if hasattr(values, "compute") and not isinstance(values, np.ndarray):
        values = values.compute()
    return np.asarray(values)


def _check_queries_within_blocks(qid, offsets):
    """Raise unless every query's rows lie in one block."""
    per_block = [np.unique(qid[offsets[b]:offsets[b + 1]]) for b in range(offsets.size - 1)]
    queries = np.concatenate(per_block)
    owners = np.repeat(np.arange(len(per_block)), [q.size for q in per_block])
    order = np.argsort(queries, kind="stable")
    queries, owners = queries[order], owners[order]
    shared = np.flatnonzero(queries[1:] == queries[:-1])
    if shared.size:
        i = shared[0]
        raise ValueError(
            f"Query {queries[i]} has rows in blocks {owners[i]} and {owners[i + 1]}; every query "
            f"must lie within one block of X (chunk X and qid along query boundaries).")


def resolve_rounds_per_epoch(rounds_per_epoch, n_blocks):
    """The rounds an epoch runs: ``rounds_per_epoch``, or twice the blocks for ``"auto"``.

    Why twice the blocks: summed changes arrive one round late, and the
    delay grows with the number of blocks whose updates pile up in a round;
    syncing ``2 W`` times an epoch kept the epochs to the one-process AUC
    flat (3) from 2 to 8 blocks, where one round an epoch overshot from 4
    blocks on (``benchmarks/dask_scaling.py``, ``docs/dask.md``).
    """
    return 2 * n_blocks if rounds_per_epoch == "auto" else int(rounds_per_epoch)


def check_options(estimator, rounds_per_epoch, combine, server_learning_rate, state_combine,
                  max_task_retries):
    """Raise for an estimator or an option the distributed trainers cannot take."""
    if not isinstance(estimator, BaseSparseMLP):
        raise TypeError(f"estimator must be a skvectorflow estimator, got {type(estimator).__name__}.")
    if rounds_per_epoch != "auto" and (not isinstance(rounds_per_epoch, Integral)
                                       or isinstance(rounds_per_epoch, bool)
                                       or rounds_per_epoch < 1):
        raise ValueError(
            f"rounds_per_epoch must be 'auto' or a positive int, got {rounds_per_epoch!r}.")
    if not isinstance(server_learning_rate, Real) or not server_learning_rate > 0:
        raise ValueError(f"server_learning_rate must be a positive number, got {server_learning_rate!r}.")
    if combine not in COMBINE:
        raise ValueError(f"combine must be one of {COMBINE}, got {combine!r}.")
    if state_combine not in COMBINE:
        raise ValueError(f"state_combine must be one of {COMBINE}, got {state_combine!r}.")
    if not isinstance(max_task_retries, Integral) or max_task_retries < 0:
        raise ValueError(f"max_task_retries must be a non-negative int, got {max_task_retries!r}.")
    if estimator.early_stopping != "auto" and estimator.early_stopping:
        raise ValueError(
            "early_stopping is not supported by skvectorflow.dask; hold out a set yourself and "
            "train with warm_start=True and max_iter=1, scoring the model between calls.")


def fit(estimator, X, y, *, sample_weight=None, qid=None, classes=None, client=None,
        rounds_per_epoch="auto", combine="sum", server_learning_rate=1.0, state_combine="sum",
        max_task_retries=3, callback=None):
    """Train a skvectorflow estimator on a Dask cluster by bulk-synchronous rounds.

    Every block of rows stays on its worker; each round a block receives only
    the parameter rows of the columns it touches, trains on its share of an
    epoch with the unchanged engine, and sends back the change, which the
    driver combines (see the module's documentation).  The result is an
    ordinary fitted estimator: pickle, predict and score it as usual.

    Parameters
    ----------
    estimator : skvectorflow estimator
        Trained in place, for ``estimator.max_iter`` epochs (fewer if the
        training loss settles within ``tol``); its ``random_state``,
        ``shuffle_block_size``, ``n_jobs`` (threads per task, resolved on the
        worker) and training parameters apply.  ``early_stopping`` is not
        supported.  With ``warm_start=True`` a fitted estimator continues.
    X : dask.array.Array or list
        A Dask array of scipy CSR blocks chunked by rows only, or a list of
        CSR blocks, futures of them or delayed ones.
    y : array-like or dask.array.Array of length n_samples
        Targets, gathered on the driver (one value per row, unlike X).
    sample_weight : array-like of length n_samples, default=None
    qid : array-like of length n_samples, default=None
        Query ids, for ``SparseMLPRanker``; every query must lie within one block.
    classes : array-like, default=None
        For classifiers: every class, when ``y`` does not show them all.
    client : distributed.Client, default=None
        The default client when None.
    rounds_per_epoch : int or 'auto', default='auto'
        Synchronisations per epoch: each round trains ``1 / rounds_per_epoch``
        of every block's units.  More rounds keep the workers' models closer
        and move fewer rows each, but every round pays a fixed cost
        (scheduling, serialisation, combining).  ``'auto'`` syncs twice per
        block and epoch (``2 * n_blocks``, counting the non-empty blocks of
        X), the rate at which summed changes matched one process from 2 to 8
        blocks in ``benchmarks/dask_scaling.py``; with large blocks and few
        workers, an int as low as 1 saves fixed cost (see ``docs/dask.md``).
    combine : {'sum', 'mean'}, default='sum'
        How the blocks' changes of a weight are combined: summed (as if each
        block had applied its updates to the others' model, a Hogwild whose
        updates arrive one round late), or averaged over the blocks that
        changed it (model averaging, which slows learning: with W blocks a
        weight every block touches moves about 1/W as far as in one
        process).  Summed changes overshoot with many blocks unless the
        blocks sync often enough, hence ``rounds_per_epoch='auto'``.
    server_learning_rate : float, default=1.0
        Multiplies the combined change of the weights before it is applied.
    state_combine : {'sum', 'mean'}, default='sum'
        How the changes of optimizer state are combined: summed (an AdaGrad
        accumulator then grows as in one process that saw every gradient) or
        averaged.
    max_task_retries : int, default=3
        Times a block's task is submitted again after Dask gave up on it
        (``KilledWorker``) or its inputs were lost with a worker.
    callback : callable, default=None
        Called as ``callback(stats)`` with a ``RoundStats`` after every round.

    Returns
    -------
    estimator : the fitted estimator
        Its ``loss_curve_`` has one entry per epoch, ``n_iter_`` counts
        epochs and ``distributed_rounds_`` holds every round's ``RoundStats``.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> import dask.array as da  # doctest: +SKIP
    >>> from skvectorflow import SparseMLPClassifier, dask as svf_dask  # doctest: +SKIP
    >>> from skvectorflow.datasets import make_sparse_classification  # doctest: +SKIP
    >>> X, y = make_sparse_classification(n_samples=40_000, random_state=0)  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> X_blocks = da.from_array(X, chunks=(20_000, -1), asarray=False)  # doctest: +SKIP
    >>> model = svf_dask.fit(SparseMLPClassifier(max_iter=3), X_blocks, y)  # doctest: +SKIP
    >>> model.predict(X[:5])  # doctest: +SKIP
    """
    check_options(estimator, rounds_per_epoch, combine, server_learning_rate, state_combine,
                   max_task_retries)
    client = client or default_client()
    previous_state = dict(estimator.__dict__)
    try:
        return _fit(estimator, X, y, sample_weight, qid, classes, client, rounds_per_epoch,
                    combine, server_learning_rate, state_combine, max_task_retries, callback)
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(previous_state)
        raise


TrainingStart = namedtuple(
    "TrainingStart", ["blocks", "columns", "state", "config", "step", "loss_curve", "continuing",
                      "n_features", "token", "worker_estimator"])


def start_training(estimator, X, y, sample_weight, qid, classes, client):
    """Validate, build every block's ``LocalBlock`` on its worker, and set up the parameters.

    Shared by the BSP trainer and the experimental SSP one.  Sets the target
    attributes (``classes_``, ``n_outputs_``) on ``estimator``; the caller
    restores it on failure.
    """
    estimator._validate_params()
    hidden_sizes = estimator._more_validate_params()
    continuing = hasattr(estimator, "_network") and estimator.warm_start
    sources, block_rows, n_features = _block_sources(X, client)
    if continuing and n_features != estimator.n_features_in_:
        raise ValueError(f"X has {n_features} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input.")
    y = _as_numpy(y)
    n_samples = int(sum(block_rows))
    if y is None or len(y) != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {None if y is None else len(y)}.")
    targets = estimator._encode_targets(y, first_call=not continuing, classes=classes)
    sample_weight = _check_sample_weight(_as_numpy(sample_weight), targets,
                                         dtype=np.float32, ensure_non_negative=True)
    offsets = np.concatenate([[0], np.cumsum(block_rows)]).astype(np.int64)
    qid = _as_numpy(qid)
    if qid is not None:
        if len(qid) != n_samples:
            raise ValueError(f"qid has {len(qid)} entries but X has {n_samples} samples.")
        _check_queries_within_blocks(qid, offsets)
    compiled_callback = (compile_loss_callback(estimator.loss_callback)
                         if estimator.loss_callback is not None else None)
    layout = estimator._network_layout(hidden_sizes, estimator.n_outputs_, n_features)
    layer_sizes = [int(size) for size in layout.layer_sizes]

    # What tasks receive: the parameters only, never a fitted model's arrays.
    worker_estimator = clone(estimator)
    # Build every LocalBlock where its rows are, once; keep them for all rounds.
    used = [b for b in range(len(sources)) if block_rows[b] > 0]
    token = uuid.uuid4().hex[:8]
    blocks = client.compute([
        delayed(_prepare_block, pure=False)(
            worker_estimator, n_features, sources[b], targets[offsets[b]:offsets[b + 1]],
            sample_weight[offsets[b]:offsets[b + 1]],
            None if qid is None else qid[offsets[b]:offsets[b + 1]],
            dask_key_name=f"svf-block-{token}-{b}")
        for b in used])
    summaries = client.gather([client.submit(_summarize_block, block, pure=False)
                               for block in blocks])
    columns = [summary.columns for summary in summaries]
    total_nnz = sum(summary.nnz for summary in summaries)

    if continuing:
        state = estimator._network.copy()
        if list(state.layout.layer_sizes) != layer_sizes:
            raise ValueError(
                f"warm_start needs the fitted layer sizes {list(state.layout.layer_sizes)}, but "
                f"hidden_layer_sizes and the targets now give {layer_sizes}.")
        step, loss_curve = estimator.t_, list(estimator.loss_curve_)
    else:
        state = estimator._new_network_state(layout, n_features,
                                             max(1.0, total_nnz / max(n_samples, 1)), targets,
                                             sample_weight, compiled_callback)
        step, loss_curve = 0, []
    config = estimator._train_config(compiled_callback, layer_sizes[-1], targets.shape[1])
    return TrainingStart(blocks, columns, state, config, step, loss_curve, continuing,
                         n_features, token, worker_estimator)


def _fit(estimator, X, y, sample_weight, qid, classes, client, rounds_per_epoch, combine,
         server_learning_rate, state_combine, max_task_retries, callback):
    start = start_training(estimator, X, y, sample_weight, qid, classes, client)
    blocks, columns, state, config = start.blocks, start.columns, start.state, start.config
    step, loss_curve, continuing, token = start.step, start.loss_curve, start.continuing, start.token
    rounds_per_epoch = resolve_rounds_per_epoch(rounds_per_epoch, len(blocks))
    h0 = network.table_width(state.layout)
    seed_root = estimator._seed(2 + step)
    whole_vector_bytes = 2 * len(blocks) * (state.input_table.nbytes + state.dense_params.nbytes
                                          + state.dense_state.nbytes)
    history = list(getattr(estimator, "distributed_rounds_", [])) if continuing else []
    best_loss = estimator.best_loss_ if continuing and estimator.best_loss_ is not None else np.inf
    no_improvement = 0
    converged = False
    epoch_offset = len(loss_curve)
    for epoch in range(estimator.max_iter):
        epoch_loss = epoch_weight = 0.0
        for part in range(rounds_per_epoch):
            started = time.perf_counter()
            round_number = len(history) + 1
            plan = (start.worker_estimator, state.layout, config, rounds_per_epoch, part)
            results, retried, sent = _run_round(client, blocks, columns, state, plan, step,
                                                (seed_root, epoch_offset + epoch, round_number),
                                                f"svf-round-{token}-{round_number}",
                                                max_task_retries)
            received = sum(r.changed_rows.nbytes + r.row_change.nbytes + r.dense_change.nbytes
                           + r.state_change.nbytes for r in results)
            step = _combine(state, columns, results, h0, server_learning_rate, combine,
                            state_combine, step)
            if not state.is_finite():
                raise ValueError(
                    "Training diverged: the combined parameters are no longer finite. Lower "
                    "server_learning_rate or learning_rate_init, or scale the input.")
            loss_sum = sum(r.loss_sum for r in results)
            weight_sum = sum(r.weight_sum for r in results)
            epoch_loss += loss_sum
            epoch_weight += weight_sum
            stats = RoundStats(round_number, epoch_offset + epoch + 1,
                               loss_sum / max(weight_sum, np.finfo(np.float64).tiny), int(sent),
                               int(received), int(whole_vector_bytes),
                               time.perf_counter() - started, max(r.seconds for r in results), retried)
            history.append(stats)
            if estimator.verbose:
                print(f"Round {stats.round} (epoch {stats.epoch}): loss {stats.loss:.6g}, "
                      f"{(sent + received) / 1e6:.3g} MB moved "
                      f"({(sent + received) / whole_vector_bytes:.1%} of whole-vector averaging), "
                      f"{stats.seconds:.2f} s (tasks {stats.task_seconds:.2f} s)"
                      + (f", {retried} tasks retried" if retried else ""), flush=True)
            if callback is not None:
                callback(stats)
        loss = epoch_loss / max(epoch_weight, np.finfo(np.float64).tiny)
        loss_curve.append(loss)
        if estimator.tol is not None:
            no_improvement = no_improvement + 1 if loss > best_loss - estimator.tol else 0
        best_loss = min(best_loss, loss)
        if estimator.tol is not None and no_improvement >= estimator.n_iter_no_change:
            converged = True
            break
    if not converged and estimator.tol is not None and estimator.max_iter > 1:
        warnings.warn(
            f"{type(estimator).__name__} reached max_iter={estimator.max_iter} epochs without the "
            f"training loss settling (tol={estimator.tol}); consider increasing max_iter.",
            ConvergenceWarning, stacklevel=3)
    client.cancel(blocks)
    hogwild.bring_rows_current(state.input_table, h0, step, config, effective_n_threads(estimator.n_jobs))
    epochs_run = len(loss_curve) - epoch_offset
    estimator.n_features_in_ = start.n_features
    estimator._publish_network(state, step, (estimator.n_iter_ if continuing else 0) + epochs_run,
                               loss_curve, best_loss)
    estimator.distributed_rounds_ = history
    return estimator


def _run_round(client, blocks, columns, state, plan, step, seeds, key_prefix, max_task_retries):
    """Run one round's task on every block; return the results, the retries and bytes sent."""
    seed_root, epoch, round_number = seeds

    def submit(i, attempt):
        return client.submit(
            train_block_round, blocks[i], state.input_table[columns[i]], state.dense_params,
            state.dense_state, plan, step, (seed_root + [epoch, i], seed_root + [round_number, i]),
            key=f"{key_prefix}-{i}-{attempt}")

    results, retried = _gather_round({i: submit(i, 0) for i in range(len(blocks))}, submit,
                                     max_task_retries)
    sent = sum(cols.size for cols in columns) * state.input_table.shape[1] * 4
    sent += len(blocks) * (state.dense_params.nbytes + state.dense_state.nbytes)
    return results, retried, sent


def _gather_round(futures, submit, max_task_retries):
    """Results of a round's tasks in block order, resubmitting those lost with a worker."""
    results = [None] * len(futures)
    attempts = dict.fromkeys(futures, 0)
    retried = 0
    pending = dict(futures)
    while pending:
        wait(list(pending.values()))
        for i, future in list(pending.items()):
            if future.status == "finished":
                results[i] = future.result()
                del pending[i]
                continue
            exc = future.exception() if future.status == "error" else None
            if exc is not None and not _is_lost_worker(exc):
                raise exc
            if attempts[i] >= max_task_retries:
                raise RuntimeError(
                    f"The task of block {i} failed {attempts[i] + 1} times with its worker lost; "
                    f"giving up (max_task_retries={max_task_retries}).") from exc
            attempts[i] += 1
            retried += 1
            pending[i] = submit(i, attempts[i])
    return results, retried


def _combine(state, columns, results, h0, server_learning_rate, combine, state_combine, step):
    """Apply a round's changes to the driver's parameters; return the new step count.

    A weight's change is the mean (``combine="mean"``) or the sum of the
    changes of the blocks that changed it (every block, for dense weights),
    times ``server_learning_rate``; optimizer state is combined by
    ``state_combine`` the same way, without the server step.
    """
    table = state.input_table
    n_changed = np.zeros(table.shape[0], dtype=np.float32)
    for cols, change in zip(columns, results, strict=True):
        n_changed[cols[change.changed_rows]] += 1.0
    n_blocks = len(results)
    for cols, change in zip(columns, results, strict=True):
        rows = cols[change.changed_rows]
        mean_share = (1.0 / n_changed[rows])[:, None]
        weight_share = mean_share if combine == "mean" else np.float32(1.0)
        table[rows, :h0] += (server_learning_rate * weight_share) * change.row_change[:, :h0]
        if change.row_change.shape[1] > h0:
            state_share = mean_share if state_combine == "mean" else np.float32(1.0)
            table[rows, h0:-1] += state_share * change.row_change[:, h0:]
        dense_share = 1.0 / n_blocks if combine == "mean" else 1.0
        state.dense_params += (server_learning_rate * dense_share) * change.dense_change
        state.dense_state += change.state_change / (n_blocks if state_combine == "mean" else 1.0)
    new_step = step + sum(r.n_steps for r in results)
    # A block's rows took its worker's share of the round's penalty; the
    # rows no block holds catch up on theirs when next touched, or at the
    # end of the fit (see ``optimizers.regularization``).
    stamps = table.view(np.int32)
    for cols in columns:
        stamps[cols, -1] = new_step
    return new_step
