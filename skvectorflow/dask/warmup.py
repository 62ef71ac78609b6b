"""Compile (or load from cache) skvectorflow's kernels on every worker, once."""

from distributed import default_client


def _load_kernels():
    import skvectorflow  # noqa: F401 (imports every estimator, so every kernel is known)
    from skvectorflow._engine.compilation import load_all_kernels

    return load_all_kernels()


def warmup(client=None):
    """Compile or load every Numba kernel on every worker of ``client``'s cluster.

    The first fit in a fresh process loads the kernels from Numba's on-disk
    cache (about a second) or compiles them (tens of seconds) when the cache
    is empty or not shared; warming up does it once per worker process,
    before a sweep or a training, instead of inside the first tasks.  Workers
    that join later (or restart) warm up on their first fit.

    Parameters
    ----------
    client : distributed.Client, default=None
        The default client when None.

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
    return client.run(_load_kernels)
