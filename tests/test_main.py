"""Tests of the command line, ``python -m skvectorflow``."""

import re
import subprocess
import sys

import pytest

from skvectorflow.__main__ import main

# A small problem: the whole demo runs in a second or two once the kernels are
# compiled (Numba's on-disk cache serves later processes).
# One thread: Hogwild with two would make the scores below vary from run to run.
SMALL_DEMO = ["demo", "--n-samples", "3000", "--n-features", "4096", "--epochs", "1", "--n-jobs", "1"]

MODEL_NAMES = ("linear (AdaGrad)", "MLP(16) (AdaGrad)")


def _table_rows(output):
    """The results table's rows, as {model name: [ROC AUC, log-loss, accuracy, rows/s, fit s]}."""
    rows = {}
    for line in output.splitlines():
        for name in MODEL_NAMES:
            if line.startswith(name + "  "):
                rows[name] = line[len(name):].split()
    return rows


def _check_demo_output(output):
    assert "compiling kernels (first run only; cached afterwards)..." in output
    assert re.search(r"kernels ready in \d+\.\d+ s", output)
    assert "3,000 rows x 4,096 features, 90,000 non-zeros" in output
    assert re.search(r"threads: \d+", output)
    # verbose=1: one progress line per epoch and model.
    assert len(re.findall(r"^Epoch 1: loss", output, flags=re.MULTILINE)) == 2
    assert "ROC AUC" in output
    rows = _table_rows(output)
    assert set(rows) == set(MODEL_NAMES)
    for name, cells in rows.items():
        assert len(cells) == 5, (name, cells)
        auc, loss, accuracy = (float(cell) for cell in cells[:3])
        # Held-out scores on 600 rows of a model that learned something (one
        # epoch on 2,400 rows gave AUCs of 0.63-0.79 over seeds 0-4).
        assert 0.55 < auc <= 1.0, (name, auc)
        assert 0.0 < loss < 0.75, (name, loss)
        assert 0.0 <= accuracy <= 1.0, (name, accuracy)
        assert float(cells[3].replace(",", "")) > 0
        assert float(cells[4]) >= 0  # seconds, printed to 0.01: tiny fits show 0.00


def test_demo_as_module_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "skvectorflow", *SMALL_DEMO],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    _check_demo_output(result.stdout)


def test_demo_in_process(capsys):
    assert main(SMALL_DEMO + ["--random-state", "3"]) == 0
    captured = capsys.readouterr()
    _check_demo_output(captured.out)
    assert "threads: 1 (n_jobs=1" in captured.out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
        (["--epochs", "abc"], "argument --epochs: expected an integer, got 'abc'"),
        (["--n-samples", "-5"], "argument --n-samples: must be at least"),
        (["--n-jobs", "0"], "argument --n-jobs: must not be 0"),
        (["--n-features", "10", "--nnz-per-row", "20"], "--nnz-per-row: must be at most"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_flag_is_a_one_line_error(flags, message, capsys):
    assert main(["demo", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("skvectorflow")
    assert "error:" in lines[0]
    assert message in lines[0]


def test_bad_flag_subprocess_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "skvectorflow", "demo", "--epochs", "abc"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    expected = (
        "skvectorflow demo: error: argument --epochs: expected an integer, got 'abc' "
        "(see --help)"
    )
    assert result.stderr.strip().splitlines() == [expected]


@pytest.mark.parametrize("argv", [[], ["no-such-command"]])
def test_missing_or_unknown_command(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "error:" in err


def test_help_exits_zero(capsys):
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--n-samples", "--n-features", "--nnz-per-row", "--epochs", "--n-jobs",
                 "--random-state"):
        assert flag in out
