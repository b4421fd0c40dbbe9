"""Where asset values live between steps: one pickle per asset and partition, written atomically, on any filesystem.

Built on Dagster's `UPathIOManager` (universal-pathlib over fsspec), so the base path is configuration: a local
folder (the default, `state/assets`), a `file://` URL, or object storage such as `s3://bucket/assets` or
`gs://bucket/assets` (install `s3fs` or `gcsfs`; credentials and endpoints come from the filesystem's own environment
variables, e.g. AWS_* or FSSPEC_S3_ENDPOINT_URL, never from this configuration). Layout: <base>/<asset>/<partition>.

Dagster's default filesystem IO manager writes a value straight into its final file, so a process killed in the
middle of a write leaves a truncated file that a later run reading that input would load. Here no reader ever sees
half a value:
- local filesystems: written to a temporary file in the same folder, flushed to disk and renamed over the old one;
- object stores (s3, gs, azure, memory): an object becomes visible only when its upload completes, on close;
- other fsspec filesystems (sftp, hdfs, ...): written under a temporary name, then moved (a rename where the
  filesystem has one).
Models are not stored here (they live in MLflow, in skops format); these files hold the project's own DataFrames and
small records.

Within a run, the process that stored or loaded a value keeps it: with the in-process executor (the default) every
step of a run shares one process, and a later step gets the same object instead of unpickling the file again. At
a million rows that saves, per load, about 0.1 s of unpickling and a fresh 120 MB of memory (page faults cost
more than the copy here). Stage functions never modify their inputs, which makes sharing safe; a test runs the
whole pipeline and checks every shared value still equals its file. The file stays the record: other runs, other
processes (the multiprocess and Celery executors) and a value rewritten since are read from it.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import dagster as dg
from pydantic import Field

from mlops_assets.infra.faults import fault_point
from mlops_assets.settings.paths import default_state_dir

if TYPE_CHECKING:
    from upath import UPath

# Filesystems where a written object appears whole, when the writer closes it, or not at all.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})

# run id -> {path: (identity of the file when the value was stored or loaded, value)}; one run at a time.
_run_values: dict[str, dict[Any, tuple[Any, object]]] = {}


def _is_local(path: Path | UPath) -> bool:
    return isinstance(path, Path) or getattr(path, "protocol", "") in ("file", "local", "")


def _os_path(path: Path | UPath) -> Path:
    return path if isinstance(path, Path) else Path(path.path)


def _identity(path: Path | UPath):
    """Changes whenever the stored value is replaced (a rename gives a new inode; an upload a new ETag/mtime)."""
    if _is_local(path):
        stat = _os_path(path).stat()
        return stat.st_ino, stat.st_size, stat.st_mtime_ns
    return path.fs.ukey(path.path)


def _keep(run_id: str, path: Path | UPath, value) -> None:
    if run_id not in _run_values:
        _run_values.clear()  # a new run in this process: the last run's values are no longer needed
    _run_values.setdefault(run_id, {})[path] = (_identity(path), value)


def _kept(run_id: str, path: Path | UPath):
    identity, value = _run_values.get(run_id, {}).get(path, (None, None))
    try:
        return value if identity is not None and identity == _identity(path) else None
    except FileNotFoundError:
        return None


class AtomicPickleUPathIOManager(dg.UPathIOManager):
    """The IO manager itself; `AtomicFilesystemIOManager` below is its configuration."""

    extension = None  # <base>/<asset>/<partition>, as the files this project always wrote

    def make_safe_partition_path(self, base_path: UPath, partition: str) -> UPath:
        # Keys are validated before they are added (partitions.py) and valid keys are left as they are. This is the
        # IO manager's own guard: any key is one path segment, so it can neither leave its asset's folder nor make
        # Dagster delete another partition's file (a key "a/b" would turn partition "a" into a folder).
        segment = quote(partition, safe="")
        return base_path / (segment.replace(".", "%2E") if segment in ("", ".", "..") else segment)

    def make_directory(self, path: UPath) -> None:
        if getattr(path, "protocol", "") not in OBJECT_STORES:  # object stores have no folders to create
            path.mkdir(parents=True, exist_ok=True)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:  # assets that only report metadata store nothing
            return
        super().handle_output(context, obj)

    def load_input(self, context: dg.InputContext):
        return super().load_input(context)

    def dump_to_path(self, context: dg.OutputContext, obj, path: UPath) -> None:
        if _is_local(path):
            self._write_local(obj, _os_path(path))
        elif path.protocol in OBJECT_STORES:
            with path.open("wb") as file:  # the object is published when the upload completes, at close
                pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
                fault_point("io_manager.before_rename")
        else:
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            try:
                with tmp.open("wb") as file:
                    pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
                fault_point("io_manager.before_rename")
                path.fs.mv(tmp.path, path.path)
            except BaseException:
                if tmp.exists():
                    tmp.unlink()
                raise
        _keep(context.run_id, path, obj)

    @staticmethod
    def _write_local(obj, path: Path) -> None:
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
                file.flush()
                os.fsync(file.fileno())
            fault_point("io_manager.before_rename")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_from_path(self, context: dg.InputContext, path: UPath):
        run_id = context.step_context.run_id
        value = _kept(run_id, path)
        if value is not None:
            return value
        try:
            with path.open("rb") as file:
                value = pickle.load(file)
        except FileNotFoundError:
            partition = context.asset_partition_key if context.has_asset_partitions else "-"
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no stored value for partition {partition} at {path}: "
                "materialize it first"
            ) from None
        _keep(run_id, path, value)
        return value


class AtomicFilesystemIOManager(dg.ConfigurableIOManagerFactory):
    """Pickled asset values under a base path that is a folder or a URL (file://, s3://, gs://, ...)."""

    base_dir: str = Field(
        default_factory=lambda: str(Path(default_state_dir()) / "assets"),
        description="Folder or fsspec URL (s3://bucket/assets, gs://...); one file per asset and partition: "
        "<base_dir>/<asset>/<partition> (default state/assets).",
    )

    @classmethod
    def for_state(cls, state_dir: str) -> AtomicFilesystemIOManager:
        """<state_dir>/assets, unless MLOPS_ASSET_STORAGE names another folder or URL (e.g. s3://bucket/assets)."""
        if os.environ.get("MLOPS_ASSET_STORAGE"):
            return cls(base_dir=dg.EnvVar("MLOPS_ASSET_STORAGE"))
        return cls(base_dir=str(Path(state_dir) / "assets"))

    def create_io_manager(self, context) -> AtomicPickleUPathIOManager:
        from upath import UPath

        return AtomicPickleUPathIOManager(base_path=UPath(self.base_dir))
