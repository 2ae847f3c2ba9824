"""Benchmarks: each prints medians or ratios and keeps them in bench/results/ (python -m bench.NAME)."""
