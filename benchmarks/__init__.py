"""Benchmark suite (kept out of the test suite): `python -m benchmarks`, results in RESULTS.md.

Modules: `reference_loops` (the TF tutorial's and keras.io's loops, re-implemented),
`timing` (seconds per evaluation, FLOPs, matmul throughput, bf16), `quality`
(time to quality, coarse-to-fine), `memory` (peak RSS per fresh process),
`served` (export vs library), `report` (RESULTS.md), `distances` (the vgg16-hed content and
style distances), `judge` (the independent style judge beside them; `python -m benchmarks.judge`).
"""
