"""Several flows, each under ``persona run``'s supervisor in a thread of its own (``persona demo``,
``persona chaos``): ``Supervisor.run`` blocks for as long as its flow should run."""

from __future__ import annotations

import logging
import threading

from persona.localstack.runner import FlowProcess
from persona.localstack.supervisor import EXIT_GAVE_UP, Supervisor

log = logging.getLogger(__name__)

# What a flow being stopped gets beyond its supervisor's stop timeout before it is reported stuck.
STOP_GRACE_SECONDS = 30.0


class SupervisedFlows:
    """Flows, each supervised (``Supervisor``) in a thread of its own: the demo's and a chaos row's.

    ``Supervisor.run`` blocks for as long as its flow should run, and a flow dies with the thread that
    started it (``FlowProcess``'s parent-death signal): so each supervisor runs in its own thread,
    which lives exactly as long as that supervision, restarts included.
    """

    def __init__(self, supervisors: list[Supervisor]) -> None:
        self.supervisors = supervisors
        self.exit_codes: dict[str, int] = {}
        self._threads = [self._thread(s) for s in supervisors]
        # Starts made by supervisions that ``replace`` retired, for ``restarts``.
        self._retired_starts = 0

    def _thread(self, supervisor: Supervisor) -> threading.Thread:
        name = f"supervise-{supervisor.flow.name}"
        return threading.Thread(target=self._supervise, args=(supervisor,), name=name, daemon=True)

    @property
    def flows(self) -> list[FlowProcess]:
        return [s.flow for s in self.supervisors]

    def _supervise(self, supervisor: Supervisor) -> None:
        try:
            code = supervisor.run()
        except Exception:
            log.exception("supervision of flow %s failed", supervisor.flow.name)
            code = EXIT_GAVE_UP
        if not supervisor.stopping:
            log.error("the supervisor of flow %s ended on its own (exit %d)", supervisor.flow.name, code)
        self.exit_codes[supervisor.flow.name] = code

    def _index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.supervisors) if s.flow.name == name)

    def supervisor(self, name: str) -> Supervisor:
        """The current supervision of flow ``name`` (its flow process, pid file, starts)."""
        return self.supervisors[self._index(name)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def gave_up(self) -> dict[str, int]:
        """``ended()`` with each flow's exit code: ``name -> code``."""
        return {f.name: self.exit_codes.get(f.name, EXIT_GAVE_UP) for f in self.ended()}

    def ended(self) -> list[FlowProcess]:
        """Flows whose supervision ended without being asked to: given up, or never started."""
        return [
            s.flow
            for s, thread in zip(self.supervisors, self._threads, strict=True)
            if thread.ident is not None and not thread.is_alive() and not s.stopping
        ]

    def ready(self) -> bool:
        """Each flow has completed an epoch (its recovery store says so): its Kafka inputs are
        assigned and every step is built, so the first events are not timed against start-up."""
        return all(flow.input_offsets() for flow in self.flows)

    def restarts(self) -> int:
        """Flow processes started again after one died, by a supervisor or by ``replace``."""
        starts = self._retired_starts + sum(s.starts for s in self.supervisors)
        return max(0, starts - len(self.supervisors))

    def replace(self, supervisor: Supervisor) -> None:
        """Supervise ``supervisor``'s flow anew, in place of an ended supervision of the same flow (what
        an orchestrator does when ``persona run`` gives up); started at once."""
        index = self._index(supervisor.flow.name)
        if self._threads[index].is_alive():
            raise RuntimeError(f"the supervision of flow {supervisor.flow.name} is still running")
        self._retired_starts += self.supervisors[index].starts
        self.supervisors[index] = supervisor
        self._threads[index] = self._thread(supervisor)
        self._threads[index].start()

    def end(self, name: str) -> None:
        """Stop flow ``name``'s supervision and wait for it (its flow stopped): it may be ``replace``d."""
        index = self._index(name)
        supervisor, thread = self.supervisors[index], self._threads[index]
        supervisor.request_stop()
        if thread.ident is None:
            return
        thread.join(supervisor.stop_timeout + STOP_GRACE_SECONDS)
        if thread.is_alive():
            log.error("flow %s did not stop within %.0f s", name, supervisor.stop_timeout)

    def stop(self) -> None:
        """Stop the flows one after the other in pipeline order, each stopped before the next is
        asked: the sink stops last, so it commits what the others finished."""
        for supervisor in list(self.supervisors):
            self.end(supervisor.flow.name)
