"""The customer log's file format: checksummed chunks in private files; damage is a clear error."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from persona.flows.enrich.chunk_file import (
    MAGIC,
    RECOVERY,
    CustomerLogError,
    create_file,
    make_private_directory,
    read_chunks,
    write_chunk,
)

PAYLOADS = [b"first chunk", b"", b"\x00\xff" * 1000]


def _write(path: Path) -> None:
    with create_file(path) as file:
        for payload in PAYLOADS:
            write_chunk(file, payload)


def test_chunks_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "1.seg"
    _write(path)
    assert path.read_bytes().startswith(MAGIC)
    assert list(read_chunks(path)) == PAYLOADS


def test_a_file_without_magic_is_read_as_before_checksums(tmp_path: Path) -> None:
    path = tmp_path / "old.seg"
    path.write_bytes(b"".join(struct.pack("<I", len(p)) + p for p in PAYLOADS))
    assert list(read_chunks(path)) == PAYLOADS


@pytest.mark.parametrize("offset", [len(MAGIC) + 8, -1, -1000])
def test_a_flipped_byte_fails_the_checksum(tmp_path: Path, offset: int) -> None:
    path = tmp_path / "1.seg"
    _write(path)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CustomerLogError, match="fails its checksum") as error:
        list(read_chunks(path))
    assert str(path) in str(error.value) and RECOVERY in str(error.value)


@pytest.mark.parametrize("cut", [1, 5, 10])
def test_a_truncated_file_is_damage(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "1.seg"
    _write(path)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    with pytest.raises(CustomerLogError, match="truncated"):
        list(read_chunks(path))


def test_garbage_after_the_magic_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "1.seg"
    path.write_bytes(MAGIC + os.urandom(64))
    with pytest.raises(CustomerLogError):
        list(read_chunks(path))


def test_files_and_directories_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        directory = tmp_path / "state" / "shard-1"
        make_private_directory(directory)
        path = directory / "1.seg"
        _write(path)
        (tmp_path / "open").mkdir(mode=0o755)
        make_private_directory(tmp_path / "open")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "open").stat().st_mode) == 0o700
