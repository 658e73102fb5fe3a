"""Benchmarks: each ``bench_*.py`` measures a baseline and our code in one run and prints ratios."""
