"""The sink's Paimon partition on a real warehouse, read back by `persona segments` and `persona sql`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from persona.cli.main import main
from persona.contracts import DecisionEnvelope, Ok, ms_to_iso, parse_behavior_event, parse_customer_profile
from persona.decisions import DEFAULT_CONFIG, EMPTY_STATE, decide, observe_event
from persona.flows.sink import PaimonSink
from persona.flows.sink.rows import decisions_table
from persona.paimon import PaimonWarehouse, ensure_tables
from persona.settings import PipelineSettings

pytestmark = pytest.mark.integration

T0 = 1_795_000_000_000  # 2026-11-18T...Z


def _envelopes() -> list[DecisionEnvelope]:
    profile = parse_customer_profile(
        b'{"customer_id": 5, "segment": "VIP", "recency": 2, "frequency": 10, "monetary": "100.00",'
        b' "lifecycle_stage": "active", "rfm_as_of": "2026-11-17", "snapshot": "rfm-20261117"}'
    )
    assert isinstance(profile, Ok)
    state = EMPTY_STATE
    out = []
    for i, (sku, stock) in enumerate([("A", 50), ("B", 0), ("C", None)], start=1):
        raw = orjson.dumps(
            {
                "event_id": f"e-{i}",
                "user_id": 5,
                "event_type": "view",
                "sku_id": sku,
                "event_time": T0 + i * 60_000,
            }
        )
        event = parse_behavior_event(raw)
        assert isinstance(event, Ok)
        inventory = {"A": 50, "B": 0, sku: stock}
        _decision, audit = decide(
            event.value, profile.value, state, inventory, DEFAULT_CONFIG, T0 + i * 60_000 + 500
        )
        state = observe_event(state, event.value)
        out.append(DecisionEnvelope(i, audit))
    return out


def test_sink_commits_rows_that_segments_and_sql_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_tables(tmp_path)
    settings = PipelineSettings(warehouse=str(tmp_path))
    part = PaimonSink(settings).build_part("paimon", "paimon", None)
    envelopes = _envelopes()
    part.write_batch([decisions_table(envelopes[:2])])  # the decisions of one polled batch
    warehouse = PaimonWarehouse(tmp_path)
    assert warehouse.latest_snapshot_id("marketing_segments") is None, (
        "nothing committed before the epoch ends"
    )
    part.snapshot()
    part.write_batch([decisions_table(envelopes[2:])])
    part.close()
    rows = warehouse.read_arrow("marketing_segments").to_pylist()
    assert [(r["customer_id"], r["version"], r["segment"]) for r in rows] == [
        (5, 3, envelopes[2].audit.segment)
    ]
    assert len(warehouse.read_arrow("segment_decisions").to_pylist()) == 3

    monkeypatch.setenv("PERSONA_WAREHOUSE", str(tmp_path))
    assert main(["segments", "show", "5"]) == 0
    shown = capsys.readouterr().out
    assert "customer_id" in shown and "(1 row)" in shown

    # Explain as of just after the first decision: VIP with 50 sellable of the event's SKU.
    at_first = T0 + 60_000 + 500
    assert main(["segments", "explain", "5", "--at", ms_to_iso(at_first)]) == 0
    text = capsys.readouterr().out
    assert "VIP_HIGH_INVENTORY" in text and "e-1" in text and "A=50" in text and "rfm-20261117" in text
    assert main(["segments", "explain", "5", "--at", ms_to_iso(T0)]) == 1, "no decision before the first"

    assert (
        main(
            [
                "sql",
                "SELECT segment, count(*) AS n FROM segment_decisions GROUP BY segment ORDER BY segment",
                "--json",
            ]
        )
        == 0
    )
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(line["n"] for line in lines) == 3
    assert main(["sql", "SELECT * FROM no_such_table"]) == 1
