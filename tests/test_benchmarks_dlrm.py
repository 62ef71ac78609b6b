"""``benchmarks.dlrm_peers`` rejects bad thread counts and writes one row per model and count.

No timing is asserted (timings belong to ``python -m benchmarks.dlrm_peers``).
"""

import json
import sys

import pytest

from benchmarks import dlrm_peers


@pytest.mark.parametrize("threads, message", [
    ("0", "thread counts must be >= 1, got '0'"),
    ("two", "expected comma-separated integers such as 1,2,4, got 'two'"),
])
def test_bad_threads_option_is_a_usage_error(threads, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        dlrm_peers.main(["--threads", threads])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


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
