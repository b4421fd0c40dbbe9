"""Jobs: named asset selections that sensors and people launch."""

from __future__ import annotations

import dagster as dg

ingest_version_job = dg.define_asset_job(
    name="ingest_version",
    selection=dg.AssetSelection.groups("ingestion"),
    description="Ingest and validate one dataset version.",
)
