"""persona.inventory: live stock from Cassandra ``supply.inventory_projection``.

``InventoryReader`` is the small protocol the enrich flow depends on; ``CassandraInventory`` is the
real adapter and ``InventoryCache`` the TTL cache in front of it (clock injected).
A SKU that is missing, or that could not be read, is *unknown* (``None``) and is never promoted.
"""

from persona.inventory.cache import CacheStats, InventoryCache
from persona.inventory.cassandra_store import CassandraInventory, InventoryReadError
from persona.inventory.protocol import InventoryReader, StockLevel, sellable

__all__ = [
    "CacheStats",
    "CassandraInventory",
    "InventoryCache",
    "InventoryReadError",
    "InventoryReader",
    "StockLevel",
    "sellable",
]
