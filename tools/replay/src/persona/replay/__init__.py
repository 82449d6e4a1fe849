"""persona.replay: the decision logic over JSON-lines files (``persona replay``, backtests).

A tool: it reads and writes files, and runs the same per-customer step as the enrich flow
(``persona.decisions``).
"""

from persona.replay.files import ReplayStats, decision_line, run_replay

__all__ = ["ReplayStats", "decision_line", "run_replay"]
