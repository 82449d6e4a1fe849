"""Detached service processes: pid files, liveness, start, stop, log tails and port checks."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from persona.localstack.errors import StackError

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
"""The umask of persona's entry points: what they create (state, warehouse, logs) is the user's alone."""
PRIVATE_DIR_MODE = 0o700

# prctl(2) option: the signal the kernel sends this process when the thread that forked it ends.
_PR_SET_PDEATHSIG = 1

# Runs the service in the background and prints its pid, then exits: the service is re-parented to
# init, so it is nobody's child. Were it a child of the Python process that started it (a test
# session, the bench), it would turn into a zombie when stopped there, and Popen would warn that it
# is "still running" when its handle is dropped (an error under pytest's warnings-as-errors).
_LAUNCHER = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing one open to others is made 0700,
    with a log line: state, warehouse and logs hold customer data."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    make_private(path)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by its owner only (0600), in a private directory: for
    configuration files that hold a secret."""
    private_dir(path.parent)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
    return path


def make_private(path: Path) -> bool:
    """Take group and other permissions off an existing directory; True when it had any."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return False
    if mode & 0o077 == 0:
        return False
    path.chmod(mode & 0o700 | PRIVATE_DIR_MODE)
    log.warning("%s was mode %04o, open to other users; made it %04o", path, mode, PRIVATE_DIR_MODE)
    return True


def make_home_private(home: Path) -> None:
    """Close an existing PERSONA_HOME and the directories persona made in it to other users. Without home's x bit nobody else reaches anything below it, so its direct subdirectories
    are enough; earlier runs' files inside keep their modes."""
    if not home.is_dir():
        return
    make_private(home)
    for child in sorted(home.iterdir()):
        if child.is_dir() and not child.is_symlink():
            make_private(child)


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when the thread that started it ends,
    so no flow outlives a CLI killed with -9; None where prctl(2) is missing (not Linux).

    The C function is looked up here, in the parent: a forked child of a threaded process must not
    dlopen (it could wait forever on a lock another thread held at the fork).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    signum = int(signal.SIGKILL)

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signum)

    return set_parent_death_signal


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def write_pid(pid_file: Path, pid: int) -> None:
    private_dir(pid_file.parent)
    temporary = pid_file.with_suffix(".tmp")
    temporary.write_text(f"{pid}\n")
    temporary.replace(pid_file)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return not exited(status)


def exited(proc_status: str) -> bool:
    """Whether the process whose /proc/<pid>/status this is has finished exiting.

    A zombie still answers kill(0), so its state decides. But a killed multi-threaded process (a JVM)
    shows its main thread as a zombie while its other threads are still exiting, and until the last
    of them is gone its sockets stay open: a server restarted in that window finds its port taken.
    So a zombie counts as exited only once it is its last thread.
    """
    fields = dict(line.split(":", 1) for line in proc_status.splitlines() if ":" in line)
    state = fields.get("State", "").split()
    threads = fields.get("Threads", "").strip()
    return bool(state) and state[0] == "Z" and (not threads.isdigit() or int(threads) <= 1)


def process_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_service_process(pid: int, markers: Iterable[str]) -> bool:
    """Whether ``pid`` is alive and every marker is one of its arguments (guards against pid reuse)."""
    if not process_alive(pid):
        return False
    cmdline = process_cmdline(pid)
    if cmdline is None:
        # No /proc (not Linux): liveness is all we can check.
        return True
    return set(markers) <= set(cmdline)


def find_processes(markers: Iterable[str]) -> list[int]:
    """Live pids having every marker among their arguments (Linux; empty elsewhere)."""
    wanted = set(markers)
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            cmdline = process_cmdline(pid)
            if cmdline and wanted <= set(cmdline) and process_alive(pid):
                found.append(pid)
    return sorted(found)


def start_detached(
    command: Sequence[str],
    log_file: Path,
    cwd: Path,
    *,
    forbid_mlock: bool = False,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``command`` detached, with output appended to ``log_file``; return its pid.

    Its own session means the service survives the CLI that started it exiting, and a Ctrl-C in that
    terminal does not reach it. ``forbid_mlock`` makes mlock()/mlockall() fail in the service, so a
    process that would lock its whole address space keeps only the pages it really uses. ``env`` adds
    variables to the service's environment (which only its user can read, unlike its command line).
    """
    private_dir(log_file.parent)
    private_dir(cwd)
    script = _LAUNCHER
    if forbid_mlock:
        script = "ulimit -l 0; " + script
        setpriv = shutil.which("setpriv")
        if os.geteuid() == 0 and setpriv is not None:
            # root's CAP_IPC_LOCK ignores RLIMIT_MEMLOCK; dropping it from the bounding set takes
            # it away from the exec'd service (and only from it).
            command = [setpriv, "--bounding-set=-ipc_lock", "--", *command]
    launcher = subprocess.run(
        ["/bin/sh", "-c", script, "persona-launch", str(log_file), *command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        start_new_session=True,
        env=None if env is None else {**os.environ, **env},
        timeout=30,
        check=False,
    )
    pid_text = launcher.stdout.strip()
    if launcher.returncode != 0 or not pid_text.isdigit():
        raise StackError(f"launching {command[0]} failed: {launcher.stderr.strip() or pid_text!r}")
    return int(pid_text)


def send_signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def wait_exit(pid: int, deadline: float, poll_interval: float = 0.1) -> bool:
    """Wait until ``pid`` is gone or the monotonic ``deadline`` passes; True when it is gone."""
    while True:
        if not process_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_interval)


def stop_processes(pids: Iterable[int], timeout: float) -> dict[int, str]:
    """SIGTERM every pid, wait up to ``timeout`` for all, SIGKILL the rest; how each one ended."""
    pids = list(pids)
    for pid in pids:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    outcome: dict[int, str] = {}
    for pid in pids:
        if wait_exit(pid, deadline):
            outcome[pid] = "stopped"
            continue
        send_signal(pid, signal.SIGKILL)
        wait_exit(pid, time.monotonic() + 10.0)
        outcome[pid] = "killed"
    return outcome


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a (possibly large) text file; empty when it does not exist."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            position = handle.tell()
            block = 64 * 1024
            data = b""
            while position > 0 and data.count(b"\n") <= count:
                step = min(block, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except FileNotFoundError:
        return []
    return data.decode(errors="replace").splitlines()[-count:]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now.

    SO_REUSEADDR matches what the JVM servers set, so sockets lingering in TIME_WAIT from a previous
    run do not count as taken, while a live listener (on this or the wildcard address) does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def busy_ports(ports: Mapping[str, int], is_free: Callable[[int], bool] = port_is_free) -> dict[str, int]:
    """The subset of ``ports`` (label -> port) that cannot be bound."""
    return {label: port for label, port in ports.items() if not is_free(port)}


def tcp_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP on ``host:port``: a cheap pre-check before a protocol probe."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listening_inodes(proc_net_tcp: str, port: int) -> set[int]:
    """Socket inodes listening on ``port`` according to the text of /proc/net/tcp or tcp6."""
    inodes: set[int] = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local_address, state, inode = fields[1], fields[3], fields[9]
        # State 0A is TCP_LISTEN; the local port is the hex after the last colon.
        if state == "0A" and int(local_address.rsplit(":", 1)[1], 16) == port:
            inodes.add(int(inode))
    return inodes


def describe_port_owner(port: int) -> str | None:
    """Best effort "pid N (command)" of the process listening on ``port`` (Linux only, same user)."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            inodes |= listening_inodes(Path(table).read_text(), port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            descriptors = list((proc / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in targets:
                    return f"pid {proc.name} ({summarize_command(process_cmdline(int(proc.name)) or ['?'])})"
            except OSError:
                continue
    return None


def summarize_command(cmdline: Sequence[str], limit: int = 160) -> str:
    """A short human form of a command line: for a JVM, what follows the classpath (main class, args)."""
    if cmdline and Path(cmdline[0]).name == "java":
        for flag in ("-cp", "-classpath", "--class-path", "-jar"):
            if flag in cmdline[:-1]:
                cmdline = ["java", "…", *cmdline[cmdline.index(flag) + 2 :]]
                break
    command = " ".join(cmdline)
    return command if len(command) <= limit else command[: limit - 1] + "…"
