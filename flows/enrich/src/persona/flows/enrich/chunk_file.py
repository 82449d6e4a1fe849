"""The file format of an enrich shard's customer log (``customer_log``): private files of checksummed
chunks.

A file is ``MAGIC`` and then chunks, each a 4-byte little-endian length, a 4-byte little-endian CRC-32
of the payload, and the payload. Files without ``MAGIC`` (written before checksums) are read without
them. A truncated file or a chunk that fails its checksum is damage: ``CustomerLogError`` names the
file, the byte and the recovery (``RECOVERY``). Directories are created 0700 and files 0600, whatever
the process umask: they hold customers' behaviour.

Standard library only: the merge child (``customer_log`` run as a script) imports it.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_LENGTH = struct.Struct("<I")
_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload

MAGIC = b"PCL\x02"
"""The first bytes of a checksummed file. Read as an old file's first chunk length it would announce a
~38 MiB chunk, far above any chunk persona writes (``CHUNK_RECORDS`` records of a few hundred bytes)."""

RECOVERY = (
    "Recovery (docs/reliability.md): stop the enrich flow, remove its recovery directory and its "
    "customer log directory (PERSONA_ENRICH_STATE_DIR), and start it again: it reads its inputs from "
    "the beginning and rebuilds every customer, deciding again with the same versions (Kafka must still "
    "hold them: retention)"
)

_DIR_MODE = 0o700
_FILE_MODE = 0o600


def write_chunk(file: BinaryIO, payload: bytes) -> int:
    file.write(_HEADER.pack(len(payload), zlib.crc32(payload)))
    file.write(payload)
    return _HEADER.size + len(payload)


def create_file(path: Path) -> BinaryIO:
    """A new log file (it must not exist), private (0600), with ``MAGIC`` written."""
    file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE), "wb")
    file.write(MAGIC)
    return file


def make_private_directory(path: Path) -> None:
    """``path``, 0700, with its missing parents (those the default mode, as ``mkdir -p``); an
    existing ``path`` is made 0700 too."""
    path.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(_DIR_MODE)


def _damaged(path: Path, at: int, what: str) -> CustomerLogError:
    return CustomerLogError(f"{path}: {what} at byte {at}: the customer log is damaged. {RECOVERY}")


def read_chunks(path: Path) -> Iterator[bytes]:
    """The chunks of one file, one in memory at a time, each checked against its CRC-32 (files with
    ``MAGIC``). A truncated file or a chunk that fails its checksum is an error (``CustomerLogError``
    with the recovery), never a silently shorter or different state."""
    with path.open("rb") as file:
        checked = file.read(len(MAGIC)) == MAGIC
        if not checked:
            file.seek(0)
        header_size = _HEADER.size if checked else _LENGTH.size
        at = file.tell()
        while header := file.read(header_size):
            if len(header) < header_size:
                raise _damaged(path, at, "the file is truncated: it ends inside a chunk header")
            if checked:
                length, crc = _HEADER.unpack(header)
            else:
                (length,) = _LENGTH.unpack(header)
            chunk = file.read(length)
            if len(chunk) < length:
                raise _damaged(
                    path,
                    at,
                    f"the file is truncated: it ends inside a chunk ({length} bytes announced, {len(chunk)} there)",
                )
            if checked and zlib.crc32(chunk) != crc:
                raise _damaged(path, at, "a chunk fails its checksum")
            yield chunk
            at += header_size + length


class CustomerLogError(RuntimeError):
    """A shard's files are missing or damaged: the state cannot be rebuilt from them."""
