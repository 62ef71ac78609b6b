"""Kernels with one explicit signature, compiled (or loaded from cache) on first use.

An explicit signature gives a kernel exactly one specialisation: read-only and
writable arrays share it, a ``FunctionType`` argument accepts any user
callback without recompiling, and Numba's on-disk cache serves it to every new
process.  Numba compiles such a kernel when it is decorated; wrapping it here
defers that to the first call, so importing the package compiles nothing; ``load_all_kernels`` compiles
(or loads) every kernel made so far at once, ahead of the first fit, e.g. on
each worker of a cluster.

Kernels use NumPy's error model: a float division by zero gives ``inf`` or
``nan`` (which the epochs' finiteness checks report) rather than raising.
Python's model tests every divisor, and that branch keeps LLVM from
vectorising loops such as the optimizers' updates (measured 5 ns a parameter
against 0.4 ns).
"""

import threading
import time

import numba

# Every KernelOnFirstUse made, in creation order (see ``load_all_kernels``).
_KERNELS = []


class KernelOnFirstUse:
    """A ``nogil`` kernel compiled for one signature the first time it is called.

    Parameters
    ----------
    pyfunc : function
        The kernel's Python source.
    make_signature : callable
        Returns the Numba signature; called once, on first use.
    name : str, default=None
        The name progress reports give it; ``pyfunc.__name__`` when None.
    """

    def __init__(self, pyfunc, make_signature, name=None):
        self._pyfunc = pyfunc
        self._make_signature = make_signature
        self._dispatcher = None
        self._lock = threading.Lock()
        self.__doc__ = pyfunc.__doc__
        self.__name__ = pyfunc.__name__ if name is None else name
        _KERNELS.append(self)

    @property
    def dispatcher(self):
        """The compiled Numba dispatcher (compiles or loads it on first access)."""
        if self._dispatcher is None:
            with self._lock:
                if self._dispatcher is None:
                    self._dispatcher = numba.njit(
                        self._make_signature(), nogil=True, cache=True, error_model="numpy"
                    )(self._pyfunc)
        return self._dispatcher

    def __call__(self, *args):
        return self.dispatcher(*args)


def kernels_named(only=None):
    """The kernels made so far, in creation order, whose name contains one of ``only`` (all if None).

    Raises
    ------
    ValueError
        If a string of ``only`` is in no kernel's name.
    """
    if only is None:
        return list(_KERNELS)
    for text in only:
        if not any(text in kernel.__name__ for kernel in _KERNELS):
            raise ValueError(f"no kernel's name contains {text!r}; the names are those "
                             f"'skvectorflow compile' prints")
    return [kernel for kernel in _KERNELS if any(text in kernel.__name__ for text in only)]


def load_all_kernels(report=None, only=None):
    """Compile, or load from Numba's cache, every kernel of the imported engine modules.

    Parameters
    ----------
    report : callable, default=None
        Called as ``report(name, seconds)`` after each kernel, for progress.
    only : sequence of str, default=None
        Load only the kernels whose name contains one of these strings,
        e.g. ``["sum, adagrad, binary_log_loss"]`` for the epoch kernel of a
        linear or MLP binary classifier trained with AdaGrad.

    Returns
    -------
    seconds : float
        Time taken: about a second when every kernel is in the cache, minutes
        when they all compile.

    Raises
    ------
    ValueError
        If a string of ``only`` is in no kernel's name (before anything
        compiles).
    """
    kernels = kernels_named(only)
    started = time.perf_counter()
    for kernel in kernels:
        kernel_started = time.perf_counter()
        kernel.dispatcher  # noqa: B018 (the property compiles or loads it)
        if report is not None:
            report(kernel.__name__, time.perf_counter() - kernel_started)
    return time.perf_counter() - started
