"""Run every benchmark in bench/ one after another: `python -m bench [NAME ...]`.

Benchmarks print their figures; bench/README.md holds the latest ones with the command
that produced them. Benchmarks are not tests and assert nothing about timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    rc = 0
    for script in scripts:
        print(f"\n=== bench/{script.name} ===", flush=True)
        rc |= subprocess.call([sys.executable, str(script)])
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
