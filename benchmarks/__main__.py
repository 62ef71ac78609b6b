"""``python -m benchmarks run --suite quick|full``: skvectorflow against every peer, one run.

See :mod:`benchmarks.harness` for what is measured.
"""

import sys

from benchmarks.harness import main

if __name__ == "__main__":
    sys.exit(main())
