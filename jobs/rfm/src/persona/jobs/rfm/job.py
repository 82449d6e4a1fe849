"""The nightly RFM job (DESIGN §4b): the CRM over JDBC -> Spark aggregates -> the pure rules in
``mapInArrow`` -> Arrow -> one Paimon overwrite of ``customer_profile`` -> tag ``rfm-YYYYMMDD``.

Erased customers stay erased (docs/erasure.md): the CRM may still hold a customer ``persona erase``
removed, so the job applies the erasure rule (``persona.decisions.erasure``) to what it reads. An order
at or before the customer's latest erasure is the erased past and not counted; an erased customer gets
a profile only from orders after the erasure (a comeback, with the erasure's day as the day they
became a customer, so no earlier history shows), and none without such an order. Every erasure
recorded when the job runs applies to every day it computes, a backfill of a day before the erasure
included: a tagged past profile must not bring the customer's data back.

No Paimon connector for Spark 4 exists here, so Spark hands the profiles over as Arrow record batches
(``toArrow``) and pypaimon writes them; no row ever becomes a Python object outside the rules.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from persona.contracts import DAY_MS
from persona.decisions.rfm import COUNTED_STATUSES, RfmV1Config, tag_name
from persona.jobs.rfm.arrow_rules import PROFILE_SCHEMA, classify_batches, epoch_day
from persona.jobs.rfm.settings import RfmJobSettings
from persona.paimon import PaimonError, PaimonWarehouse, latest_erasures
from persona.paimon.overwrite import overwrite_table, set_tag

log = logging.getLogger(__name__)

COMMIT_USER = "persona-rfm"
DRIVER_MEMORY = "2g"
# Batches handed to pypaimon: bounded memory per write call, and few enough calls.
WRITE_BATCH_ROWS = 200_000
PROFILE_DDL = (
    "customer_id long, segment string, recency int, frequency int, monetary decimal(12,2), "
    "lifecycle_stage string, rfm_as_of date"
)


@dataclass(frozen=True)
class RfmRun:
    as_of: dt.date
    rows: int
    snapshot_id: int
    tag: str
    tag_moved: bool
    # Seconds: Spark's read, aggregation and classification (until Arrow is in hand), then Paimon's write.
    spark_seconds: float
    paimon_seconds: float


def spark_session(settings: RfmJobSettings, jars: Sequence[Path]) -> Any:
    """A Spark session for the job: UTC everywhere, the JDBC driver on the classpath, no UI."""
    from pyspark.sql import SparkSession

    # The Python workers must be this interpreter (the workspace's, with persona installed).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    cores = os.cpu_count() or 2
    session = (
        SparkSession.builder.master(settings.master)
        .appName("persona-rfm")
        .config("spark.jars", ",".join(str(jar) for jar in jars))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "50000")
        # local mode: the driver is the whole Spark; the profiles come back to it as Arrow.
        .config("spark.driver.memory", DRIVER_MEMORY)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("WARN")
    return session


def _jdbc(spark: Any, settings: RfmJobSettings, table: str, **options: Any) -> Any:
    reader = (
        spark.read.format("jdbc")
        .option("url", settings.jdbc_url)
        .option("driver", "org.mariadb.jdbc.Driver")
        .option("user", settings.crm_user)
        .option("password", settings.crm_password.reveal())
        .option("dbtable", table)
        .option("fetchsize", "10000")
    )
    for key, value in options.items():
        reader = reader.option(key, str(value))
    return reader.load()


ERASED_SCHEMA = pa.schema(
    [pa.field("customer_id", pa.int64(), nullable=False), pa.field("erased_ms", pa.int64(), nullable=False)]
)


def erased_frame(erased: dict[int, int]) -> pa.Table:
    """Erased customers and their newest erasure instant (``latest_erasures``) as the Arrow table the
    Spark query joins with."""
    return pa.table(
        {"customer_id": list(erased), "erased_ms": list(erased.values())},
        schema=ERASED_SCHEMA,
    )


def read_erasures(warehouse: PaimonWarehouse, table: str) -> pa.Table:
    """The erased customers the job must keep erased; none when the warehouse has no erasures table
    (said in the log: no erasure was ever applied there)."""
    try:
        rows = warehouse.read_arrow(table, columns=["customer_id", "requested_at"])
    except PaimonError as error:
        log.warning("no erasures table (%s): no erased customer to keep out", error)
        return ERASED_SCHEMA.empty_table()
    return erased_frame(latest_erasures(rows))


def profiles_frame(
    spark: Any,
    settings: RfmJobSettings,
    as_of: dt.date,
    rules: RfmV1Config,
    erased: pa.Table | None = None,
) -> Any:
    """The ``customer_profile`` rows of D as a Spark DataFrame (lazy); ``erased``: customers to keep
    erased (``erased_frame``)."""
    from pyspark.sql import functions as F

    day_after = (as_of + dt.timedelta(days=1)).isoformat()
    # Days since the epoch computed by MariaDB from the stored (UTC) DATETIMEs: plain integers, so no
    # JVM or Spark time zone can shift a date.
    customers_sql = (
        "(SELECT customer_id, DATEDIFF(created_at, '1970-01-01') AS created_day "
        f"FROM customers WHERE created_at < '{day_after}') AS c"
    )
    statuses = ", ".join(f"'{status}'" for status in sorted(COUNTED_STATUSES))
    # Pushed down: only counted orders of D or before leave the database (DESIGN §4b, 1.).
    # order_ms: the order's instant in epoch ms (UTC, as stored), for the erasure rule.
    orders_sql = (
        "(SELECT customer_id, total_amount, DATEDIFF(order_time, '1970-01-01') AS order_day, "
        "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', order_time) DIV 1000 AS order_ms "
        f"FROM orders WHERE status IN ({statuses}) AND order_time < '{day_after}') AS o"
    )
    bounds = _jdbc(
        spark, settings, "(SELECT MIN(customer_id) AS lo, MAX(customer_id) AS hi FROM customers) AS b"
    )
    lo, hi = bounds.first()
    partitions = max(1, spark.sparkContext.defaultParallelism * 2)
    partitioned = {"partitionColumn": "customer_id", "lowerBound": lo or 0, "upperBound": (hi or 0) + 1}
    customers = _jdbc(spark, settings, customers_sql, numPartitions=partitions, **partitioned)
    orders = _jdbc(spark, settings, orders_sql, numPartitions=partitions, **partitioned)
    if erased is not None and erased.num_rows:
        gone = F.broadcast(spark.createDataFrame(erased))
        # The erased past is not counted; a comeback is a customer since the erasure's day.
        orders = (
            orders.join(gone, "customer_id", "left")
            .where(F.col("erased_ms").isNull() | (F.col("order_ms") > F.col("erased_ms")))
            .drop("erased_ms")
        )
        customers = (
            customers.join(gone, "customer_id", "left")
            .withColumn(
                "created_day",
                F.when(F.col("erased_ms").isNull(), F.col("created_day")).otherwise(
                    F.greatest(F.col("created_day"), F.floor(F.col("erased_ms") / DAY_MS).cast("int"))
                ),
            )
            .withColumn("erased", F.col("erased_ms").isNotNull())
            .drop("erased_ms")
        )
    else:
        customers = customers.withColumn("erased", F.lit(False))
    in_window = F.col("order_day") >= epoch_day(rules.window_start(as_of))
    aggregates = orders.groupBy("customer_id").agg(
        F.sum(F.when(in_window, 1).otherwise(0)).cast("long").alias("frequency"),
        F.sum(F.when(in_window, F.col("total_amount"))).cast("decimal(22,2)").alias("monetary"),
        F.max("order_day").cast("int").alias("last_day"),
    )
    joined = (
        customers.join(aggregates, "customer_id", "left")
        # An erased customer with no order since the erasure has no profile: nothing came back.
        .where(~F.col("erased") | F.col("last_day").isNotNull())
    ).select(
        F.col("customer_id").cast("long"),
        F.col("created_day").cast("int"),
        "frequency",
        "monetary",
        "last_day",
    )
    return joined.mapInArrow(lambda batches: classify_batches(batches, as_of, rules), PROFILE_DDL)


def run_day(spark: Any, settings: RfmJobSettings, as_of: dt.date) -> RfmRun:
    started = time.monotonic()
    warehouse = PaimonWarehouse(settings.warehouse)
    erased = read_erasures(warehouse, settings.erasures_table)
    if erased.num_rows:
        log.info("%s: %d erased customers kept out (orders since their erasure only)", as_of, erased.num_rows)
    frame = profiles_frame(spark, settings, as_of, settings.rules, erased)
    table: pa.Table = frame.toArrow()
    spark_seconds = time.monotonic() - started
    log.info("%s: %d profiles computed by Spark in %.1f s", as_of, table.num_rows, spark_seconds)
    written = time.monotonic()
    batches = (batch.cast(PROFILE_SCHEMA) for batch in table.to_batches(max_chunksize=WRITE_BATCH_ROWS))
    rows, snapshot = overwrite_table(warehouse, settings.profile_table, batches, COMMIT_USER)
    tag = tag_name(as_of)
    moved = set_tag(warehouse, settings.profile_table, tag, snapshot)
    paimon_seconds = time.monotonic() - written
    log.info(
        "%s: %d profiles replace %s in snapshot %d, tagged %s%s (%.1f s)",
        as_of,
        rows,
        settings.profile_table,
        snapshot,
        tag,
        " (moved from an earlier run)" if moved else "",
        paimon_seconds,
    )
    return RfmRun(as_of, rows, snapshot, tag, moved, spark_seconds, paimon_seconds)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last`` inclusive, in date order (a backfill's run order)."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
