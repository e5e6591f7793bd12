"""Benchmark (not a test): the wall time of `openstack protector protection-group list` against
`openstack server list` on the same simulator, medians of N runs after one warm-up each. The
plugin's budget is 100 ms over OSC's own start-up; both commands authenticate once and make one
listing call, so the difference is what the plugin adds (its import, the engine's import and
the in-process listing)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time


def wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(argv, env=env, check=True, capture_output=True)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    openstack = shutil.which("openstack", path=os.path.dirname(sys.executable))
    assert openstack
    env = dict(os.environ)
    base = [openstack, "--os-cloud", "site-a"]
    server = wall([*base, "server", "list", "-f", "json"], env, runs)
    plugin = wall([*base, "protector", "protection-group", "list", "-f", "json"], env, runs)
    added = (plugin - server) * 1000
    print(f"{'command':<52} {'median':>9}")
    print(f"{'openstack server list':<52} {server * 1000:>7.0f} ms")
    print(f"{'openstack protector protection-group list':<52} {plugin * 1000:>7.0f} ms")
    verdict = "met" if added <= 100 else "NOT met"
    print(
        f"plugin adds {added:.0f} ms to OSC's start-up "
        f"(ratio {plugin / server:.2f}x; budget 100 ms: {verdict}); {runs} runs each"
    )


if __name__ == "__main__":
    main()
