"""Customer profiles from Paimon ``customer_profile``, held in memory and refreshed per snapshot.

The enrich flow never scans the table per event: it loads the table once, then checks (every
``refresh_seconds``, a read of one small file) whether a newer snapshot was committed — the nightly
RFM job's — and reloads only then.

Each profile carries a label of the snapshot it came from: the snapshot's tag (``rfm-YYYYMMDD``) when
it has one, which is what ``segments explain`` shows. The job tags its snapshot just after committing
it, so a snapshot loaded before its tag exists is looked at again, on the refresh interval, for up to
``TAG_WAIT_SECONDS``, and its profiles relabelled once the tag appears.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import msgspec

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


SNAPSHOT_LABEL_PREFIX = "snapshot:"
# How long after loading an untagged snapshot its tag is still looked for: the job tags right after its
# commit, so minutes are plenty; snapshots that are never tagged stop being checked.
TAG_WAIT_SECONDS = 600.0


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
        # When the loaded snapshot had no tag yet: the time of that load, else None.
        self._untagged_at: float | None = None
        self._current_label: str | None = None
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
        if latest is None:
            return False
        if latest == self._snapshot_id:
            self._maybe_relabel(now)
            return False
        self._load(latest, now)
        return True

    @property
    def label(self) -> str | None:
        """The loaded snapshot's label: its tag, or ``snapshot:<id>``; None before the first load."""
        return self._current_label

    def _load(self, snapshot_id: int, now: float) -> None:
        rows = self._warehouse.read_arrow(self._table, snapshot_id=snapshot_id).to_pylist()
        label = self._label(snapshot_id)
        self._profiles = profiles_from_rows(rows, label)
        self._snapshot_id = snapshot_id
        self._current_label = label
        self._untagged_at = now if label.startswith(SNAPSHOT_LABEL_PREFIX) else None
        self.loads += 1

    def _maybe_relabel(self, now: float) -> None:
        if self._untagged_at is None or self._snapshot_id is None:
            return
        if now - self._untagged_at > TAG_WAIT_SECONDS:
            self._untagged_at = None
            return
        label = self._label(self._snapshot_id)
        if label.startswith(SNAPSHOT_LABEL_PREFIX):
            return
        self._profiles = {
            customer_id: msgspec.structs.replace(profile, snapshot=label)
            for customer_id, profile in self._profiles.items()
        }
        self._current_label = label
        self._untagged_at = None

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
        return f"{SNAPSHOT_LABEL_PREFIX}{snapshot_id}"

    def get(self, customer_id: int) -> CustomerProfile | None:
        return self._profiles.get(customer_id)
