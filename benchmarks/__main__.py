"""``python -m benchmarks [names...]``: run every bench_*.py module and print one table of ratios."""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys

import benchmarks
from benchmarks.common import BenchRow


def main(argv: list[str]) -> int:
    mods = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if argv:
        mods = [m for m in mods if any(a in m for a in argv)]
    rows: list[BenchRow] = []
    for name in mods:
        module = importlib.import_module(f"benchmarks.{name}")
        rows.extend(module.run())
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    header = f"{'benchmark':48} {'ours (s)':>10} {'peer':>28} {'peer (s)':>10} {'ratio':>8}  goal"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.name:48} {r.ours_s:10.3f} {r.peer:>28} {r.peer_s:10.3f} {r.ratio:7.1f}x  {r.goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
