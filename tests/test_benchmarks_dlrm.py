"""``benchmarks.dlrm_peers`` parses its thread counts and writes one row per model and count.

No timing is asserted (timings belong to ``python -m benchmarks.dlrm_peers``).
"""

import json
import sys

import pytest

from benchmarks import dlrm_peers


def test_thread_counts_keep_order_and_drop_repeats():
    assert dlrm_peers.thread_counts("1,all", 4) == [1, 4]
    assert dlrm_peers.thread_counts("2, 1,2", 4) == [2, 1]
    assert dlrm_peers.thread_counts("1,all", 1) == [1]


@pytest.mark.parametrize("text, message", [
    ("0", "at least 1"),
    ("two", "counts or 'all'"),
    (",", "names no thread count"),
])
def test_bad_thread_counts_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        dlrm_peers.thread_counts(text, 2)


def test_bad_threads_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        dlrm_peers.main(["--threads", "0"])
    assert exit_info.value.code == 2
    assert "--threads counts must be at least 1, got 0" in capsys.readouterr().err


def test_tiny_run_writes_a_row_per_thread_count(tmp_path, monkeypatch):
    # The peer is skipped whether or not torch is installed here.
    monkeypatch.setitem(sys.modules, "torch", None)
    output = tmp_path / "dlrm.json"
    dlrm_peers.main(["--n-samples", "3000", "--configs", "small", "--threads", "1,2", "--repeats", "1",
                     "--output", str(output)])
    report = json.loads(output.read_text())
    rows = report["rows"]
    assert [(row["config"], row["threads"], row["run"]) for row in rows] == [
        ("small", 1, "skvectorflow"), ("small", 2, "skvectorflow")]
    assert all(row["samples_per_s"] > 0 and 0.0 <= row["auc"] <= 1.0 for row in rows)
    assert all(row["paired_ratios"] is None for row in rows)
    markdown = output.with_suffix(".md").read_text()
    assert "| small | 2 | skvectorflow |" in markdown
