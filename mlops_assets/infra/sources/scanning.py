"""Scanning a data source for new, settling, changed and refused dataset versions (the dataset-version sensor's
logic, a plain function over a data source and what the Dagster instance recorded, so that tests and benchmarks
call it without a sensor context)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlops_assets.infra.sources import DataSource, VersionUnreadable, changed_message
from mlops_assets.infra.version_keys import version_key_problem, version_sort_key

# Seen versions whose cheap fingerprint (names, sizes, times) is looked at again per tick, in turn: a tick's work
# grows with what is new (plus this constant), not with how many versions exist. With 10,000 versions and a 15 s
# interval every version is looked at every 12.5 minutes.
CHANGE_CHECKS_PER_TICK = 200
# Ingested versions whose content is hashed per tick, in turn, whatever their fingerprint says: an edit that keeps
# sizes and times is found within a round (10,000 versions: 21 hours at 15 s). A tick reads at most this many.
HASH_CHECKS_PER_TICK = 2
# A listing is trusted while the folder's mtime stays put; an mtime this recent may still change within the same
# tick of a coarse filesystem clock, so such a listing is not trusted (git's "racy" rule).
RACY_SECONDS = 2.0


@dataclass
class VersionScan:
    new: list[str] = field(default_factory=list)  # settled, never seen: add the partition, request its first run
    retry: dict[str, str] = field(default_factory=dict)  # never ingested, changed, settled again: key -> run key
    settling: list[str] = field(default_factory=list)  # still changing within the quiet period
    refused: dict[str, str] = field(default_factory=dict)  # name -> reason
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # ingested, now differs: key -> (message, hash)
    restored: dict[str, str] = field(default_factory=dict)  # reported changed, back to what was ingested: key -> hash
    cursor: dict = field(default_factory=dict)


def _window(keys: list[str], start: int, size: int) -> tuple[list[str], int]:
    """The next `size` keys from `start`, round-robin, and where the next window starts."""
    if not keys:
        return [], 0
    start %= len(keys)
    return (keys[start:] + keys[:start])[:size], (start + size) % len(keys)


def scan_versions(
    source: DataSource,
    cursor: dict,
    existing_partitions: Callable[[list[str]], set[str]] = lambda keys: set(),
    recorded_hash: Callable[[str], str | None] = lambda key: None,
    now: float | None = None,
    recorded_parts: Callable[[str], dict | None] = lambda key: None,
) -> VersionScan:
    """Compare the versions of `source` with what the cursor has seen and the instance recorded.

    cursor = {"seen": {key: fingerprint}, "settling": {key: "new" | "retry"}, "refused": [names],
    "changed": {key: content hash reported}, "listed_mtime": t, "next_check": i, "next_hash": j}.
    - The source is listed only when its listing time moved. A name that is not a valid key (or is a symbolic
      link) is refused, once. A new name that is already a partition is only remembered (a lost cursor never
      re-requests old versions); any other waits in "settling" until the source says it is settled (files: nothing
      changed for the quiet period, or a matching .landed manifest), then it is requested.
    - CHANGE_CHECKS_PER_TICK seen versions are fingerprinted again, in turn. A changed version that was never
      ingested (`recorded_hash` is None) settles and is requested again; one that was is hashed and compared with
      its recorded data_version. HASH_CHECKS_PER_TICK ingested versions are hashed in turn whatever their
      fingerprint says. A difference is reported once per distinct content (naming the files that changed when
      `recorded_parts` and the source know the parts' hashes); a return to the recorded content too.
    """
    now = time.time() if now is None else now
    seen: dict[str, str] = dict(cursor.get("seen", {}))
    settling: dict[str, str] = dict(cursor.get("settling", {}))
    refused = set(cursor.get("refused", []))
    reported: dict[str, str] = dict(cursor.get("changed", {}))
    listed = cursor.get("listed_mtime")
    scan = VersionScan()

    mtime = source.listing_mtime()
    if mtime is None or mtime != listed:
        candidates = []
        listed_now = source.list_versions()
        # A refused name stays refused unless it was refused for what it is (a link) and is now a real folder.
        unknown = [
            name
            for name in listed_now
            if name not in seen and name not in settling and (name not in refused or listed_now[name] is None)
        ]
        for name in sorted(unknown, key=version_sort_key):  # only what is new is sorted (10,000 names: 25 ms)
            problem = version_key_problem(name) or listed_now[name]
            if not problem:
                refused.discard(name)
                candidates.append(name)
            elif name not in refused:
                scan.refused[name] = problem
                refused.add(name)
        partitions = existing_partitions(candidates) if candidates else set()
        for name in candidates:
            if name not in partitions:
                settling[name] = "new"
                continue
            try:
                seen[name] = source.fingerprint(name).identity
            except FileNotFoundError:
                continue
        listed = mtime if mtime is not None and now - mtime > RACY_SECONDS else None

    def compare(name: str, recorded: str) -> None:
        try:
            current, message = source.content_hash(name), None
        except FileNotFoundError:
            return
        except VersionUnreadable as error:
            current, message = "unreadable", f"Dataset version {name!r} changed after it was ingested: {error}"
        if current == recorded:
            if reported.pop(name, None) is not None:
                scan.restored[name] = current
        elif reported.get(name) != current:
            reported[name] = current
            if message is None:  # hashed once more, per distinct change only, to name the files that changed
                try:
                    parts = source.part_hashes(name)
                except (FileNotFoundError, VersionUnreadable):
                    parts = None
                message = changed_message(name, recorded, current, recorded_parts(name), parts)
            scan.changed[name] = (message, current)

    keys = [name for name in seen if name not in settling]
    window, next_check = _window(keys, cursor.get("next_check", 0), CHANGE_CHECKS_PER_TICK)
    hashed = set()
    for name in window:
        try:
            identity = source.fingerprint(name).identity
        except FileNotFoundError:
            continue
        if identity == seen[name]:
            continue
        seen[name] = identity
        recorded = recorded_hash(name)
        if recorded is None:
            settling[name] = "retry"  # never ingested successfully: ingest it again once it has settled
        else:
            compare(name, recorded)
            hashed.add(name)
    rotation, next_hash = _window(keys, cursor.get("next_hash", 0), HASH_CHECKS_PER_TICK)
    for name in rotation:
        recorded = None if name in hashed or name in settling else recorded_hash(name)
        if recorded is not None:
            compare(name, recorded)

    # Last, so that a version found changed above is judged in the same tick.
    for name in sorted(settling, key=version_sort_key):
        try:
            fingerprint = source.fingerprint(name)
        except FileNotFoundError:
            del settling[name]  # removed before it settled
            continue
        if fingerprint.problem:
            scan.refused[name] = fingerprint.problem
            refused.add(name)
            del settling[name]
        elif not source.settled(name, fingerprint, now):
            scan.settling.append(name)
        else:
            seen[name] = fingerprint.identity
            if settling.pop(name) == "new":
                scan.new.append(name)
            else:
                scan.retry[name] = f"ingest:{name}:{fingerprint.identity[:8]}"

    scan.cursor = {
        "seen": seen,
        "settling": settling,
        "refused": sorted(refused),
        "changed": reported,
        "listed_mtime": listed,
        "next_check": next_check,
        "next_hash": next_hash,
    }
    return scan
