"""The FinOps views are plain Python over the ledger: importing them loads no Faust."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import streams.finops


def test_finops_modules_import_no_faust() -> None:
    names = [f"streams.finops.{m.name}" for m in pkgutil.iter_modules(streams.finops.__path__)]
    assert len(names) >= 10
    code = (
        "import sys\n" + "".join(f"import {n}\n" for n in names) + "print('faust' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
