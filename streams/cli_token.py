"""``spendwatch token``: producer tokens for the HTTP ingest."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

token_app = typer.Typer(help="Producer tokens for the HTTP ingest.", no_args_is_help=True)


@token_app.command("hash")
def token_hash(
    name: Annotated[str, typer.Argument(help="Producer name.")],
) -> None:
    """Read a token on stdin and print the 'NAME sha256:HEX' line for a tokens file."""
    from streams.tokens import token_digest

    token = sys.stdin.readline().strip()
    if not token:
        raise typer.BadParameter("no token on stdin")
    typer.echo(f"{name} sha256:{token_digest(token)}")
