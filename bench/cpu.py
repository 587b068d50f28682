"""CPU time of process trees over a wall-clock window, sampled in a background thread.

    with CpuMeter({"client": popen.pid, "target": nginx.pid}) as meter:
        ...                                   # the run
    meter.cores("client", t0, t1)             # CPU cores the client's tree used in [t0, t1]

Each sample sums user+system time over a root process and its descendants; a process that
exits keeps its last reading, so the sums never go down. A window is read between the
samples nearest its ends (every 0.25 s), so a 5 s window is accurate to a few percent.
"""

from __future__ import annotations

import bisect
import threading
import time

import psutil

INTERVAL_S = 0.25


class CpuMeter:
    """CPU seconds per named process tree, sampled every INTERVAL_S (see the module doc)."""

    def __init__(self, roots: dict[str, int]):
        self.roots = dict(roots)
        self._last: dict[str, dict[int, float]] = {name: {} for name in roots}
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cpu-meter")

    def __enter__(self) -> CpuMeter:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _tree_cpu(self, name: str) -> float:
        last = self._last[name]
        try:
            root = psutil.Process(self.roots[name])
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        for proc in procs:
            try:
                times = proc.cpu_times()
                last[proc.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return sum(last.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for name in self.roots:
                self.samples[name].append((now, self._tree_cpu(name)))
            self._stop.wait(INTERVAL_S)

    def _at(self, name: str, moment: float) -> tuple[float, float] | None:
        samples = self.samples.get(name)
        if not samples:
            return None
        i = bisect.bisect_left(samples, (moment, float("-inf")))
        near = [samples[j] for j in (i - 1, i) if 0 <= j < len(samples)]
        return min(near, key=lambda s: abs(s[0] - moment))

    def cores(self, name: str, start: float, end: float) -> float | None:
        """Average cores the tree used between Unix times start and end (None: no samples,
        or no tree of that name)."""
        a, b = self._at(name, start), self._at(name, end)
        if a is None or b is None or b[0] <= a[0]:
            return None
        return round((b[1] - a[1]) / (b[0] - a[0]), 3)
