"""Benchmarks (kept out of the test suite): `python -m benchmarks.eval_time`."""
