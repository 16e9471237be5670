"""End-to-end detection latency (``spendwatch bench latency``); see ``bench.latency.run``."""

from bench.latency.run import LatencyConfig, run_latency_benchmark

__all__ = ["LatencyConfig", "run_latency_benchmark"]
