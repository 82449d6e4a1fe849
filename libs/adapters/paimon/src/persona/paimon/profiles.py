"""Customer profiles from Paimon ``customer_profile``, held in memory and refreshed per snapshot.

The enrich flow never scans the table per event: it loads the table once, then checks (every
``refresh_seconds``, a read of one small file) whether a newer snapshot was committed — the nightly
RFM job's — and reloads only then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from persona.contracts import CustomerProfile
from persona.paimon import PaimonWarehouse


def profiles_from_rows(rows: list[dict[str, object]], snapshot: str | None) -> dict[int, CustomerProfile]:
    out: dict[int, CustomerProfile] = {}
    for row in rows:
        customer_id = int(row["customer_id"])  # type: ignore[call-overload]
        out[customer_id] = CustomerProfile(
            customer_id=customer_id,
            segment=row["segment"],  # type: ignore[arg-type]
            recency=row["recency"],  # type: ignore[arg-type]
            frequency=row["frequency"],  # type: ignore[arg-type]
            monetary=row["monetary"],  # type: ignore[arg-type]
            lifecycle_stage=row["lifecycle_stage"],  # type: ignore[arg-type]
            rfm_as_of=row["rfm_as_of"],  # type: ignore[arg-type]
            snapshot=snapshot,
        )
    return out


class PaimonProfileStore:
    def __init__(
        self,
        warehouse: PaimonWarehouse,
        table: str = "customer_profile",
        *,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._warehouse = warehouse
        self._table = table
        self._refresh = refresh_seconds
        self._clock = clock
        self._profiles: Mapping[int, CustomerProfile] = {}
        self._snapshot_id: int | None = None
        self._checked_at = float("-inf")
        self.loads = 0

    @property
    def snapshot_id(self) -> int | None:
        return self._snapshot_id

    def __len__(self) -> int:
        return len(self._profiles)

    def maybe_refresh(self) -> bool:
        """Reload if a newer snapshot exists and the refresh interval has passed; True if reloaded."""
        now = self._clock()
        if now - self._checked_at < self._refresh:
            return False
        self._checked_at = now
        latest = self._warehouse.latest_snapshot_id(self._table)
        if latest is None or latest == self._snapshot_id:
            return False
        self._load(latest)
        return True

    def _load(self, snapshot_id: int) -> None:
        rows = self._warehouse.read_arrow(self._table, snapshot_id=snapshot_id).to_pylist()
        self._profiles = profiles_from_rows(rows, self._label(snapshot_id))
        self._snapshot_id = snapshot_id
        self.loads += 1

    def _label(self, snapshot_id: int) -> str:
        # Name the nightly tag when the snapshot is one (e.g. rfm-20261120), else the snapshot id;
        # either one reads the exact profile back with time travel.
        try:
            table = self._warehouse.table(self._table)
            for name in table.tag_manager().list_tags():
                tag = table.tag_manager().get(name)
                if tag is not None and int(tag.id) == snapshot_id:
                    return str(name)
        except Exception:  # tags are a label only; never fail a load over them
            pass
        return f"snapshot:{snapshot_id}"

    def get(self, customer_id: int) -> CustomerProfile | None:
        return self._profiles.get(customer_id)
