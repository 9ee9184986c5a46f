"""Benchmark: bad input, counted. Every damaged copy the malformed corpus (tests/malformed.py) makes
from the shared datasets goes through the public decode entry point, as a landed file would.

    python bench/robustness.py [--datasets DIR] [--workdir DIR]

Printed, by damage and in total: inputs tried; clear errors (a DecodeError naming the file, or
rejects with their line and reason); crashes (any other exception); good rows lost (rows the
damage did not touch, by the corpus's independent count, that the decoder did not deliver); and
damage kept as data (decoded without complaint: a mixed encoding is kept by design, a flipped byte
inside a value cannot be seen). Every problem found is listed after the table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from resources.tools import Tools  # noqa: E402
from tests.conftest import DATASETS  # noqa: E402
from tests.malformed import Result, corpus, run  # noqa: E402

COLUMNS = ("inputs", "clear errors", "crashes", "good rows lost", "kept as data")


def _row(results: list[Result]) -> tuple[int, ...]:
    return (len(results), sum(r.clear for r in results), sum(r.crash is not None for r in results),
            sum(r.lost for r in results), sum(not r.clear and r.crash is None for r in results))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", type=Path, default=DATASETS)
    p.add_argument("--workdir", type=Path, help="where the damaged copies are written (default: a temporary folder)")
    args = p.parse_args()
    if not args.datasets.is_dir():
        print(f"no datasets at {args.datasets}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="spot-malformed-", dir=args.workdir) as work:
        started = time.perf_counter()
        cases = corpus(args.datasets, Path(work))
        built = time.perf_counter() - started
        results = [run(case, Tools()) for case in cases]
        seconds = time.perf_counter() - started - built
    by_damage = defaultdict(list)
    for result in results:
        by_damage[result.case.damage].append(result)
    width = max(map(len, by_damage)) + 2
    print(f"{'damage':<{width}}" + "".join(f"{c:>16}" for c in COLUMNS))
    for damage, group in sorted(by_damage.items()):
        print(f"{damage:<{width}}" + "".join(f"{v:>16}" for v in _row(group)))
    print(f"{'total':<{width}}" + "".join(f"{v:>16}" for v in _row(results)))
    sources = len({r.case.name.rsplit(":", 1)[0] for r in results})
    print(f"\n{len(results)} inputs from {sources} dataset files; corpus built in {built:.1f} s, "
          f"decoded in {seconds:.1f} s")
    problems = [problem for result in results for problem in result.problems()]
    for problem in problems:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
