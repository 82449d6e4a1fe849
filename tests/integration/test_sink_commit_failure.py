"""A Paimon commit that fails is not a record's fault: the sink's epoch end fails (so Bytewax does not
make the epoch's offsets durable), and the replay after a restart completes both tables without losing
or duplicating a row, even when the first table's commit had succeeded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from persona.contracts import CandidateSku, DecisionAudit, DecisionEnvelope
from persona.flows.sink import PaimonSink
from persona.flows.sink.rows import decisions_table
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.paimon.writer import PaimonCommitError
from persona.settings import PipelineSettings

pytestmark = pytest.mark.integration

T0 = 1_795_000_000_000


def _envelope(event_id: str, customer_id: int, version: int) -> DecisionEnvelope:
    audit = DecisionAudit(
        event_id=event_id,
        event_time_ms=T0 + version,
        event_type="view",
        event_sku_id="A",
        customer_id=customer_id,
        profile_found=False,
        profile_segment=None,
        profile_recency=None,
        profile_frequency=None,
        profile_monetary=None,
        profile_rfm_as_of=None,
        profile_snapshot=None,
        adjusting_order_ids=(),
        recency=None,
        frequency=0,
        monetary=Decimal("0.00"),
        event_sku_sellable=None,
        candidates=(CandidateSku("A", 1),),
        rule="no_profile",
        segment="NEW",
        recommendation=(),
        score=None,
        logic_version="v1",
        decided_at_ms=T0 + version + 1,
    )
    return DecisionEnvelope(version, audit)


def test_a_failed_audit_commit_fails_the_epoch_and_the_replay_completes_both_tables(tmp_path: Path) -> None:
    ensure_tables(tmp_path)
    settings = PipelineSettings(warehouse=str(tmp_path))
    epoch = decisions_table([_envelope(f"e-{i}", i % 3, i) for i in range(1, 7)])

    part = PaimonSink(settings).build_part("paimon", "paimon", None)
    # The audit table's snapshot directory cannot be created: its commit fails after the segments'.
    blocker = tmp_path / "persona.db" / "segment_decisions" / "snapshot"
    blocker.write_text("not a directory")
    part.write_batch([epoch])
    with pytest.raises(PaimonCommitError, match="segment_decisions"):
        part.snapshot()
    warehouse = PaimonWarehouse(tmp_path)
    assert warehouse.read_arrow("marketing_segments").num_rows == 3, "the half state the flow died in"
    assert warehouse.latest_snapshot_id("segment_decisions") is None

    # The restart: the disk is fixed, a new partition replays the epoch whose offsets were not durable.
    blocker.unlink()
    replay = PaimonSink(settings).build_part("paimon", "paimon", None)
    replay.write_batch([epoch])
    replay.snapshot()
    replay.close()
    segments = warehouse.read_arrow("marketing_segments").to_pylist()
    assert sorted((r["customer_id"], r["version"]) for r in segments) == [(0, 6), (1, 4), (2, 5)]
    audit = warehouse.read_arrow("segment_decisions").to_pylist()
    assert sorted(r["event_id"] for r in audit) == [f"e-{i}" for i in range(1, 7)]
