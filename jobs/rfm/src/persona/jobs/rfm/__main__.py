"""``python -m persona.jobs.rfm``: the nightly RFM job for one day, or a backfill of days in order.

Settings come from the environment (the CRM: PERSONA_CRM_HOST, PERSONA_MARIADB_PORT, PERSONA_CRM_DATABASE,
PERSONA_CRM_USER, PERSONA_CRM_PASSWORD; the warehouse: PERSONA_WAREHOUSE); ``--jars`` names the JDBC
driver (``persona rfm run`` resolves it and starts this for you).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path

from persona.jobs.rfm.job import days, run_day, spark_session
from persona.jobs.rfm.settings import RfmJobSettings
from persona.settings import SettingsError, configure_logging
from persona.settings.registry import LOG_LEVEL

log = logging.getLogger("persona.jobs.rfm")


def _yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m persona.jobs.rfm", description=__doc__)
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, help="the as-of day D (default: yesterday, UTC)"
    )
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, help="backfill from this day")
    parser.add_argument(
        "--to", dest="last", type=dt.date.fromisoformat, help="backfill to this day (inclusive)"
    )
    parser.add_argument("--master", default="local[*]", help="Spark master URL (default local[*])")
    parser.add_argument(
        "--jars", required=True, help="comma-separated jars for Spark (the MariaDB JDBC driver)"
    )
    args = parser.parse_args(argv)
    if (args.first is None) != (args.last is None):
        parser.error("--from and --to go together")
    if args.first is not None and args.as_of is not None:
        parser.error("--as-of or --from/--to, not both")
    return args


def main(argv: list[str] | None = None) -> int:
    configure_logging(LOG_LEVEL.get(os.environ))
    args = parse_args(argv)
    try:
        settings = RfmJobSettings.from_env(os.environ, master=args.master)
        dates = days(args.first, args.last) if args.first is not None else [args.as_of or _yesterday()]
    except (SettingsError, ValueError) as error:
        print(f"rfm: {error}", file=sys.stderr)
        return 2
    jars = [Path(jar) for jar in args.jars.split(",") if jar]
    log.info("starting Spark (%s) for %d day(s): %s … %s", settings.master, len(dates), dates[0], dates[-1])
    spark = spark_session(settings, jars)
    try:
        for day in dates:
            run = run_day(spark, settings, day)
            print(
                f"{run.as_of}: {run.rows:,} profiles, snapshot {run.snapshot_id}, tag {run.tag} "
                f"(Spark {run.spark_seconds:.1f} s, Paimon {run.paimon_seconds:.1f} s)",
                flush=True,
            )
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
