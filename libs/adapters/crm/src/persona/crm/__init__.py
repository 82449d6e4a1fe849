"""persona.crm: the CRM database (MariaDB locally, any MySQL-compatible server) through PyMySQL.

An adapter: nothing runs and nothing reads the environment at import; callers pass a
:class:`CrmEndpoint` built from their settings.
"""

from __future__ import annotations

from persona.crm.client import CrmEndpoint, CrmError, connect
from persona.crm.schema import COUNTED_STATUSES, ORDER_STATUSES, TABLES, TABLES_DDL
from persona.crm.store import CrmCustomer, CrmOrder, MariaDbCrm, OrderChange, utc_datetime

__all__ = [
    "COUNTED_STATUSES",
    "ORDER_STATUSES",
    "TABLES",
    "TABLES_DDL",
    "CrmCustomer",
    "CrmEndpoint",
    "CrmError",
    "CrmOrder",
    "MariaDbCrm",
    "OrderChange",
    "connect",
    "utc_datetime",
]
