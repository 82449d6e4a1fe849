"""`persona run cdc|enrich|sink`: one flow, supervised; the entry point of a flow's container.

Waits until Kafka (and, for enrich, Cassandra) answers, logging every few seconds what it waits for;
starts the flow as ``python -m bytewax.run`` with its recovery store under
``$PERSONA_HOME/flows/recovery/<flow>``; restarts it with exponential backoff whenever it dies, after
logging how it ended and the last lines of its output; and gives up (exit 1) only at the
``PERSONA_RESTART_MAX``-th failure within ``PERSONA_RESTART_WINDOW`` seconds. SIGTERM or SIGINT stops the
flow cleanly (SIGINT to it: Bytewax ends the epoch; SIGKILL after ``PERSONA_STOP_TIMEOUT``) and exits 0.
The flow's output is copied to stderr and to ``$PERSONA_HOME/flows/logs/flow-<flow>.log``; its pid is
in ``$PERSONA_HOME/flows/run/flow-<flow>.pid`` while it runs. Exit 2: bad settings, or a service that
did not answer within ``PERSONA_WAIT_TIMEOUT``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from persona.cli.generate_cmd import local_pipeline_env
from persona.inventory import CassandraInventory, InventoryReadError
from persona.localstack import StackError, StackSettings
from persona.localstack.runner import FLOWS, FlowProcess
from persona.localstack.supervisor import (
    EXIT_NOT_STARTED,
    Dependency,
    Probe,
    RestartPolicy,
    Supervisor,
    kafka_probe,
)
from persona.settings import PipelineSettings, SettingsError
from persona.settings.registry import KAFKA_BOOTSTRAP, STOP_TIMEOUT, WAIT_TIMEOUT

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one flow with recovery, restarting it when it dies (a flow container's entry point)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("flow", choices=list(FLOWS), help="the flow to run")
    parser.set_defaults(func=run)


def cassandra_probe(settings: PipelineSettings, timeout: float = 3.0) -> Probe:
    """Reads one (absent) SKU as the enrich flow reads inventory: so its table must exist too."""

    def ask() -> str | None:
        store = CassandraInventory(
            settings.cassandra_hosts,
            settings.cassandra_port,
            keyspace=settings.inventory_keyspace,
            table=settings.inventory_table,
            request_timeout=timeout,
            credentials=settings.cassandra_security.credentials(),
            ssl_context=settings.cassandra_security.ssl_context(),
        )
        try:
            store.read_many(["persona-run-probe"])
        except InventoryReadError as error:
            return str(error)
        finally:
            store.close()
        return None

    return ask


def flow_dependencies(name: str, settings: PipelineSettings) -> list[Dependency]:
    """What a flow needs to answer before it starts: Kafka for every flow, Cassandra for enrich."""
    needed = [
        Dependency(
            "Kafka",
            settings.kafka_bootstrap,
            kafka_probe(settings.kafka_bootstrap, settings.kafka_security.client_config()),
        )
    ]
    if name == "enrich":
        hosts = ",".join(f"{host}:{settings.cassandra_port}" for host in settings.cassandra_hosts)
        needed.append(Dependency("Cassandra", hosts, cassandra_probe(settings)))
    return needed


def flows_dir(stack: StackSettings) -> Path:
    """Where `persona run` keeps each flow's recovery store, log and pid file."""
    return stack.home / "flows"


def build_supervisor(
    name: str,
    env: Mapping[str, str],
    echo: BinaryIO | None = None,
    *,
    flow_env: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
    port_per_flow: bool | None = None,
) -> Supervisor:
    """The supervisor of flow ``name`` configured from ``env``, as `persona run` makes it.

    The flow gets ``env`` plus the local stack's addresses for whatever ``env`` leaves unset.
    ``flow_env`` (the demo's) is set for the flow over ``env``; ``state_dir`` replaces
    :func:`flows_dir`. Raises StackError or SettingsError naming a malformed variable.
    ``port_per_flow``: the flow's metrics port is ``PERSONA_METRICS_PORT`` plus its place among the
    flows (the local stack's flows share a host); None: so unless ``env`` names a Kafka of its own
    (a container's flow, alone in its pod, serves on ``PERSONA_METRICS_PORT`` itself).
    """
    if port_per_flow is None:
        port_per_flow = KAFKA_BOOTSTRAP.given(env) is None
    given = dict(flow_env or {})
    env = {**env, **given}
    stack = StackSettings.from_env(env)
    defaults = {
        key: value for key, value in local_pipeline_env(stack).items() if not env.get(key, "").strip()
    }
    settings = PipelineSettings.from_env({**env, **defaults})
    flow = FlowProcess.configured(
        name,
        state_dir or flows_dir(stack),
        {**given, **defaults},
        settings,
        echo=echo,
        port_per_flow=port_per_flow,
    )
    return Supervisor(
        flow,
        flow_dependencies(name, settings),
        policy=RestartPolicy.from_env(env),
        wait_limit=WAIT_TIMEOUT.get(env),
        stop_timeout=STOP_TIMEOUT.get(env),
    )


def run(args: argparse.Namespace) -> int:
    try:
        supervisor = build_supervisor(args.flow, os.environ, echo=sys.stderr.buffer)
    except (StackError, SettingsError) as error:
        print(f"persona run: {error}", file=sys.stderr)
        return EXIT_NOT_STARTED
    flow, policy = supervisor.flow, supervisor.policy
    log.info(
        "persona run %s: recovery %s, log %s, pid file %s; restart after %g s doubling to %g s, "
        "give up at %d failures within %g s",
        flow.name,
        flow.recovery_dir,
        flow.log_path,
        supervisor.pid_file,
        policy.initial_delay,
        policy.max_delay,
        policy.max_failures,
        policy.window_seconds,
    )

    def stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping flow %s", signal.Signals(signum).name, flow.name)
        supervisor.request_stop()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        return supervisor.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
