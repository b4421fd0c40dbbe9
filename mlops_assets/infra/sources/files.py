"""Dataset versions as folders of CSV and Parquet files, `<url>/<key>/`, on a local disk or any fsspec filesystem.

Symbolic links are refused before a byte is read: a version folder that is a link never becomes a version, and a
data file that is a link is a failure of that file. Entries are looked at with lstat (fsspec's `islink`), and local
files are opened with O_NOFOLLOW, so a link swapped in after the listing is refused all the same.

A folder is settled (may be read) when nothing in it changed for the quiet period, or when its `.landed` manifest
(landing.py writes it last) names exactly its data files and their sizes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from stat import S_ISDIR, S_ISLNK

from mlops_assets.infra.sources.base import DataSource, Fingerprint, RawVersion, VersionUnreadable
from mlops_assets.infra.version_keys import DATA_SUFFIXES, LANDED_MANIFEST, LANDING_PREFIX

LINK_FOLDER = "it is a symbolic link; a version must be a real folder (a link can point anywhere)"
LINK_FILE = "a symbolic link: refused unread (a link can point anywhere); copy the file into the version"
_LINK_MARK = b"(symbolic link)"  # what a link contributes to the content hash: its name and this, never its target
_CHUNK = 1 << 20


def _name(info: dict) -> str:
    return info["name"].rstrip("/").rsplit("/", 1)[-1]


def _modified(info: dict) -> float | None:
    """The modification time fsspec reports (local: mtime; object stores: LastModified, updated or created)."""
    for key in ("mtime", "LastModified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def _is_data(info: dict) -> bool:
    return (info["type"] == "file" or bool(info.get("islink"))) and _name(info).lower().endswith(DATA_SUFFIXES)


def _file_failure(name: str, check: str, value: str) -> dict:
    return {"file": name, "row": None, "column": "(file)", "check": check, "value": value}


def hash_part(digest, name: str, chunks) -> str:
    """One data part into a version's content hash: its name, then its bytes (the hash data_versions always had).
    Returns the part's own SHA-256 (of its bytes), which tells a changed part from the others."""
    part = hashlib.sha256()
    digest.update(name.encode() + b"\0")
    for chunk in chunks:
        digest.update(chunk)
        part.update(chunk)
    digest.update(b"\0")
    return part.hexdigest()


class FileSource(DataSource):
    def __init__(self, url: str | Path, contract: str, quiet_period_seconds: float = 30.0):
        from upath import UPath

        root = UPath(str(url))
        self.fs = root.fs
        self.root = root.path.rstrip("/") or "/"
        self.local = root.protocol in ("", "file", "local")
        self.location = str(url)
        self.quiet_period_seconds = quiet_period_seconds
        self.contract = contract  # `module:Class`: a CSV header must name its columns

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _info(self, path: str) -> dict:
        """fsspec's info of `path` itself; a link is reported as a link (lstat: what it points to is not looked at)."""
        if not self.local:
            return self.fs.info(path)
        stat = os.lstat(path)
        kind = "directory" if S_ISDIR(stat.st_mode) else "other"
        return {"name": path, "type": kind, "islink": S_ISLNK(stat.st_mode), "mtime": stat.st_mtime}

    def _ls(self, path: str, stat: bool = True) -> list[dict]:
        """fsspec's detailed listing of a folder. On a local disk it comes from os.scandir, without following links
        and, for the versions folder, without a stat per entry: fsspec's own took 0.17 ms per version folder and
        200 ms to list 10,000 versions, against 0.03 ms and 12 ms."""
        if not self.local:
            self.fs.invalidate_cache(path)
            return self.fs.ls(path, detail=True)
        entries = []
        with os.scandir(path) as found:
            for entry in found:
                if entry.is_dir(follow_symlinks=False):
                    kind = "directory"
                else:
                    kind = "file" if entry.is_file(follow_symlinks=False) else "other"
                info = {"name": entry.path, "type": kind, "islink": entry.is_symlink()}
                if stat:
                    status = entry.stat(follow_symlinks=False)
                    info.update(size=status.st_size, mtime=status.st_mtime)
                entries.append(info)
        return entries

    def listing_mtime(self) -> float | None:
        try:
            return _modified(self.fs.info(self.root)) if not self.local else os.stat(self.root).st_mtime
        except FileNotFoundError:
            return None

    def list_versions(self) -> dict[str, str | None]:
        try:
            entries = self._ls(self.root, stat=False)
        except FileNotFoundError:
            return {}
        found: dict[str, str | None] = {}
        for entry in entries:
            name = _name(entry)
            if name.startswith(LANDING_PREFIX):
                continue  # still being landed
            if entry.get("islink"):
                found[name] = LINK_FOLDER
            elif entry["type"] == "directory":
                found[name] = None
        return found

    def _listing(self, key: str) -> tuple[dict, list[dict]]:
        """The folder's own info and its entries, never following a link."""
        path = self._path(key)
        folder = self._info(path)  # FileNotFoundError when it is gone
        if folder.get("islink"):
            raise VersionUnreadable(f"{path}: {LINK_FOLDER}")
        if folder["type"] != "directory":
            raise FileNotFoundError(f"{path} is not a folder")
        return folder, self._ls(path)

    def _data_files(self, key: str) -> list[dict]:
        return sorted((e for e in self._listing(key)[1] if _is_data(e)), key=_name)

    def fingerprint(self, key: str) -> Fingerprint:
        try:
            folder, entries = self._listing(key)
        except VersionUnreadable as error:
            return Fingerprint("link", problem=str(error))
        data = sorted((_name(e), e.get("size"), _modified(e), bool(e.get("islink"))) for e in entries if _is_data(e))
        times = [t for t in (_modified(folder), *(entry[2] for entry in data)) if t is not None]
        return Fingerprint(
            identity=hashlib.sha256(repr(data).encode()).hexdigest()[:16],
            modified_at=max(times, default=None),
            manifest=any(_name(e) == LANDED_MANIFEST for e in entries),
        )

    def settled(self, key: str, fingerprint: Fingerprint, now: float) -> bool:
        if fingerprint.manifest and self._manifest_matches(key):
            return True
        # A time in the future (a writer's clock ahead of ours) counts as just modified.
        return fingerprint.modified_at is None or now - fingerprint.modified_at >= self.quiet_period_seconds

    def _manifest_matches(self, key: str) -> bool:
        try:
            with self._open(f"{self._path(key)}/{LANDED_MANIFEST}") as handle:
                manifest = json.loads(handle.read(1 << 20))
        except (OSError, ValueError):
            return False
        files = {_name(e): e.get("size") for e in self._data_files(key) if not e.get("islink")}
        return isinstance(manifest, dict) and manifest.get("files") == files

    def _open(self, path: str):
        """A binary reader that refuses a symbolic link (ELOOP) instead of following it."""
        if self.local:
            flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
            return os.fdopen(os.open(path, flags), "rb")
        return self.fs.open(path, "rb")

    def _chunks(self, path: str) -> Iterator[bytes]:
        with self._open(path) as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    def _hashes(self, key: str) -> tuple[str, dict[str, str]]:
        digest, parts = hashlib.sha256(), {}
        for entry in self._data_files(key):
            chunks = [_LINK_MARK] if entry.get("islink") else self._chunks(entry["name"])
            parts[_name(entry)] = hash_part(digest, _name(entry), chunks)
        return digest.hexdigest(), parts

    def content_hash(self, key: str) -> str:
        return self._hashes(key)[0]

    def part_hashes(self, key: str) -> dict[str, str]:
        return self._hashes(key)[1]

    def read(self, key: str) -> RawVersion:
        from mlops_assets.stages.reading import parse_file

        files = self._data_files(key)
        version = RawVersion(key, self._path(key), [_name(e) for e in files], part_hashes={})
        if not files:
            reason = f"no {' or '.join(DATA_SUFFIXES)} files in {self._path(key)}"
            version.failures.append(_file_failure("(none)", "has data files", reason))
        digest = hashlib.sha256()
        for entry in files:
            name = _name(entry)
            data = None
            if not entry.get("islink"):
                try:
                    with self._open(entry["name"]) as handle:
                        data = handle.read()
                except OSError as error:
                    if error.errno != errno.ELOOP:  # ELOOP: a link swapped in since the listing
                        raise
            if data is None:
                version.part_hashes[name] = hash_part(digest, name, [_LINK_MARK])
                version.failures.append(_file_failure(name, "not a symbolic link", LINK_FILE))
                continue
            version.part_hashes[name] = hash_part(digest, name, [data])  # the hash of exactly the bytes parsed
            frame, failure = parse_file(name, data, self.contract)
            if failure is not None:
                version.failures.append(failure)
            else:
                version.parts.append((name, frame))
        version.content_hash = digest.hexdigest()
        return version
