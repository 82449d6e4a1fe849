"""Process-wide settings of a flow process, applied by a flow factory that wires the real Kafka
source (never by tests that inject their own, so a test process keeps Python's defaults)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

# Young-generation threshold of the cyclic GC (Python's default is 700). Flows allocate a few
# short-lived tuples per record, so at the default a collection runs every few hundred records, and
# each one that reaches the old generation walks every long-lived tracked object. The decisive fix is
# keeping per-customer state out of the GC (untracked msgspec structs); this is the margin for what
# stays tracked. bench/enrich_core_bench.py: with tracked state, default 0.76 / these settings 0.85
# of the GC-off rate; with untracked state 0.97 / 0.98.
GC_YOUNG_THRESHOLD = 20_000


def prepare_flow_process() -> None:
    """Freeze what start-up allocated (modules, loaded profiles) out of the cyclic GC's scans, and
    collect young objects less often."""
    gc.collect()
    gc.freeze()
    _young, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


class GcTimer:
    """Time the cyclic GC spends, by generation (``gc.callbacks``), for a flow's periodic log line.

    Its pauses do not show as themselves in a py-spy profile: they are charged to whichever
    allocation triggered them.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = self._clock()
        else:
            generation = info["generation"]
            self.collections[generation] += 1
            self.seconds[generation] += self._clock() - self._started

    def install(self) -> GcTimer:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
