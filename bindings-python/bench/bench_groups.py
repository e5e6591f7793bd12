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
    """`Protector.groups()` timed in this interpreter, one engine for every round."""

    def __init__(self, site: str, state_dir: str, warmup: int) -> None:
        import protector

        self.engine = protector.Protector(site, state_dir)
        self.groups = 0
        for _ in range(warmup):
            self.groups = len(self.engine.groups())

    def time(self, calls: int) -> list[int]:
        samples = []
        for _ in range(calls):
            started = time.perf_counter_ns()
            listed = self.engine.groups()
            samples.append(time.perf_counter_ns() - started)
            self.groups = len(listed)
            del listed  # freed outside the timing, as the Rust side drops its list
        return samples


def rust_side(binary: str, site: str, state_dir: str, calls: int,
              warmup: int) -> tuple[int, list[int]]:
    """`Protector::groups()` timed by bench_list_groups: the groups it saw, its samples."""
    out = subprocess.run(
        [binary, "time", "--state-dir", state_dir, "--site", site,
         "--calls", str(calls), "--warmup", str(warmup)],
        check=True, capture_output=True, text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return int(result["groups"]), [int(s) for s in result["samples_ns"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rust-bin", required=True, help="the bench_list_groups executable")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per side")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternations of the two sides, calls/rounds calls each")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first, per side")
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--profile", default="release", help="the build profile, for the output")
    args = parser.parse_args()

    imports = import_time(args.import_runs)
    # The sides take turns, so that a busier moment of the machine hits both.
    python = PythonSide(args.site, args.state_dir, args.warmup)
    rust_samples: list[int] = []
    python_samples: list[int] = []
    rust_groups = 0
    per_round = max(1, args.calls // args.rounds)
    for _ in range(args.rounds):
        rust_groups, samples = rust_side(args.rust_bin, args.site, args.state_dir, per_round,
                                         args.warmup)
        rust_samples += samples
        python_samples += python.time(per_round)
    if rust_groups != python.groups:
        print(f"bench: Rust listed {rust_groups} groups, Python {python.groups}", file=sys.stderr)
        return 1

    rust_ms = statistics.median(rust_samples) / 1e6
    python_ms = statistics.median(python_samples) / 1e6
    ratio = python_ms / rust_ms
    rows = [
        ("import protector", "-", f"{imports['import_ms']:.1f} ms", "-",
         f"< {IMPORT_TARGET_MS:.0f} ms", imports["import_ms"] < IMPORT_TARGET_MS),
        (f"groups() of {python.groups}", f"{rust_ms:.3f} ms", f"{python_ms:.3f} ms",
         f"{ratio:.2f}x", f"<= {RATIO_TARGET}x", ratio <= RATIO_TARGET),
    ]
    header = ("scenario", "Rust median", "Python median", "ratio", "target", "met")
    table = [header] + [(*row[:5], "met" if row[5] else "NOT MET") for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"profile {args.profile}")
    print(f"import: median wall time of {args.import_runs} fresh interpreters running "
          f"`import protector` minus that of `pass` (itself {imports['empty_ms']:.1f} ms); "
          f"-X importtime's cumulative figure for protector: {imports['importtime_ms']:.1f} ms")
    print(f"groups(): median of {len(python_samples)} calls per side, in {args.rounds} rounds "
          f"taking turns, after {args.warmup} untimed; one engine per side, same state directory")
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
