"""What the enrich flow needs from an inventory store."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StockLevel:
    sku_id: str
    available_qty: int
    reserved_qty: int
    updated_at: datetime | None

    @property
    def sellable(self) -> int:
        return sellable(self.available_qty, self.reserved_qty)


def sellable(available_qty: int, reserved_qty: int) -> int:
    """DESIGN §3: reserved stock cannot be sold."""
    return max(0, available_qty - reserved_qty)


class InventoryReader(Protocol):
    def read_many(self, sku_ids: Collection[str]) -> Mapping[str, StockLevel]:
        """Rows of the SKUs that exist; a SKU absent from the result is unknown.

        Raises ``InventoryReadError`` when the store cannot be read at all.
        """
        ...


RefreshCallback = Callable[[Mapping[str, StockLevel] | Exception], None]
"""Receives the rows of an asynchronous read (as ``read_many`` returns them) or the error."""
