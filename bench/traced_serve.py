"""`countertop serve` with tracemalloc on, for finding what a long run's memory holds on to.

Each SIGUSR1 writes a snapshot of the allocations still alive to
`$SOAK_TRACEMALLOC_DIR/<pid>-<n>.snap` (written aside, then renamed into place, so a file that
exists is whole). `bench/soak.py --tracemalloc DIR` starts the backends this way and compares the
snapshot taken at the end of the warm-up with the one taken at the end.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


def main() -> None:
    tracemalloc.start(int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "8")))
    folder = Path(os.environ["SOAK_TRACEMALLOC_DIR"])
    taken = 0

    def snapshot(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        taken += 1
        final = folder / f"{os.getpid()}-{taken}.snap"
        aside = final.with_suffix(".part")
        tracemalloc.take_snapshot().dump(str(aside))
        os.replace(aside, final)

    signal.signal(signal.SIGUSR1, snapshot)
    from countertop.cli import app

    sys.argv = ["countertop", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
