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
    for _ in range(runs):  # interleaved: a slower moment of the machine hits both alike
        empty.append(fresh_interpreter_ms("pass"))
        full.append(fresh_interpreter_ms("import protector"))
    return {
        "empty_ms": statistics.median(empty),
        "import_ms": statistics.median(full) - statistics.median(empty),
        "importtime_ms": statistics.median(importtime_ms() for _ in range(runs)),
    }


def python_groups(site: str, state_dir: str, calls: int, warmup: int) -> dict[str, Any]:
    import protector

    engine = protector.Protector(site, state_dir)
    groups = 0
    for _ in range(warmup):
        groups = len(engine.groups())
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        listed = engine.groups()
        samples.append(time.perf_counter_ns() - started)
        groups = len(listed)
        del listed  # freed outside the timed call, as the Rust side drops its list
    return {"groups": groups, "median_ns": statistics.median(samples), "min_ns": min(samples)}


def rust_groups(binary: str, site: str, state_dir: str, calls: int, warmup: int) -> dict[str, Any]:
    out = subprocess.run(
        [binary, "time", "--state-dir", state_dir, "--site", site,
         "--calls", str(calls), "--warmup", str(warmup)],
        check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rust-bin", required=True, help="the bench_list_groups executable")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--profile", default="release", help="the build profile, for the output")
    args = parser.parse_args()

    imports = import_time(args.import_runs)
    rust = rust_groups(args.rust_bin, args.site, args.state_dir, args.calls, args.warmup)
    python = python_groups(args.site, args.state_dir, args.calls, args.warmup)
    if rust["groups"] != python["groups"]:
        print(f"bench: Rust listed {rust['groups']} groups, Python {python['groups']}",
              file=sys.stderr)
        return 1

    ratio = python["median_ns"] / rust["median_ns"]
    rows = [
        ("import protector", "-", f"{imports['import_ms']:.1f} ms", "-",
         f"< {IMPORT_TARGET_MS:.0f} ms", imports["import_ms"] < IMPORT_TARGET_MS),
        (f"groups() of {rust['groups']}", f"{rust['median_ns'] / 1e6:.3f} ms",
         f"{python['median_ns'] / 1e6:.3f} ms", f"{ratio:.2f}x",
         f"<= {RATIO_TARGET}x", ratio <= RATIO_TARGET),
    ]
    header = ("scenario", "Rust median", "Python median", "ratio", "target", "met")
    table = [header] + [(*row[:5], "met" if row[5] else "NOT MET") for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"profile {args.profile}; groups(): median of {args.calls} calls after "
          f"{args.warmup} untimed, one engine per side over the same state directory")
    print(f"import: median wall time of {args.import_runs} fresh interpreters running "
          f"`import protector` minus that of `pass` ({imports['empty_ms']:.1f} ms); "
          f"-X importtime's cumulative figure for protector: {imports['importtime_ms']:.1f} ms")
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
