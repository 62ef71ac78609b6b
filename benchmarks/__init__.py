"""Benchmarks of skvectorflow: speed and quality against peers, measured in one run.

Each module is a script run from the repository root, for example
``python -m benchmarks.engine_speed --n-samples 200000``; see
``benchmarks/README.md``.  Results go to ``benchmarks/results/`` (git-ignored).
"""
