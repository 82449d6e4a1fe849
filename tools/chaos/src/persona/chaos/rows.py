"""The rows of the fault matrix (pure): what each injects, and which rows a run selects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal[
    "none",
    "kill_flow",
    "kill_kafka",
    "kafka_down",
    "kill_cassandra",
    "disk_full",
    "commit_fails",
    "corrupt_state",
    "poison",
]
Moment = Literal["random", "epoch", "mid_merge", "between_commits"]


@dataclass(frozen=True)
class Row:
    name: str
    kind: FaultKind
    what: str  # one line for the table's legend and the docs
    flow: str | None = None  # the flow a kill or corruption targets
    moment: Moment = "random"
    down_s: float = 0.0  # how long a killed service stays down before it is started again
    poison: bool = False  # the input carries one poison record of each kind


ROWS: tuple[Row, ...] = (
    Row("baseline", "none", "no fault: the harness itself agrees with replay"),
    Row("kill-cdc", "kill_flow", "kill -9 of the cdc flow at a random moment", flow="cdc"),
    Row("kill-enrich", "kill_flow", "kill -9 of the enrich flow at a random moment", flow="enrich"),
    Row("kill-sink", "kill_flow", "kill -9 of the sink flow at a random moment", flow="sink"),
    Row(
        "kill-cdc-epoch",
        "kill_flow",
        "kill -9 of cdc as its recovery store changes (mid-snapshot)",
        flow="cdc",
        moment="epoch",
    ),
    Row(
        "kill-enrich-epoch",
        "kill_flow",
        "kill -9 of enrich as its recovery store changes (mid-snapshot)",
        flow="enrich",
        moment="epoch",
    ),
    Row(
        "kill-enrich-mid-merge",
        "kill_flow",
        "kill -9 of a customer-log merge child alone, then of enrich while its next merge runs",
        flow="enrich",
        moment="mid_merge",
    ),
    Row(
        "kill-sink-between-commits",
        "kill_flow",
        "kill -9 of the sink after its marketing_segments commit, before segment_decisions'",
        flow="sink",
        moment="between_commits",
    ),
    Row("kill-kafka", "kill_kafka", "kill -9 of the Kafka broker, started again at once"),
    Row("kafka-down-90s", "kafka_down", "kill -9 of the Kafka broker, down for 90 s", down_s=90.0),
    Row(
        "kill-cassandra",
        "kill_cassandra",
        "kill -9 of Cassandra, down for 20 s under load, then started again",
        down_s=20.0,
    ),
    Row(
        "disk-full", "disk_full", "the warehouse's filesystem full for 20 s (size-limited tmpfs)", down_s=20.0
    ),
    Row(
        "commit-fails",
        "commit_fails",
        "a Paimon commit fails mid-way (data files written, snapshot refused) for 10 s",
        down_s=10.0,
    ),
    Row(
        "corrupt-customer-log",
        "corrupt_state",
        "enrich killed, a customer-log chunk corrupted; recovery: remove enrich's recovery directory",
        flow="enrich",
    ),
    Row(
        "poison",
        "poison",
        "the records of each poison kind in the input, each kind checked on its own",
        poison=True,
    ),
)

QUICK: tuple[str, ...] = ("kill-enrich", "kill-enrich-mid-merge", "kill-sink", "poison")
"""``persona chaos --quick``: the flows killed at random moments and mid-merge (the customer log's
merge child, then enrich itself), and every poison kind; CI-sized."""


def row_names() -> list[str]:
    return [r.name for r in ROWS]


def select(*, quick: bool, only: Sequence[str] = ()) -> list[Row]:
    """The rows a run executes, in matrix order: ``only`` (names), else the quick subset or all."""
    by_name = {r.name: r for r in ROWS}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise ValueError(f"unknown row(s) {', '.join(unknown)}; rows are: {', '.join(by_name)}")
    wanted = set(only) if only else set(QUICK) if quick else set(by_name)
    return [r for r in ROWS if r.name in wanted]
