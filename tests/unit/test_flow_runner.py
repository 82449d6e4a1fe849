"""How flows are launched (pure: the command line, no process started)."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest

from persona.flows.cdc.spec import SPEC as CDC
from persona.flows.enrich.spec import SPEC as ENRICH
from persona.flows.sink.spec import SPEC as SINK
from persona.localstack.runner import (
    FLOWS,
    Cluster,
    FlowProcess,
    epoch_seconds,
    flow_command,
    process_ordinal,
)
from persona.settings import PipelineSettings, SettingsError


def test_flow_command_runs_the_factory_with_recovery_and_whole_second_snapshots() -> None:
    cmd = flow_command("enrich", Path("/r"), 2.5)
    assert cmd[1:4] == ["-m", "bytewax.run", "persona.flows.enrich:build_flow()"]
    assert cmd[cmd.index("-r") + 1] == "/r"
    assert cmd[cmd.index("-s") + 1] == "3"
    assert flow_command("sink", Path("/r"), 0.2)[-3] == "1"


def test_unknown_flow_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown flow 'nope'"):
        flow_command("nope", Path("/r"), 1)
    with pytest.raises(ValueError, match="unknown flow 'nope'"):
        _ = FlowProcess("nope", Path("/s"), {}).spec


def test_the_runner_runs_the_flows_their_specs_describe_in_pipeline_order() -> None:
    assert FLOWS == {"cdc": CDC, "enrich": ENRICH, "sink": SINK}
    for name, spec in FLOWS.items():
        assert flow_command(name, Path("/r"), 1)[3] == spec.factory
        assert FlowProcess(name, Path("/s"), {}).spec is spec


def _recovery_store(directory: Path, step_id: str, offsets: dict[str, int]) -> None:
    """A Bytewax recovery partition holding one committed epoch with ``offsets`` for ``step_id``."""
    directory.mkdir(parents=True)
    with sqlite3.connect(directory / "part-0.sqlite3") as conn:
        conn.execute("CREATE TABLE commits (commit_epoch INTEGER)")
        conn.execute("CREATE TABLE snaps (step_id TEXT, state_key TEXT, snap_epoch INTEGER, ser_change BLOB)")
        conn.execute("INSERT INTO commits VALUES (3)")
        conn.executemany(
            "INSERT INTO snaps VALUES (?, ?, 2, ?)",
            [(step_id, key, pickle.dumps(offset)) for key, offset in offsets.items()],
        )
        # Another step of the same flow: never counted as input offsets.
        conn.execute("INSERT INTO snaps VALUES ('persona_sink.parse', '0-t', 2, ?)", (pickle.dumps(99),))


def test_committed_offsets_are_read_from_the_flows_input_step(tmp_path: Path) -> None:
    flow = FlowProcess("sink", tmp_path, {})
    assert flow.input_offsets() == {}
    _recovery_store(flow.recovery_dir, SINK.input_step_id, {"0-t": 5, "1-t": 7, "0-other": 11, "2-t": -2})
    assert flow.input_offsets() == {"0-t": 5, "1-t": 7, "0-other": 11, "2-t": 0}
    assert flow.committed_offsets("t") == 12


def test_enrich_has_its_own_epoch_and_the_other_flows_the_commit_interval() -> None:
    settings = PipelineSettings.from_env({"PERSONA_COMMIT_INTERVAL": "4", "PERSONA_ENRICH_EPOCH": "45"})
    assert [epoch_seconds(n, settings) for n in ("cdc", "enrich", "sink")] == [4.0, 45.0, 4.0]
    defaults = PipelineSettings.from_env({"PERSONA_COMMIT_INTERVAL": "4"})
    assert [epoch_seconds(n, defaults) for n in ("cdc", "enrich", "sink")] == [4.0, 4.0, 4.0]
    env = {"PERSONA_ENRICH_EPOCH": "12"}
    flow = FlowProcess.configured("enrich", Path("/s"), env, PipelineSettings.from_env(env))
    assert flow.snapshot_seconds == 12.0 and flow.env == {"PERSONA_ENRICH_EPOCH": "12"}
    with pytest.raises(SettingsError, match="PERSONA_ENRICH_EPOCH must be > 0"):
        PipelineSettings.from_env({"PERSONA_ENRICH_EPOCH": "0"})


def test_gc_timer_counts_collections_by_generation_and_their_time() -> None:
    import gc

    from persona.flows.common.process import GcTimer

    ticks = iter([1.0, 1.5, 2.0, 2.25])
    timer = GcTimer(clock=lambda: next(ticks))  # called by hand: a real collection must not tick
    timer("start", {"generation": 0})
    timer("stop", {"generation": 0})
    timer("start", {"generation": 2})
    timer("stop", {"generation": 2})
    assert timer.collections == [1, 0, 1] and timer.seconds == [0.5, 0.0, 0.25]
    real = GcTimer().install()
    try:
        gc.collect()
        assert real.collections[2] >= 1 and real.seconds[2] > 0
    finally:
        real.uninstall()
    assert real not in gc.callbacks


def test_poll_records_defaults_to_a_thousand_and_must_be_positive() -> None:
    assert PipelineSettings.from_env({}).poll_records == 1000
    assert PipelineSettings.from_env({"PERSONA_POLL_RECORDS": "250"}).poll_records == 250
    with pytest.raises(SettingsError, match="PERSONA_POLL_RECORDS must be > 0"):
        PipelineSettings.from_env({"PERSONA_POLL_RECORDS": "0"})


def test_the_runner_takes_the_epoch_from_the_caller_s_settings_and_parses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The parent parsed its settings once; a malformed variable here would fail a second parse.
    monkeypatch.setenv("PERSONA_COMMIT_INTERVAL", "not a number")
    settings = PipelineSettings(commit_interval_seconds=3.0, enrich_epoch_seconds=20.0)
    env = {"PERSONA_GROUP_PREFIX": "g"}
    flows = [FlowProcess.configured(n, Path("/s"), env, settings) for n in ("cdc", "enrich", "sink")]
    assert [f.snapshot_seconds for f in flows] == [3.0, 20.0, 3.0]
    assert all(f.env == env for f in flows)


def test_a_cluster_process_runs_with_the_clusters_addresses_and_its_own_directories() -> None:
    cluster = Cluster.of(["10.0.0.1:2101", "10.0.0.2:2101"], 1)
    flow = FlowProcess("enrich", Path("/s"), {}, snapshot_seconds=5, cluster=cluster)
    cmd = flow.command()
    assert cmd[cmd.index("-a") + 1] == "10.0.0.1:2101;10.0.0.2:2101"
    assert cmd[cmd.index("-i") + 1] == "1"
    assert flow.label == "enrich-1"
    assert flow.recovery_dir == Path("/s/recovery/enrich-1")
    assert flow.customer_log_dir == Path("/s/recovery/enrich-1/customers")
    assert flow.log_path == Path("/s/logs/flow-enrich-1.log")
    single = FlowProcess("enrich", Path("/s"), {})
    assert "-a" not in single.command() and single.recovery_dir == Path("/s/recovery/enrich")
    with pytest.raises(ValueError, match="process id 2 is not an index of the 2 cluster addresses"):
        Cluster.of(["a:1", "b:1"], 2)


def test_the_cluster_comes_from_the_settings_or_the_statefulset_ordinal() -> None:
    addresses = "enrich-0.enrich:2101;enrich-1.enrich:2101;enrich-2.enrich:2101"
    assert Cluster.from_env({}) is None
    env = {"PERSONA_ENRICH_ADDRESSES": addresses}
    assert Cluster.from_env(env, hostname="enrich-2") == Cluster(
        ("enrich-0.enrich:2101", "enrich-1.enrich:2101", "enrich-2.enrich:2101"), 2
    )
    assert Cluster.from_env(env, hostname="enrich-1.enrich.persona.svc").process_id == 1  # type: ignore[union-attr]
    assert Cluster.from_env({**env, "PERSONA_ENRICH_PROCESS_ID": "0"}, hostname="enrich-2").process_id == 0  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="ends in no ordinal"):
        Cluster.from_env(env, hostname="laptop")
    with pytest.raises(ValueError, match="is not an index"):
        Cluster.from_env(env, hostname="enrich-3")
    assert process_ordinal("persona-enrich-12") == 12 and process_ordinal("enrich") is None
    with pytest.raises(SettingsError, match="PERSONA_ENRICH_ADDRESSES"):
        Cluster.from_env({"PERSONA_ENRICH_ADDRESSES": "a:1;a:1"}, hostname="x-0")
    with pytest.raises(SettingsError, match="PERSONA_ENRICH_ADDRESSES"):
        Cluster.from_env({"PERSONA_ENRICH_ADDRESSES": "a:99999"}, hostname="x-0")


def test_a_cluster_process_keeps_only_its_own_recovery_partition(tmp_path: Path) -> None:
    from persona.localstack.runner import ensure_recovery_dir

    ensure_recovery_dir(tmp_path / "p1", 3, only=1)
    assert [p.name for p in (tmp_path / "p1").glob("part-*")] == ["part-1.sqlite3"]
    ensure_recovery_dir(tmp_path / "all", 2)
    assert sorted(p.name for p in (tmp_path / "all").glob("part-*")) == ["part-0.sqlite3", "part-1.sqlite3"]


def test_the_scrape_address_is_the_flows_port_on_loopback_or_its_host_and_none_without_a_port() -> None:
    everywhere = {"PERSONA_METRICS_PORT": "31464", "PERSONA_METRICS_HOST": "0.0.0.0"}
    assert FlowProcess("sink", Path("/s"), everywhere).scrape_address() == "127.0.0.1:31466"
    cluster = Cluster.of(["127.0.0.1:1", "127.0.0.1:2"], 1)
    hosted = {"PERSONA_METRICS_PORT": "31464", "PERSONA_METRICS_HOST": "10.0.0.7"}
    # Process 1 of enrich's cluster: past the three single-process flows' ports.
    assert FlowProcess("enrich", Path("/s"), hosted, cluster=cluster).scrape_address() == "10.0.0.7:31468"
    assert FlowProcess("cdc", Path("/s"), {"PERSONA_METRICS_PORT": "0"}).scrape_address() is None
