"""An enrich shard's customers on disk: a log that the Bytewax snapshot only points to.

Handing Bytewax the whole shard at every epoch costs what the shard holds, not what changed: the
flow stalls while the shard is encoded and while Bytewax pickles the bytes and writes them into its
SQLite store (BENCHMARKS.md). Here a shard appends the customers that changed, while they change, to
a segment file. A snapshot seals the segment and hands Bytewax a ``LogRef``: the names of the files
that rebuild the shard, oldest first. A child process merges those files into one base when the
segments outgrow it (``compact``), so a restore reads about ``1 + COMPACT_RATIO`` times the live
state at most, and the disk holds little more.

Layout: ``<directory>/shard-<key>/<seq>-<nonce>.seg`` (and ``.base``). A file is ``MAGIC`` and then a
sequence of chunks, each a 4-byte little-endian length, a 4-byte little-endian CRC-32 of the payload,
and the payload: a msgpack ``[customer_ids, records]``, the customers' ids, then their
``[state, offered]`` records in the same order (``state.LogRecord``). Ids apart from records let a
merge read them without walking the records. A later record of a customer replaces an earlier one.
Files never change once sealed. A sealed segment and a finished base are fsynced, so a snapshot
Bytewax stores points to durable files; a chunk that does not match its checksum, or a file cut short,
is damage (a disk or an operator, not a crash: the open segment of a crashed process is never named
by a snapshot) and stops the flow with ``CustomerLogError``, which names the file, the byte and the
recovery (``RECOVERY``). Files without ``MAGIC`` (written before checksums) are read without them.
The directories are created 0700 and the files 0600, whatever the process umask: they hold
customers' behaviour.

Which files stay: those of the shard's last ``KEEP_CHAINS`` snapshots, because Bytewax resumes from
its last committed epoch, which may be a snapshot or two behind the newest. A shard that starts deletes
the files of its directory that the snapshot it resumed from does not name: a crashed process's open
segment, or a base that was never adopted.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import sys
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from persona.flows.enrich.chunk_file import (
    MAGIC,
    RECOVERY,
    CustomerLogError,
    create_file,
    make_private_directory,
    read_chunks,
    write_chunk,
)

log = logging.getLogger(__name__)

COMPACT_RATIO = 2.0
"""Merge the files into a new base once the segments after the base hold this many times its bytes."""

COMPACT_MIN_BYTES = 8 << 20
"""...and at least this much, so a small shard is not rewritten for every few changes."""

KEEP_CHAINS = 4
"""The shard's last snapshots whose files stay on disk (Bytewax may resume from one behind the newest)."""

CHUNK_RECORDS = 8192
"""Records per chunk of a base written by ``compact`` (a restore decodes one chunk at a time)."""


@dataclass(frozen=True)
class LogRef:
    """What a shard's Bytewax snapshot holds instead of its customers: its key and its files."""

    shard: str
    files: tuple[str, ...]


_chunk_ids = msgspec.msgpack.Decoder(tuple[list[int], msgspec.Raw])
_chunk_raw = msgspec.msgpack.Decoder(tuple[list[int], list[msgspec.Raw]])
_encoder = msgspec.msgpack.Encoder()


def compact(out: Path, inputs: list[Path]) -> int:
    """Merge ``inputs`` (oldest first) into ``out``, each customer's newest record only; its bytes.

    Records are moved as msgpack bytes (``msgspec.Raw``), never decoded into state, and in two passes
    (where each customer's newest record is, from the ids alone; then copy those), so no more than
    one chunk of records is held.
    """
    newest: dict[int, int] = {}  # customer -> position of its newest record among all the inputs'
    position = 0
    for path in inputs:
        for chunk in read_chunks(path):
            ids, _records = _chunk_ids.decode(chunk)
            newest.update(zip(ids, itertools.count(position)))
            position += len(ids)
    tmp = out.with_name(out.name + ".tmp")
    kept_ids: list[int] = []
    kept: list[msgspec.Raw] = []
    position_of = newest.__getitem__
    tmp.unlink(missing_ok=True)  # a merge that died before its rename
    with create_file(tmp) as file:
        written = len(MAGIC)
        position = 0
        for path in inputs:
            for chunk in read_chunks(path):
                ids, records = _chunk_raw.decode(chunk)
                if len(records) != len(ids):
                    raise CustomerLogError(
                        f"{path} holds a chunk of {len(ids)} ids and {len(records)} records"
                    )
                for customer, record, at in zip(ids, records, itertools.count(position)):
                    if position_of(customer) == at:
                        kept_ids.append(customer)
                        kept.append(record)
                position += len(ids)
                if len(kept_ids) >= CHUNK_RECORDS:
                    written += write_chunk(file, _encoder.encode((kept_ids, kept)))
                    kept_ids, kept = [], []
        if kept_ids:
            written += write_chunk(file, _encoder.encode((kept_ids, kept)))
        file.flush()
        os.fsync(file.fileno())
    tmp.rename(out)
    _fsync_directory(out.parent)
    return written


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class LogStats:
    """What a process's shard logs did, for the flow's log line."""

    appended_records: int = 0
    appended_bytes: int = 0
    append_seconds: float = 0.0
    seals: int = 0
    seal_seconds: float = 0.0
    compactions: int = 0
    compacted_bytes: int = 0
    compaction_seconds: float = 0.0
    compaction_errors: int = 0


@dataclass
class Merge:
    """One merge: its child process, what it reads and writes, and how it ended once reaped."""

    pid: int
    inputs: tuple[str, ...]
    out: str
    exit_code: int | None = None
    cpu_seconds: float = 0.0


@dataclass
class Compactor:
    """Starts the merges of a process's shards, one at a time, each in a child process.

    A child, not a thread: a merge is Python work over every record of the files, and in a thread it
    would compete with the flow for the GIL for seconds at a time. The child runs this file as a
    script, which imports msgspec, the standard library and ``chunk_file`` only, at a lower priority than the flow;
    its errors go to the flow's stderr, its log.
    """

    stats: LogStats = field(default_factory=LogStats)
    _running: list[Merge] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        """No merge running."""
        self._running = [m for m in self._running if not self.poll(m)]
        return not self._running

    def start(self, directory: Path, out: str, inputs: tuple[str, ...]) -> Merge:
        argv = [sys.executable, "-P", __file__, str(directory / out), *(str(directory / n) for n in inputs)]
        merge = Merge(os.posix_spawn(sys.executable, argv, os.environ), inputs, out)
        self._running.append(merge)
        return merge

    def poll(self, merge: Merge) -> bool:
        """Whether the merge has ended (its child reaped, with its exit code and CPU time)."""
        if merge.exit_code is None:
            pid, status, usage = os.wait4(merge.pid, os.WNOHANG)
            if pid == 0:
                return False
            merge.exit_code = os.waitstatus_to_exitcode(status)
            merge.cpu_seconds = usage.ru_utime + usage.ru_stime
        return True

    def finished(self, merge: Merge, size: int | None) -> None:
        """Count an ended merge: ``size`` is its base's bytes, None if it failed (then logged)."""
        if size is not None:
            self.stats.compactions += 1
            self.stats.compacted_bytes += size
            self.stats.compaction_seconds += merge.cpu_seconds
            return
        self.stats.compaction_errors += 1
        # Imported here: this file is also the merge child's script, which imports only msgspec,
        # ``chunk_file`` and the standard library.
        from persona.settings import kv

        log.warning(
            kv(
                event="customer_log_merge_failed",
                out=merge.out,
                files=len(merge.inputs),
                exit_code=merge.exit_code,
                effect="the files stay as they were; the merge's error is in this log above",
            )
        )


class ShardLog:
    """The files of one shard: ``append`` changed customers, ``seal`` at a snapshot.

    The shard's key is known from its snapshot, or, for a new shard, from its first customer, so the
    files are opened at the first ``append``.
    """

    def __init__(
        self,
        directory: Path,
        compactor: Compactor,
        resume: LogRef | None = None,
    ) -> None:
        self._root = directory
        self._compactor = compactor
        self.shard: str | None = resume.shard if resume is not None else None
        self.files: tuple[str, ...] = resume.files if resume is not None else ()
        self._nonce = secrets.token_hex(4)
        self._seq = max((int(name.split("-", 1)[0]) for name in self.files), default=0)
        self._open: BinaryIO | None = None
        self._open_name: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._sizes: dict[str, int] = {}
        self._kept: deque[tuple[str, ...]] = deque(maxlen=KEEP_CHAINS)
        self._merge: Merge | None = None
        self._cleaned = False

    @property
    def directory(self) -> Path:
        assert self.shard is not None
        return self._root / f"shard-{self.shard}"

    def paths(self) -> list[Path]:
        """The files that rebuild the shard, oldest first; a missing one is an error."""
        if self.shard is None:
            return []
        paths = [self.directory / name for name in self.files]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise CustomerLogError(
                f"the enrich snapshot names files that are gone: {', '.join(missing)}. The customer log "
                "directory (PERSONA_ENRICH_STATE_DIR) must stay with the recovery directory; with the flow "
                "as a cluster, a shard's files are on the process that held it, so the process count, "
                "like PERSONA_ENRICH_SHARDS, is fixed for a recovery store's life. " + RECOVERY
            )
        return paths

    def append(self, shard: str, ids: list[int], records: list[Any]) -> None:
        """Write one chunk, the ``[state, offered]`` records of customers ``ids``, to the open segment."""
        if not ids:
            return
        if self.shard is None:
            self.shard = shard
        started = time.perf_counter()
        if self._open is None:
            self._start_segment()
        assert self._open is not None and self._open_name is not None
        size = write_chunk(self._open, _encoder.encode((ids, records)))
        self._sizes[self._open_name] = self._sizes.get(self._open_name, 0) + size
        stats = self._compactor.stats
        stats.appended_records += len(ids)
        stats.appended_bytes += size
        stats.append_seconds += time.perf_counter() - started

    def seal(self) -> LogRef | None:
        """Close the open segment (fsynced) and return the files that rebuild the shard now."""
        if self.shard is None:
            return None
        started = time.perf_counter()
        if self._open is not None:
            assert self._open_name is not None
            self._open.flush()
            os.fsync(self._open.fileno())
            self._open.close()
            if self._finalizer is not None:
                self._finalizer.detach()
            _fsync_directory(self.directory)
            self.files = (*self.files, self._open_name)
            self._open = self._open_name = None
        self._adopt_compaction()
        self._maybe_compact()
        self._kept.append(self.files)
        self._delete_unreferenced()
        stats = self._compactor.stats
        stats.seals += 1
        stats.seal_seconds += time.perf_counter() - started
        return LogRef(self.shard, self.files)

    def _start_segment(self) -> None:
        directory = self.directory
        if not self._cleaned:
            make_private_directory(self._root)
            make_private_directory(directory)
            self._remove_strays()
            self._cleaned = True
        self._seq += 1
        self._open_name = f"{self._seq:010d}-{self._nonce}.seg"
        self._open = create_file(directory / self._open_name)
        self._sizes[self._open_name] = len(MAGIC)
        # A shard dropped with a segment open (the process ends, a test ends) closes it unsealed.
        self._finalizer = weakref.finalize(self, self._open.close)

    def _remove_strays(self) -> None:
        """Files the resumed snapshot does not name: an earlier process's open segment, its unadopted
        bases, and files of snapshots that were never committed."""
        keep = set(self.files)
        for path in self.directory.iterdir():
            if path.name not in keep:
                path.unlink()

    def _size(self, name: str) -> int:
        size = self._sizes.get(name)
        if size is None:
            size = self._sizes[name] = (self.directory / name).stat().st_size
        return size

    def _maybe_compact(self) -> None:
        if self._merge is not None or len(self.files) < 2 or not self._compactor.idle:
            return
        base, *segments = self.files
        grown = sum(self._size(name) for name in segments)
        if grown < max(COMPACT_RATIO * self._size(base), COMPACT_MIN_BYTES):
            return
        self._seq += 1
        out = f"{self._seq:010d}-{self._nonce}.base"
        self._merge = self._compactor.start(self.directory, out, self.files)

    def _adopt_compaction(self) -> None:
        merge = self._merge
        if merge is None or not self._compactor.poll(merge):
            return
        self._merge = None
        path = self.directory / merge.out
        if merge.exit_code != 0 or not path.is_file():
            # The files it read are intact; a later seal tries again.
            (self.directory / (merge.out + ".tmp")).unlink(missing_ok=True)
            self._compactor.finished(merge, None)
            return
        size = path.stat().st_size
        self._compactor.finished(merge, size)
        assert self.files[: len(merge.inputs)] == merge.inputs, "only a merge replaces the oldest files"
        self._sizes[merge.out] = size
        self.files = (merge.out, *self.files[len(merge.inputs) :])

    def _delete_unreferenced(self) -> None:
        referenced = {name for files in self._kept for name in files}
        if self._merge is not None:
            referenced.update(self._merge.inputs)
            referenced.add(self._merge.out)
        for name in list(self._sizes):
            if name not in referenced and name != self._open_name:
                (self.directory / name).unlink(missing_ok=True)
                del self._sizes[name]


def _main(argv: list[str]) -> None:
    """``python -P customer_log.py OUT INPUT...``: one merge, as ``Compactor`` starts it."""
    os.nice(10)  # the flow's own work first
    compact(Path(argv[0]), [Path(p) for p in argv[1:]])


if __name__ == "__main__":
    _main(sys.argv[1:])
