"""Benchmarks (make bench-*): results go to reports/bench/*.json, never timed assertions."""
