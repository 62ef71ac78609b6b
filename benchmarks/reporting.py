"""How every benchmark reports a run: its context, its table, its files.

Each benchmark keeps its own columns and cells; this module lays them out
(aligned text for the terminal, Markdown for the docs), records the machine
and the versions the figures came from, and writes the JSON and Markdown
results side by side.
"""

import datetime
import json
import os
import platform
import shlex

import numba
import numpy as np
import scipy
import sklearn

import skvectorflow

# Thread caps that change what a timing means.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cpu_model():
    """The CPU's model name, as /proc/cpuinfo or the platform module gives it."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def run_metadata(module, argv, extra_versions=None):
    """Command, date, machine and versions of a benchmark run.

    Parameters
    ----------
    module : str
        The benchmark's module, e.g. ``"benchmarks.engine_speed"``.
    argv : list of str
        Its command-line arguments.
    extra_versions : dict, default=None
        Versions of the peers measured, by name.

    Returns
    -------
    meta : dict
    """
    versions = {
        "python": platform.python_version(),
        "skvectorflow": skvectorflow.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
        **(extra_versions or {}),
    }
    return {
        "command": f"python -m {module}" + (" " + shlex.join(argv) if argv else ""),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "environment": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
    }


def describe_machine(meta):
    """One line: CPU, cores and versions."""
    return (f"{meta['cpu_model']}, {meta['cpu_count']} cores; "
            + ", ".join(f"{name} {version}" for name, version in meta["versions"].items()))


def table_cells(columns, row):
    """One table row's cells: each ``(title, key, format)`` column's value, or ``-`` if absent."""
    return [("-" if row.get(key) is None else fmt.format(row[key])) for _, key, fmt in columns]


def text_table(header, rows, n_left):
    """An aligned text table; the first ``n_left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join([c.ljust(w) for c, w in zip(cells[:n_left], widths[:n_left], strict=True)]
                         + [c.rjust(w) for c, w in zip(cells[n_left:], widths[n_left:], strict=True)])

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown_table(header, rows, n_left):
    """A Markdown table, as a list of lines, aligned as ``text_table``."""
    align = [":--"] * n_left + ["--:"] * (len(header) - n_left)
    return ["| " + " | ".join(cells) + " |" for cells in [header, align, *rows]]


def markdown_context(title, meta):
    """The first lines of a Markdown report: title, command, date, CPU, versions."""
    wall = f"; wall time {meta['wall_s']:.0f} s" if "wall_s" in meta else ""
    return [
        f"# {title}",
        "",
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}{wall}",
        f"- CPU: {meta['cpu_model']}, {meta['cpu_count']} cores",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    ]


def write_report(report, output, markdown):
    """Write ``report`` as JSON to ``output`` and ``markdown`` beside it (``.md``); say where."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    markdown_path = output.with_suffix(".md")
    markdown_path.write_text(markdown)
    print(f"\nwrote {output} and {markdown_path}")
