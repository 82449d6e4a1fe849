"""Replace a whole table in one Paimon commit, then name that snapshot with a tag.

The nightly RFM job's write: ``customer_profile`` becomes exactly the job's rows (a customer gone from
the CRM is gone from the table), readers see the old table or the new one, never a mix, and the tag
(``rfm-YYYYMMDD``) lets anyone read that night's profiles later.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from persona.paimon.catalog import PaimonWarehouse
from persona.paimon.writer import PaimonCommitError


def overwrite_table(
    warehouse: PaimonWarehouse, name: str, batches: Iterable[pa.RecordBatch], commit_user: str
) -> tuple[int, int]:
    """Write ``batches`` as the table's entire contents in one commit; (rows, snapshot id).

    Batches are written as they come (each goes to the table's bucket files), so the rows never need
    to be in memory at once; the commit makes them visible together.
    """
    table = warehouse.table(name)
    builder = table.new_batch_write_builder().overwrite()
    write = builder.new_write()
    commit = builder.new_commit()
    rows = 0
    try:
        for batch in batches:
            if batch.num_rows:
                write.write_arrow_batch(batch)
                rows += batch.num_rows
        commit.commit(write.prepare_commit())
    except Exception as error:
        raise PaimonCommitError(
            f"overwriting Paimon table {name} with {rows} rows failed: {type(error).__name__}: {error}"
        ) from error
    finally:
        write.close()
        commit.close()
    snapshot = warehouse.latest_snapshot_id(name)
    if snapshot is None:
        raise PaimonCommitError(f"overwriting Paimon table {name}: no snapshot after the commit")
    return rows, snapshot


def set_tag(warehouse: PaimonWarehouse, name: str, tag: str, snapshot_id: int) -> bool:
    """Point ``tag`` at ``snapshot_id``, replacing an earlier tag of that name; True if it was moved."""
    table = warehouse.table(name)
    existing = {str(t) for t in table.list_tags()}
    if tag in existing:
        table.replace_tag(tag, snapshot_id)
        return True
    table.create_tag(tag, snapshot_id=snapshot_id)
    return False
