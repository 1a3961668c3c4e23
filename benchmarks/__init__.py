"""Convodesk benchmarks: `python -m benchmarks.run --quick|--full` (see BENCHMARKS.md)."""
