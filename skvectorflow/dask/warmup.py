"""Compile (or load from cache) skvectorflow's kernels on every worker, once."""

from distributed import default_client


def _load_kernels(only):
    import skvectorflow  # noqa: F401 (imports every estimator, so every kernel is known)
    from skvectorflow._engine.compilation import load_all_kernels

    return load_all_kernels(only=only)


def warmup(client=None, only=None):
    """Compile or load the Numba kernels on every worker of ``client``'s cluster.

    The first fit in a fresh process loads the kernels from Numba's on-disk
    cache (about a second) or compiles them (seconds per kernel) when the
    cache is empty or not shared; warming up does it once per worker process,
    before a sweep or a training, instead of inside the first tasks.  Workers
    that join later (or restart) warm up on their first fit.

    Parameters
    ----------
    client : distributed.Client, default=None
        The default client when None.
    only : sequence of str, default=None
        Warm up only the kernels whose name contains one of these strings
        (the names ``skvectorflow compile`` prints), e.g.
        ``["sum, adagrad, binary_log_loss", "predict_rows[sum]"]`` for a
        linear or MLP binary classifier trained with AdaGrad.  None (the
        default) warms up every kernel, which takes many minutes to compile.
        A string that is in no kernel's name raises ``ValueError``.

    Returns
    -------
    seconds : dict
        Seconds each worker spent, by worker address.

    Examples
    --------
    >>> from skvectorflow.dask import warmup  # doctest: +SKIP
    >>> warmup(client)  # doctest: +SKIP
    {'tcp://127.0.0.1:40137': 0.9, 'tcp://127.0.0.1:35211': 0.9}
    """
    client = client or default_client()
    return client.run(_load_kernels, None if only is None else list(only))
