"""Section 6 of the report: the IO manager's format, pickle against Parquet (bench/io_formats.py)."""

from __future__ import annotations

from report.fmt import Section, med, s, table


def io_section(io: dict) -> Section:
    rows = []
    for name, m in io["values"].items():
        rows.append(
            [f"`{name}`"]
            + [
                f"{s(med(m[f]['write_s']), 3)} / {s(med(m[f]['read_s']), 3)} / {med(m[f]['bytes']) / 1e6:.0f} MB"
                for f in ("pickle", "parquet")
            ]
        )
    body = (
        "## 6. The IO manager's format\n\n"
        f"`bench/io_formats.py`: the values the pipeline stores between steps for a {io['rows']:,}-row version, "
        "written as the IO manager writes (temporary file, fsync, rename) and read back, alternating (median "
        "write / read / size):\n\n"
        + table(["value", "pickle (the IO manager)", "Parquet"], rows)
        + "\n\nPickle is several times faster to write and to read; Parquet is smaller. Between steps speed "
        "matters and the files are rewritten by every run, so the IO manager keeps pickle.\n"
    )
    return Section([], body)
