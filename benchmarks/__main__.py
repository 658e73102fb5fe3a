"""`python -m benchmarks [--small] [NAME ...]`: run every benchmark module (or the named ones).

Each module ``benchmarks/bench_*.py`` exposes ``main(argv: list[str]) -> int``, runs in a process of its
own (so that each may configure Django with its own throw-away database) and accepts ``--small``
(the size CI runs, with loose floors). One line per measurement:
``name: ratio=… (ours … s, baseline … s, n=…)``.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time

import benchmarks


def main(argv: list[str]) -> int:
    small = "--small" in argv
    wanted = [a for a in argv if not a.startswith("-")]
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    failed = []
    for name in names:
        if wanted and name not in wanted and name.removeprefix("bench_") not in wanted:
            continue
        started = time.perf_counter()
        print(f"## {name}{' (small)' if small else ''}", flush=True)
        # Each benchmark in its own process: each configures Django (and its database) on its own.
        code = subprocess.call(
            [
                sys.executable,
                "-c",
                f"import sys, benchmarks.{name} as m; sys.exit(m.main(sys.argv[1:]))",
                *(["--small"] if small else []),
            ]
        )
        print(f"## {name} finished in {time.perf_counter() - started:.1f} s, exit {code}", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"benchmarks below their floors: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
