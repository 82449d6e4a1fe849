"""Bench: how long `persona stack up` takes cold and warm, and what the idle services cost in RAM.

Runs an isolated stack (its own home, jar cache and ports, so a running dev stack is untouched):

- cold: empty jar cache (the classpaths are resolved with Maven from ~/.m2, or with
  ``--empty-maven-repo`` downloaded from Maven Central), no data: format Kafka, bootstrap Cassandra's
  system keyspaces, create every topic and table;
- warm: jars cached, data present (the second `up` after a `down`).

After each `up` the services idle for ``--idle`` seconds, then their resident memory (VmRSS from
/proc/<pid>/status) is read. Prints a markdown table (and writes it to ``--out``).

    uv run python bench/stack_bench.py [--idle 10] [--empty-maven-repo] [--out bench/out/stack_bench.md]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from persona.localstack import SERVICES, StackSettings, down, running_pid, up
from persona.settings import configure_logging

log = logging.getLogger("stack_bench")


@dataclass(frozen=True)
class Run:
    scenario: str
    total_s: float
    phases: dict[str, float]
    rss_mib: dict[str, float]
    down_s: float


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def measure(settings: StackSettings, scenario: str, idle_s: float, wipe: bool) -> Run:
    began = time.monotonic()
    report = up(settings, progress=lambda message: log.info("[%s] %s", scenario, message))
    total = time.monotonic() - began
    assert set(report.started) == set(SERVICES), f"{scenario}: expected a fresh start, got {report}"
    time.sleep(idle_s)  # the point of the measurement: what idle services hold
    memory = {}
    for service in SERVICES:
        pid = running_pid(settings, service)
        assert pid is not None, f"{service} is not running"
        memory[service] = rss_mib(pid)
    stop_began = time.monotonic()
    down(settings, wipe=wipe, progress=lambda _message: None)
    return Run(scenario, total, report.timings, memory, time.monotonic() - stop_began)


def java_version(java: str) -> str:
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    return (result.stderr or result.stdout).splitlines()[0].strip()


def render(runs: list[Run], settings: StackSettings, notes: list[str]) -> str:
    lines = [
        "# `persona stack up`: cold vs warm",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, {java_version(settings.java)}; "
        f"Kafka heap {settings.kafka_heap}, Cassandra heap {settings.cassandra_heap}.",
        "Seconds since `up` began at which each phase finished (Kafka and Cassandra start in parallel);",
        "RSS after the idle period.",
        "",
        "| scenario | classpaths resolved | Kafka healthy | Cassandra healthy | init done (= total) "
        "| Kafka RSS | Cassandra RSS | `down` |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        resolve = run.phases.get("resolve")
        cells = [
            run.scenario,
            f"{resolve:.1f} s" if resolve is not None else "-",
            f"{run.phases['kafka']:.1f} s",
            f"{run.phases['cassandra']:.1f} s",
            f"{run.total_s:.1f} s",
            f"{run.rss_mib['kafka']:.0f} MiB",
            f"{run.rss_mib['cassandra']:.0f} MiB",
            f"{run.down_s:.1f} s",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *notes]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds before reading RSS")
    parser.add_argument("--port-base", type=int, default=39000, help="ports base+92/93/42, base+700")
    parser.add_argument(
        "--empty-maven-repo", action="store_true", help="also measure a cold start that downloads every jar"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/stack_bench.md"))
    args = parser.parse_args()
    configure_logging()

    scratch = Path(tempfile.mkdtemp(prefix="persona-stack-bench-"))
    runs: list[Run] = []
    try:

        def settings_for(name: str, maven_repo: Path | None = None) -> StackSettings:
            base = StackSettings.from_env(os.environ)
            home = scratch / name / "home"
            return StackSettings(
                home=home,
                warehouse=home / "warehouse",
                jar_cache=scratch / name / "jars",
                repo_root=base.repo_root,
                kafka_port=args.port_base + 92,
                kafka_controller_port=args.port_base + 93,
                cassandra_port=args.port_base + 42,
                cassandra_storage_port=args.port_base + 700,
                java=base.java,
                mvn=base.mvn,
                maven_repo=maven_repo,
            )

        if args.empty_maven_repo:
            settings = settings_for("download", maven_repo=scratch / "download" / "m2")
            runs.append(measure(settings, "cold, jars downloaded from Maven Central", args.idle, wipe=True))
        settings = settings_for("main")
        runs.append(measure(settings, "cold (jars copied from ~/.m2, no data)", args.idle, wipe=False))
        runs.append(measure(settings, "warm (jars cached, data present)", args.idle, wipe=False))
        runs.append(measure(settings, "warm, again", args.idle, wipe=True))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    notes = [
        "Measured in-process through `persona.localstack.up`; the `persona` CLI adds its Python start-up",
        "(importing every command module) on top.",
    ]
    table = render(runs, settings, notes)
    print()
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)


if __name__ == "__main__":
    main()
