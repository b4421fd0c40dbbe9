"""The report's plots (matplotlib, Agg): overhead, scale (time and memory) and sensor ticks."""

from __future__ import annotations

from pathlib import Path

from report.fmt import med


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_overhead(result: dict, path: Path) -> None:
    plt = _pyplot()
    runs = result["runs"]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for i, name in enumerate(["plain", "pipeline"]):
        values = [r["wall_s"] for r in runs[name]]
        ax.barh(i, med(values), color=["#4c72b0", "#dd8452"][i])
        ax.plot(values, [i] * len(values), "k|", markersize=14)
    ax.set_yticks([0, 1], ["plain script", "pipeline (CLI)"])
    ax.set_xlabel("wall time of one version, seconds (bar: median; ticks: runs)")
    ax.set_title("Orchestration overhead")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scale(result: dict, key: str, label: str, path: Path) -> None:
    plt = _pyplot()
    sizes = sorted(int(r) for r in result["sizes"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, color in [("plain", "#4c72b0"), ("pipeline", "#dd8452")]:
        values = [med([r[key] for r in result["sizes"][str(n)]["runs"][name]]) for n in sizes]
        if key == "max_rss_mb":
            values = [v / 1024 for v in values]
        ax.plot(sizes, values, "o-", color=color, label="plain script" if name == "plain" else "pipeline (CLI)")
    if len(sizes) > 1:  # a line of slope 1 through the plain script's first point: linear growth
        first = med([r[key] for r in result["sizes"][str(sizes[0])]["runs"]["plain"]])
        first = first / 1024 if key == "max_rss_mb" else first
        ax.plot(sizes, [first * n / sizes[0] for n in sizes], ":", color="grey", label="linear in rows")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows in the version")
    ax.set_ylabel(label)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sensors(result: dict, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, color in [("dataset_version_sensor", "#4c72b0"), ("retraining_sensor", "#dd8452")]:
        existing = sorted(int(n) for n in result[name])
        for kind, style in [("warm_s", "o-"), ("idle_s", "x--")]:
            values = [med(result[name][str(n)][kind]) * 1000 for n in existing]
            what = f"{result['new']} new" if kind == "warm_s" else "nothing new"
            ax.plot(existing, values, style, color=color, label=f"{name}, {what}")
    ax.set_xscale("log")
    ax.set_xlabel("existing dataset versions")
    ax.set_ylabel("one tick, ms (median)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
