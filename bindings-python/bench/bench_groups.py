"""The Python side of scripts/bench-python: `import protector` time, and `Protector.groups()`
timed from Python and from Rust (bench_list_groups) over the same state directory.

Run by scripts/bench-python, which builds both sides, serves the simulator, registers the
sites and seeds the groups. Prints a table; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

IMPORT_TARGET_MS = 100.0
RATIO_TARGET = 1.5


def fresh_interpreter_ms(code: str) -> float:
    """Wall time of a fresh interpreter running `code`, in milliseconds."""
    started = time.perf_counter_ns()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter_ns() - started) / 1e6


def importtime_ms() -> float:
    """`-X importtime`'s cumulative figure for `protector`, in milliseconds."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import protector"],
                         check=True, capture_output=True, text=True).stderr
    for line in out.splitlines():
        # "import time: self [us] | cumulative | imported package"
        fields = [f.strip() for f in line.removeprefix("import time:").split("|")]
        if len(fields) == 3 and fields[2] == "protector":
            return int(fields[1]) / 1000
    raise AssertionError(f"-X importtime named no top-level protector:\n{out}")


def import_time(runs: int) -> dict[str, float]:
    fresh_interpreter_ms("import protector")  # writes the bytecode caches, as an install does
    empty, full = [], []
    for _ in range(runs):  # interleaved: a busier moment of the machine hits both alike
        empty.append(fresh_interpreter_ms("pass"))
        full.append(fresh_interpreter_ms("import protector"))
    return {
        "empty_ms": statistics.median(empty),
        "import_ms": statistics.median(full) - statistics.median(empty),
        "importtime_ms": statistics.median(importtime_ms() for _ in range(runs)),
    }


class PythonSide:
    """The engine's calls timed in this interpreter, one engine for every round."""

    def __init__(self, site: str, state_dir: str) -> None:
        import protector

        self.site = site
        self.engine = protector.Protector(site, state_dir)
        self.items = 0

    def call(self, call: str) -> Any:
        return self.engine.groups() if call == "groups" else [self.engine.site(self.site)]

    def time(self, call: str, calls: int, warmup: int) -> list[int]:
        for _ in range(warmup):
            self.items = len(self.call(call))
        samples = []
        for _ in range(calls):
            started = time.perf_counter_ns()
            answer = self.call(call)
            samples.append(time.perf_counter_ns() - started)
            self.items = len(answer)
            del answer  # freed outside the timing, as the Rust side drops its result
        return samples


def rust_side(binary: str, site: str, state_dir: str, call: str, calls: int,
              warmup: int) -> tuple[int, list[int]]:
    """The call timed by bench_list_groups: how many records it got, its samples."""
    out = subprocess.run(
        [binary, "time", "--state-dir", state_dir, "--site", site, "--call", call,
         "--calls", str(calls), "--warmup", str(warmup)],
        check=True, capture_output=True, text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return int(result["items"]), [int(s) for s in result["samples_ns"]]


def compare(python: PythonSide, args: argparse.Namespace, call: str) -> tuple[int, float, float]:
    """Rust and Python medians of `call`, in ms, the sides taking turns in rounds (a busier
    moment of the machine hits both); with the number of records listed."""
    rust_samples: list[int] = []
    python_samples: list[int] = []
    rust_items = 0
    per_round = max(1, args.calls // args.rounds)
    for _ in range(args.rounds):
        rust_items, samples = rust_side(args.rust_bin, args.site, args.state_dir, call,
                                        per_round, args.warmup)
        rust_samples += samples
        python_samples += python.time(call, per_round, args.warmup)
    if rust_items != python.items:
        raise SystemExit(f"bench: {call}() gave Rust {rust_items} records, "
                         f"Python {python.items}")
    return (python.items, statistics.median(rust_samples) / 1e6,
            statistics.median(python_samples) / 1e6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rust-bin", required=True, help="the bench_list_groups executable")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per side")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternations of the two sides, calls/rounds calls each")
    parser.add_argument("--warmup", type=int, default=20,
                        help="untimed calls before each round, per side")
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--profile", default="release", help="the build profile, for the output")
    args = parser.parse_args()

    imports = import_time(args.import_runs)
    python = PythonSide(args.site, args.state_dir)
    groups, rust_ms, python_ms = compare(python, args, "groups")
    _, rust_site_ms, python_site_ms = compare(python, args, "site")
    ratio = python_ms / rust_ms
    rows = [
        ("import protector", "-", f"{imports['import_ms']:.1f} ms", "-",
         f"< {IMPORT_TARGET_MS:.0f} ms", imports["import_ms"] < IMPORT_TARGET_MS),
        (f"groups() of {groups}", f"{rust_ms:.3f} ms", f"{python_ms:.3f} ms",
         f"{ratio:.2f}x", f"<= {RATIO_TARGET}x", ratio <= RATIO_TARGET),
        ("site() (one record)", f"{rust_site_ms:.3f} ms", f"{python_site_ms:.3f} ms",
         f"{python_site_ms / rust_site_ms:.2f}x", "-", None),
    ]
    header = ("scenario", "Rust median", "Python median", "ratio", "target", "met")
    verdict = {True: "met", False: "NOT MET", None: "-"}
    table = [header] + [(*row[:5], verdict[row[5]]) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"profile {args.profile}")
    print(f"import: median wall time of {args.import_runs} fresh interpreters running "
          f"`import protector` minus that of `pass` (itself {imports['empty_ms']:.1f} ms); "
          f"-X importtime's cumulative figure for protector: {imports['importtime_ms']:.1f} ms")
    print(f"calls: median of {max(1, args.calls // args.rounds) * args.rounds} per side, in "
          f"{args.rounds} rounds taking turns, each after {args.warmup} untimed; one engine per "
          f"side over the same state directory; site() shows the fixed cost of a call")
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
