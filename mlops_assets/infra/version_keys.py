"""Dataset version keys and folders: which names can be versions, their natural order, and the landing markers.

Dagster itself accepts any partition key; these rules are checked before a key is ever added (wiring/partitions.py
makes the partitions, infra/sources/ and commands/landing.py the folders).
"""

from __future__ import annotations

import re

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")  # the files of a version folder that hold its rows
LANDING_PREFIX = ".landing-"  # a version being landed (written, then renamed to its key); the sensor skips these
# Written last into a landed version: its data files' names and sizes. A folder whose files match it is complete, so
# the sensor ingests it without waiting for the quiet period (landing.py writes it).
LANDED_MANIFEST = ".landed"

_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def version_key_problem(key: str) -> str | None:
    """Why `key` cannot be a dataset version, or None when it can.

    Dagster itself accepts any key; a key with `/` would make the filesystem IO manager write into (and delete)
    another partition's stored output, so keys are checked here before they are ever added.
    """
    if not key:
        return "the name is empty"
    if len(key) > 64:
        return f"the name has {len(key)} characters; at most 64 are allowed"
    if ".." in key:
        return "the name contains '..'"
    if not _KEY_PATTERN.fullmatch(key):
        bad = sorted({repr(c) for c in key if not (c.isascii() and (c.isalnum() or c in "._-"))})
        if bad:
            return f"the name contains {', '.join(bad)}; only letters, digits, '.', '_' and '-' are allowed"
        return "the name must start with a letter or a digit"
    return None


def version_sort_key(key: str) -> list:
    """Natural order of version keys: numbers compare as numbers, so `rows-2000` comes before `rows-10000`."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", key)]
