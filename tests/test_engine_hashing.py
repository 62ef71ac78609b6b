"""The compiled FNV-1a kernel against FNV-1a written in plain Python."""

import numpy as np

from skvectorflow._engine.hashing import fnv1a_byte_strings
from skvectorflow.io.hashing import column_seed


def test_kernel_continues_the_hash_of_a_prefix_as_plain_fnv1a_does():
    # column_seed is plain-Python FNV-1a, pinned to the published values in
    # test_io_parquet; hashing "site" then a value must equal hashing "site" + value.
    rng = np.random.default_rng(0)
    values = ["", "a", "a.com", "é", *("".join(rng.choice(list("abcxyz09"), size=n)) for n in
                                          rng.integers(1, 40, size=20))]
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.cumsum([0] + [len(b) for b in encoded]).astype(np.int64)
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    out = np.empty(len(values), dtype=np.uint64)
    fnv1a_byte_strings(offsets, data, np.uint64(column_seed("site")), out)
    assert out.tolist() == [column_seed("site" + v) for v in values]
