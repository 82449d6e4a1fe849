"""Customers an enrich shard moved out of memory (``PERSONA_ENRICH_MAX_CUSTOMERS``), kept on disk
until they return.

Eviction must not change a decision, so nothing is dropped: an evicted customer's record (its
``EnrichState`` and current offer, as in the customer log) goes into a private SQLite file, and the
customer's next event or order, or a sell-out of a SKU it is offered, takes the record back into memory
first. The file is a cache of what the customer log already holds: every evicted customer was written
to the log before it left memory, so the file is created empty at each start (and unlinked at once:
a crashed process leaves nothing behind), and a restore rebuilds memory from the log and evicts again.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from persona.flows.enrich.chunk_file import make_private_directory


class EvictedCustomers:
    """Records of evicted customers by id, and which of them are offered which recommendation entry."""

    def __init__(self, directory: Path) -> None:
        make_private_directory(directory)
        fd, name = tempfile.mkstemp(prefix="evicted-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self._db = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        # A cache rebuilt at every start: no journal, no fsync, nothing outside the one file.
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=MEMORY"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, record BLOB NOT NULL)")
        self._db.execute("CREATE TABLE offers (entry TEXT NOT NULL, customer INTEGER NOT NULL)")
        self._db.execute("CREATE INDEX offers_by_entry ON offers (entry)")
        self._db.execute("CREATE INDEX offers_by_customer ON offers (customer)")
        os.unlink(name)  # open: the file lives as long as the connection
        self.count = 0

    def put(self, evicted: Iterable[tuple[int, bytes, tuple[str, ...]]]) -> None:
        """Store ``(customer_id, record, offer)`` of customers that leave memory (none already here)."""
        rows = list(evicted)
        db = self._db
        db.execute("BEGIN")
        db.executemany("INSERT INTO customers VALUES (?, ?)", ((c, r) for c, r, _ in rows))
        db.executemany("INSERT INTO offers VALUES (?, ?)", ((e, c) for c, _, offer in rows for e in offer))
        db.execute("COMMIT")
        self.count += len(rows)

    def take(self, customer_id: int) -> bytes | None:
        """The record of ``customer_id``, removed with its offers; None if it is not evicted."""
        db = self._db
        row = db.execute("SELECT record FROM customers WHERE id = ?", (customer_id,)).fetchone()
        if row is None:
            return None
        db.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        db.execute("DELETE FROM offers WHERE customer = ?", (customer_id,))
        self.count -= 1
        record: bytes = row[0]
        return record

    def offered(self, entry: str) -> list[int]:
        """The evicted customers whose current offer holds ``entry``."""
        return [c for (c,) in self._db.execute("SELECT customer FROM offers WHERE entry = ?", (entry,))]

    def close(self) -> None:
        self._db.close()
