"""Benchmarks, each runnable as ``python -m restore.benchmarks.<name>``: speed, video
speed, quality against classical denoisers, still shots, flat fields, noise-level estimation."""
