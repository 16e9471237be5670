"""``python -m bench.detection [SEED ...]``."""

import sys

from bench.detection.run import print_table, run_detection_bench, summary_line
from bench.throughput.report import bench_console

console, say = bench_console()
seeds = [int(s) for s in sys.argv[1:]] or [1, 2, 3]
summary = run_detection_bench(seeds, say=say, show_false=True)
print_table(console, summary)
print(summary_line(summary))
