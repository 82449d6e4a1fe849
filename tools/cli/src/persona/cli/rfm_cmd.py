"""`persona rfm run [--as-of D | --from D --to D] [--master URL]`: the nightly RFM job on the local stack.

Resolves the job's JDBC driver once per machine (infra/local/rfm/pom.xml), then runs the job app
(``python -m persona.jobs.rfm``) as its own process against the stack's CRM and warehouse, as a
Kubernetes CronJob would run its container. Its output is this command's. When the job succeeds, the
nightly tags it made are published into Nessie (``persona publish --follow-rfm-tags``: the three tables
onto main, tagged ``rfm-YYYYMMDD`` in Nessie too) unless PERSONA_PUBLICATION=off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
from typing import Any

from persona.cli.generate_cmd import local_pipeline_env
from persona.localstack import StackError, StackSettings
from persona.localstack.jars import resolve_classpath
from persona.publish import Publisher, PublishError, PublishSettings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rfm", help="the nightly RFM job (CRM -> Spark -> customer_profile)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="compute customer_profile as of a day and tag it rfm-YYYYMMDD")
    run.add_argument("--as-of", type=dt.date.fromisoformat, help="the as-of day (default: yesterday, UTC)")
    run.add_argument("--from", dest="first", type=dt.date.fromisoformat, help="backfill from this day")
    run.add_argument("--to", dest="last", type=dt.date.fromisoformat, help="backfill to this day (inclusive)")
    run.add_argument("--master", default="local[*]", help="Spark master URL (default: local[*])")
    run.set_defaults(func=run_job)


def job_command(args: argparse.Namespace, jars: str) -> list[str]:
    command = [sys.executable, "-m", "persona.jobs.rfm", "--master", args.master, "--jars", jars]
    if args.as_of is not None:
        command += ["--as-of", args.as_of.isoformat()]
    if args.first is not None:
        command += ["--from", args.first.isoformat()]
    if args.last is not None:
        command += ["--to", args.last.isoformat()]
    return command


def job_env(stack: StackSettings, env: dict[str, str]) -> dict[str, str]:
    """The job's environment: the caller's, pointed at the stack's warehouse and CRM."""
    return {
        **env,
        **local_pipeline_env(stack),
        "PERSONA_MARIADB_PORT": str(stack.mariadb_port),
        "PERSONA_CRM_HOST": stack.crm_host,
        "PERSONA_CRM_DATABASE": stack.crm_database,
    }


def run_job(args: argparse.Namespace) -> int:
    try:
        stack = StackSettings.from_env(os.environ)
        classpath = resolve_classpath(stack, "rfm", log.info)
    except StackError as error:
        print(f"rfm: {error}", file=sys.stderr)
        return 1
    jars = ",".join(str(jar) for jar in sorted(classpath.glob("*.jar")))
    env = job_env(stack, dict(os.environ))
    code = subprocess.run(job_command(args, jars), env=env, check=False).returncode
    if code != 0:
        return code
    return publish_rfm_tags(env)


def publish_rfm_tags(env: dict[str, str]) -> int:
    """The nightly tags into Nessie (README "The Iceberg publication"); 1 when that failed."""
    settings = PublishSettings.from_env(env)
    if not settings.enabled:
        print("rfm: PERSONA_PUBLICATION=off: the tags are not published into Nessie")
        return 0
    try:
        reports = Publisher(settings).follow_rfm_tags()
    except PublishError as error:
        print(
            f"rfm: customer_profile is written and tagged in Paimon, but its publication into Nessie failed: "
            f"{error}\n  when Nessie is up: `persona publish --follow-rfm-tags`",
            file=sys.stderr,
        )
        return 1
    for report in reports:
        for line in report.lines():
            print(f"rfm: {line}")
    return 0
