"""What every data source shares: the `DataSource` API and what it returns (sources/__init__.py describes it)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FAILURE_COLUMNS = ["file", "row", "column", "check", "value"]


@dataclass(frozen=True)
class Fingerprint:
    identity: str  # changes whenever the version's data files (or rows) may have changed
    modified_at: float | None = None  # newest modification (unix seconds); None: the source has no such time
    problem: str | None = None  # why the version cannot be read at all (a folder that is a symbolic link)
    manifest: bool = False  # a .landed manifest is present (files)


@dataclass
class RawVersion:
    """What `read` found: the parts it parsed, failures of the parts it could not, and the hash of what it read."""

    key: str
    location: str  # for messages and the UI: a folder, or "table x"; never credentials
    names: list[str]  # every data part of the version, read or not
    parts: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # rows of FAILURE_COLUMNS
    content_hash: str = ""
    part_hashes: dict[str, str] | None = None  # name -> SHA-256 of the part alone (None: the source cannot tell)


class VersionUnreadable(Exception):
    """The version cannot be read at all (it is gone, or is a symbolic link): the message says why."""


class DataSource(ABC):
    location: str

    def listing_mtime(self) -> float | None:
        """A time that moves whenever versions are added, renamed or removed; None: list every time."""
        return None

    @abstractmethod
    def list_versions(self) -> dict[str, str | None]:
        """Every candidate version name, with None or the reason it can never be a version."""

    @abstractmethod
    def fingerprint(self, key: str) -> Fingerprint:
        """Cheap identity of a version; raises FileNotFoundError when it is gone."""

    def settled(self, key: str, fingerprint: Fingerprint, now: float) -> bool:
        """Whether the version is complete (a database commits a version at once)."""
        return True

    @abstractmethod
    def content_hash(self, key: str) -> str:
        """SHA-256 of the version's content, equal to `read(key).content_hash`."""

    def part_hashes(self, key: str) -> dict[str, str] | None:
        """Each part's own SHA-256, equal to `read(key).part_hashes`; None when the source cannot tell."""
        return None

    @abstractmethod
    def read(self, key: str) -> RawVersion:
        """The version's rows per part; raises VersionUnreadable or FileNotFoundError when there is nothing to read."""

    def close(self) -> None:  # noqa: B027 (most sources hold nothing to release)
        """Release connections (a database source keeps one pool for its lifetime)."""

    def __enter__(self) -> DataSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
