"""persona.replay: the decision logic over JSON-lines files (``persona replay``, backtests).

A tool: it reads and writes files, and runs the same per-customer step as the enrich flow
(``persona.decisions``).
"""

from persona.replay.files import (
    ReplayStats,
    StreamItem,
    decide_stream,
    decision_line,
    merge_stream,
    run_replay,
)

__all__ = ["ReplayStats", "StreamItem", "decide_stream", "decision_line", "merge_stream", "run_replay"]
