"""Running the console: its settings, the app wired to the real readers, and uvicorn (on 127.0.0.1
unless ``PERSONA_CONSOLE_HOST`` says otherwise).

``serve`` runs in the foreground (`persona console`); ``ConsoleServer`` runs it in a thread beside
something else (`persona demo`) and stops it with that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from persona.console.app import Sources, create_app
from persona.console.prometheus import HttpPrometheus
from persona.console.views import Queries
from persona.console.warehouse import Tables, WarehouseReader
from persona.paimon import PaimonWarehouse
from persona.settings import PipelineSettings
from persona.settings.registry import CONSOLE_HOST, CONSOLE_PORT, LOCALHOST, PROMETHEUS_PORT, PROMETHEUS_URL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the console listens and what it reads: the local Prometheus and the flows' warehouse."""

    port: int
    prometheus_url: str
    warehouse: str
    tables: Tables
    host: str = LOCALHOST
    topics: tuple[str, ...] = ()
    """The pipeline's topics: lag and dead letters of these only (empty: every series)."""

    @property
    def url(self) -> str:
        shown = LOCALHOST if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{shown}:{self.port}/"

    @classmethod
    def from_env(cls, env: Mapping[str, str], port: int | None = None) -> ConsoleConfig:
        settings = PipelineSettings.from_env(env)
        return cls(
            port=CONSOLE_PORT.get(env) if port is None else port,
            prometheus_url=PROMETHEUS_URL.get(env) or f"http://{LOCALHOST}:{PROMETHEUS_PORT.get(env)}",
            host=CONSOLE_HOST.get(env),
            warehouse=settings.warehouse,
            topics=tuple(settings.topics.all_topics()),
            tables=Tables(
                segments=settings.table("marketing_segments"),
                decisions=settings.table("segment_decisions"),
                profiles=settings.table("customer_profile"),
            ),
        )


def build_app(config: ConsoleConfig) -> Starlette:
    sources = Sources(
        prometheus=HttpPrometheus(config.prometheus_url),
        warehouse=WarehouseReader(PaimonWarehouse(config.warehouse), config.tables),
        prometheus_url=config.prometheus_url,
        queries=Queries.for_topics(config.topics) if config.topics else Queries(),
    )
    return create_app(sources)


def _uvicorn(config: ConsoleConfig) -> uvicorn.Server:
    # Loopback by default: the console shows customer data and has no authentication.
    return uvicorn.Server(
        uvicorn.Config(
            build_app(config), host=config.host, port=config.port, log_level="warning", access_log=False
        )
    )


def serve(config: ConsoleConfig) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    log.info(
        "console on %s (Prometheus %s, warehouse %s)", config.url, config.prometheus_url, config.warehouse
    )
    _uvicorn(config).run()


class ConsoleServer:
    """The console in a background thread: ``start`` returns once it listens (or raises why not)."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self._server = _uvicorn(config)
        self._thread = threading.Thread(target=self._server.run, name="persona-console", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(f"the console could not listen on {self.config.url} (port in use?)")
            if time.monotonic() > deadline:
                raise OSError(f"the console did not start listening on {self.config.url} in {timeout:.0f} s")
            time.sleep(0.05)  # polling interval of the start-up check

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
