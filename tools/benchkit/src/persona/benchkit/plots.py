"""PNG plots of a bench report (matplotlib, a dev dependency: imported only here)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from persona.benchkit.flow_specs import FLOW_NAMES
from persona.localstack import SERVICES


def _nan_to_none(values: list[float]) -> list[float | None]:
    return [None if (v is None or math.isnan(v)) else v for v in values]


def load_started_s(report: dict[str, Any]) -> float:
    """When the load started (epoch seconds): second 0 of the report's series; samples and window
    shading are placed on the same axis. A report without ``load_started_ms`` derives it: the first
    window began after the warm-up and any extension of it (``settled_s``, 0 when absent)."""
    if report.get("load_started_ms"):
        return float(report["load_started_ms"]) / 1000
    first = report["windows"][0]["start_ms"] / 1000
    return float(first - report["config"]["warmup_s"] - report.get("settled_s", 0.0))


def _bench_timeline(report: dict[str, Any], ax1: Any, ax2: Any, ax3: Any) -> None:
    """The series the bench measured itself: freshness by event second from the read-back, the 2 s
    samples of lag (recovery stores), CPU and RSS (/proc)."""
    series = report["series"]
    t = series["t_s"]
    load_start_s = load_started_s(report)
    ax1.plot(t, _nan_to_none(series["rt_p50_s"]), label="event → rt p50", lw=1)
    ax1.plot(t, _nan_to_none(series["rt_p99_s"]), label="event → rt p99", lw=1)
    ax1.plot(t, _nan_to_none(series["paimon_p50_s"]), label="event → Paimon p50", lw=1)
    ax1.plot(t, _nan_to_none(series["paimon_p99_s"]), label="event → Paimon p99", lw=1)
    ax1.set_ylabel("freshness (s), by event second")
    ax2.plot(t, series["rt_arrivals"], lw=1, label="decisions arriving on rt (/s)")
    samples = report["samples"]
    if samples:
        st = [s["t"] - load_start_s for s in samples]
        offered = [0.0] + [
            (b["offered_total"] - a["offered_total"]) / max(1e-9, b["t"] - a["t"])
            for a, b in itertools.pairwise(samples)
        ]
        ax2.plot(st, offered, lw=1, label="records offered (/s)")
        ax2b = ax2.twinx()
        for name in FLOW_NAMES:
            if any(f"{name}_lag" in s for s in samples):
                lag = [s.get(f"{name}_lag", math.nan) for s in samples]
                ax2b.plot(st, lag, lw=1, ls="--", label=f"{name} lag")
        ax2b.set_ylabel("consumer lag (records, dashed)")
        ax2b.legend(loc="upper right", fontsize=8)
        for name in (*FLOW_NAMES, *SERVICES, "producer", "machine"):
            if any(f"{name}_cpu" in s for s in samples):
                ax3.plot(st, [s.get(f"{name}_cpu", math.nan) for s in samples], lw=1, label=f"{name} CPU %")
        ax3b = ax3.twinx()
        for name in FLOW_NAMES:
            if any(f"{name}_rss_mib" in s for s in samples):
                ax3b.plot(
                    st,
                    [s.get(f"{name}_rss_mib", math.nan) for s in samples],
                    lw=1,
                    ls=":",
                    label=f"{name} RSS",
                )
        ax3b.set_ylabel("RSS (MiB, dotted)")
        ax3b.legend(loc="upper right", fontsize=8)
    ax2.set_ylabel("records/s")
    ax2.legend(loc="upper left", fontsize=8)


def _prometheus_timeline(report: dict[str, Any], ax1: Any, ax2: Any, ax3: Any) -> None:
    """The flows' own metrics as the stack's Prometheus scraped them (``report["prometheus"]``, from
    ``prom_reader``), with the bench's own p99s thin and grey beside them for comparison."""
    prom = report["prometheus"]["series"]
    window = report["prometheus"]["rate_window_s"]
    for sink, name in (("rt", "rt (decided)"), ("paimon", "Paimon")):
        for q in (50, 99):
            for s in prom[f"{sink}_p{q}_s"]:
                ax1.plot(s["t_s"], s["values"], lw=1, label=f"event → {name} p{q}, over {window:g} s")
    own = report["series"]
    for key, name in (("rt_p99_s", "rt"), ("paimon_p99_s", "Paimon")):
        ax1.plot(
            own["t_s"],
            _nan_to_none(own[key]),
            lw=0.6,
            color="grey",
            ls="-" if key.startswith("rt") else "--",
            label=f"bench: event → {name} p99, by event second",
        )
    ax1.set_ylabel("freshness (s), flows' histogram")
    for s in prom["decisions_per_s"]:
        ax2.plot(s["t_s"], s["values"], lw=1, label="decisions (/s)")
    for s in prom["events_in_per_s"]:
        ax2.plot(s["t_s"], s["values"], lw=1, label=f"{s['labels'].get('flow', '?')} records in (/s)")
    ax2.set_ylabel("records/s")
    ax2.legend(loc="upper left", fontsize=8)
    ax2b = ax2.twinx()
    for s in prom["lag_records"]:
        ax2b.plot(s["t_s"], s["values"], lw=1, ls="--", label=f"{s['labels'].get('flow', '?')} lag")
    ax2b.set_ylabel("consumer lag (records, dashed)")
    ax2b.legend(loc="upper right", fontsize=8)
    for s in prom["cpu_percent"]:
        ax3.plot(s["t_s"], s["values"], lw=1, label=f"{s['labels'].get('flow', '?')} CPU %")
    ax3b = ax3.twinx()
    for s in prom["rss_mib"]:
        ax3b.plot(s["t_s"], s["values"], lw=1, ls=":", label=f"{s['labels'].get('flow', '?')} RSS")
    ax3b.set_ylabel("RSS (MiB, dotted)")
    ax3b.legend(loc="upper right", fontsize=8)


def plot_report(report: dict[str, Any], out_dir: Path, stem: str, source: str = "bench") -> list[Path]:
    """The timeline (its series from the bench's own measurements, or with ``source`` "prometheus"
    from the report's ``prometheus`` section) and throughput against the offered rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    load_start_s = load_started_s(report)
    title = f"persona bench {report['started_at']} ({report['machine']['cores']} cores)"

    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    if source == "prometheus":
        title += f"\nseries from Prometheus (step {report['prometheus']['step_s']:g} s)"
        _prometheus_timeline(report, ax1, ax2, ax3)
    else:
        _bench_timeline(report, ax1, ax2, ax3)
    ax1.axhline(30, color="grey", ls=":", lw=1, label="30 s target (Paimon)")
    ax1.set_yscale("symlog", linthresh=1)
    ax1.set_ylim(bottom=0)  # freshness is never negative; symlog would otherwise mirror the axis
    ax1.legend(loc="upper left", fontsize=8)
    ax1.set_title(title, fontsize=10)
    for w in report["windows"]:
        for ax in (ax1, ax2, ax3):
            ax.axvspan(
                w["start_ms"] / 1000 - load_start_s,
                w["end_ms"] / 1000 - load_start_s,
                color="green",
                alpha=0.06,
            )
    ax3.set_ylabel("CPU % of one core")
    ax3.set_xlabel("seconds since load started (shaded: measured windows)")
    ax3.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{stem}-timeline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(7, 5))
    offered = [w["offered_events_eps"] for w in report["windows"]]
    through = [w["throughput_eps"] for w in report["windows"]]
    top = max([*offered, *through, 1.0]) * 1.1
    ax.plot([0, top], [0, top], color="grey", ls=":", lw=1, label="throughput = offered")
    ax.plot(offered, through, "o-", label="decisions/s end to end")
    for w in report["windows"]:
        ax.annotate(
            f"p99 Paimon {w['paimon_p99_s']:.1f}s", (w["offered_events_eps"], w["throughput_eps"]), fontsize=7
        )
    if report["floor_eps"] <= top * 1.5:
        ax.axhline(report["floor_eps"], color="red", ls="--", lw=1, label="floor: bare consumer drain")
    ax.set_xlabel("behavior events offered (/s)")
    ax.set_ylabel("decisions through enrich and sink (/s)")
    ax.set_title(f"{title}\nfloor (bare consumer drain): {report['floor_eps']:,.0f} records/s", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / f"{stem}-throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
