"""``python -m bench.memory [OPTIONS]`` is ``spendwatch bench memory [OPTIONS]``."""

import typer

from streams.cli_bench import bench_memory

if __name__ == "__main__":
    typer.run(bench_memory)
