"""``spendwatch config check|show``: validate a config file and print it with secrets masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from streams.config_load import LoadedConfig

config_app = typer.Typer(help="Check or show a spendwatch.yaml config file.", no_args_is_help=True)

ConfigPath = Annotated[Path, typer.Argument(help="The config file (spendwatch.yaml).")]


def _load_or_exit(file: Path) -> LoadedConfig:
    """The loaded file, or every problem on stderr and exit status 1."""
    from streams.config_load import ConfigError, load_config

    try:
        return load_config(file)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@config_app.command("check")
def check(
    file: ConfigPath,
    resolve: Annotated[
        bool,
        typer.Option(
            "--resolve",
            help="Also check that every ${ENV} reference is set and every secret file readable.",
        ),
    ] = False,
) -> None:
    """Validate FILE: exit 0 with a one-line summary, or 1 with every problem and its path."""
    import os

    from streams.config_load import unresolved_references

    loaded = _load_or_exit(file)
    if resolve:
        data = loaded.config.model_dump(mode="json")
        problems = list(unresolved_references(data, os.environ))
        if problems:
            typer.echo(f"{file}: {len(problems)} unresolved reference(s)", err=True)
            for problem in problems:
                typer.echo(f"  {problem}", err=True)
            raise typer.Exit(1)
    typer.echo(f"{file}: valid (version {loaded.version}): {loaded.config.summary()}")


@config_app.command("show")
def show(file: ConfigPath) -> None:
    """Print FILE as JSON with every default filled in and secrets masked."""
    loaded = _load_or_exit(file)
    typer.echo(json.dumps({"version": loaded.version, "config": loaded.masked()}, indent=2))
