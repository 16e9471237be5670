"""Spend anomaly detectors: pure Python over buckets of a series (no Faust, no Kafka)."""
