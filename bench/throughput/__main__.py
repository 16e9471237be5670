"""``python -m bench.throughput [OPTIONS]`` is ``spendwatch bench throughput [OPTIONS]``."""

import typer

from streams.cli_bench import bench_throughput

if __name__ == "__main__":
    typer.run(bench_throughput)
