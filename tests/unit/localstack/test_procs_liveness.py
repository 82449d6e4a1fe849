"""When a service process counts as gone: not before its last thread has exited and freed its ports.

A JVM killed with SIGKILL shows its main thread as a zombie for a while (about 100 ms for Kafka
Connect here) during which its other threads still hold its listening socket; `persona stack up`
restarting it in that window found its own port taken.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from persona.localstack.procs import exited, port_is_free, process_alive

# The real /proc/<pid>/status lines that matter (the rest of the file is ignored).
RUNNING = "Name:\tjava\nUmask:\t0077\nState:\tS (sleeping)\nTgid:\t4242\nThreads:\t34\n"
ZOMBIE_LEADER_THREADS_EXITING = "Name:\tjava\nState:\tZ (zombie)\nTgid:\t4242\nThreads:\t2\n"
ZOMBIE = "Name:\tjava\nState:\tZ (zombie)\nTgid:\t4242\nThreads:\t1\n"

# A process whose main thread ends (pthread_exit) while another thread keeps its listening socket
# open until stdin closes: the state a killed JVM passes through, held for as long as the test wants.
LINGERING_THREAD = """
import ctypes, socket, sys, threading
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
print(server.getsockname()[1], flush=True)
threading.Thread(target=sys.stdin.read).start()
ctypes.CDLL(None).pthread_exit(None)
"""


def poll(what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)  # polling interval


def test_a_running_process_has_not_exited() -> None:
    assert not exited(RUNNING)


def test_a_zombie_whose_other_threads_are_still_exiting_has_not_exited() -> None:
    assert not exited(ZOMBIE_LEADER_THREADS_EXITING)


def test_a_zombie_that_is_its_last_thread_has_exited() -> None:
    assert exited(ZOMBIE)
    # Kernels without the Threads line: the state alone decides, as before.
    assert exited("State:\tZ (zombie)\n")


def test_a_process_is_alive_until_its_last_thread_has_freed_its_port() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", LINGERING_THREAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None and child.stdin is not None
            port = int(child.stdout.readline())
            status = Path(f"/proc/{child.pid}/status")
            poll("the main thread to end", lambda: "Z (zombie)" in status.read_text())
            # The main thread is a zombie, the other one still runs and listens.
            assert process_alive(child.pid)
            assert not port_is_free(port)
            child.stdin.close()
            poll("the process to end", lambda: not process_alive(child.pid))
            assert port_is_free(port)
        finally:
            child.kill()
