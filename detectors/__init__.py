"""Spend anomaly detectors: pure Python over buckets of a series (no Faust, no Kafka).

``suite.DetectorSuite`` is the one entry point (see its docstring for the call sequence);
``config`` holds the ``detectors`` section of the config file. One detector family per
module: ``spike`` (spend spikes and creep, with ``profile``'s time-of-day expectation),
``unit_cost`` (cost and tokens per call), ``budget`` (burn rates and month-end forecast),
``static`` (configured limits) and ``policy`` (unpriced, unattributed, new keys,
unapproved models); ``base`` has the protocol and what findings share.
"""
