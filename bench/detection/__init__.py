"""Detection quality on labelled synthetic traffic (``spendwatch bench detection``).

``scenario`` draws an organisation, its normal nightly batch and its incidents per seed;
``score`` matches the backtest's alerts to the incidents; ``run`` generates, replays
through ``streams.backtest`` and prints recall, precision, false alerts per day and time
to detect per incident kind and overall.
"""

from bench.detection.run import print_table, run_detection_bench, summary_line

__all__ = ["print_table", "run_detection_bench", "summary_line"]
