"""Resources: MLflow tracking through the project's own typed resource.

Why not dagster-mlflow: measured on 0.29.27 with MLflow 3 it opens duplicate MLflow runs under the
multiprocess executor, marks runs FINISHED when any step process exits (even after a failed Dagster run),
merges two Dagster runs of one process into one MLflow run, and does not tag partitions. Here every asset
step opens exactly one MLflow run of its own, named `asset[partition]`, closed FAILED when the step fails.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import Field

from mlops_assets.settings.paths import default_state_dir

# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces); this one is model training.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_TAGS = {EXPERIMENT_KIND_TAG: "custom_model_development"}
MODEL_TRAINING_VIEW = "workflowType=machine_learning"


class MLflowTracking(dg.ConfigurableResource):
    """Where experiments, models and the registry live.

    Default: an embedded SQLite database and local artifacts under the state folder. Production: set
    MLFLOW_TRACKING_URI (a tracking server such as http://127.0.0.1:5000, or a database) or `tracking_uri`, and the
    same code logs there.
    """

    tracking_uri: str | None = Field(
        default=None, description="None: $MLFLOW_TRACKING_URI, else sqlite:///<state_dir>/mlflow.db"
    )
    state_dir: str = Field(default_factory=default_state_dir)
    experiment_name: str = "mlops_assets"
    artifact_location: str | None = Field(
        default=None,
        description="Artifact root of a new experiment in a database store (sqlite://, postgresql://, ...): None is "
        "<state_dir>/mlartifacts. Ignored for a tracking server, which decides (--artifacts-destination).",
    )
    ui_url: str = Field(
        default_factory=lambda: os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000"),
        description="Base URL of the MLflow UI, for links in Dagster's asset metadata.",
    )

    @property
    def uri(self) -> str:
        """The configured URI, else $MLFLOW_TRACKING_URI, else the embedded SQLite database.

        Only the user sets MLFLOW_TRACKING_URI: `activate()` gives MLflow's `set_tracking_uri` the URI and then puts
        the variable back as it was, so what one resource activated never leaks into another (or a child process).
        """
        if self.tracking_uri:
            return self.tracking_uri
        from_env = os.environ.get("MLFLOW_TRACKING_URI")
        if from_env:
            return from_env
        return f"sqlite:///{Path(self.state_dir).resolve() / 'mlflow.db'}"

    def activate(self) -> None:
        """Point MLflow's process-wide tracking URI at this store.

        `mlflow.start_run`, `mlflow.sklearn.load_model("models:/...")` and `mlflow.artifacts` resolve through it,
        and in a fresh run process (every run the daemon or `dagster dev` launches) nothing has set it yet.
        """
        import mlflow

        uri = self.uri
        # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI "so that subprocesses inherit it". MLflow itself
        # reads its module variable first, so restoring the environment keeps it correct here and keeps the user's
        # setting (or its absence) the only thing `uri` and child processes ever see.
        before = os.environ.get("MLFLOW_TRACKING_URI")
        try:
            mlflow.set_tracking_uri(uri)
        finally:
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = before

    @property
    def is_server(self) -> bool:
        """A tracking server (or hosted service) that decides where artifacts go, rather than a database."""
        return self.uri.split(":", 1)[0] in {"http", "https", "databricks", "databricks-uc", "uc"}

    @property
    def artifact_root(self) -> str | None:
        # A tracking server decides. A database store used directly would otherwise put artifacts into ./mlruns of
        # whatever folder the process started in: keep them beside the state, or where configured.
        if self.is_server:
            return None
        return self.artifact_location or (Path(self.state_dir).resolve() / "mlartifacts").as_uri()

    def client(self):
        import mlflow

        self.ensure_experiment()
        return mlflow.MlflowClient(tracking_uri=self.uri)

    def ensure_experiment(self) -> str:
        """Create the store and the experiment once, under a file lock.

        Several processes opening a new SQLite database at the same time corrupted it beyond repair (measured
        with MLflow 3.17); created first and then shared, 4 processes x 20 runs all succeeded.
        """
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keeps run logs readable
        import mlflow

        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(self.state_dir) / ".mlflow.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            client = mlflow.MlflowClient(tracking_uri=self.uri)
            experiment = client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                return client.create_experiment(
                    self.experiment_name, artifact_location=self.artifact_root, tags=EXPERIMENT_TAGS
                )
            if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_TAGS[EXPERIMENT_KIND_TAG]:
                client.set_experiment_tag(
                    experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_TAGS[EXPERIMENT_KIND_TAG]
                )
            return experiment.experiment_id

    @contextlib.contextmanager
    def asset_run(self, context: dg.AssetExecutionContext, tags: dict[str, str] | None = None) -> Iterator:
        """One MLflow run for this asset step: named `asset[partition]`, tagged, FAILED if the step raises."""
        import mlflow

        from mlops_assets.stages.manifest import git_commit

        experiment_id = self.ensure_experiment()
        self.activate()
        asset = context.asset_key.to_user_string()
        partition = context.partition_key if context.has_partition_key else None
        run_tags = {
            "dagster.run_id": context.run.run_id,
            "dagster.asset": asset,
            "dagster.partition": partition or "",
            "dagster.code_version": context.assets_def.code_versions_by_key.get(context.asset_key) or "",
            **({"git_commit": git_commit()} if git_commit() else {}),
            **(tags or {}),
        }
        name = f"{asset}[{partition}]" if partition else asset
        self._close_orphaned_runs(context, experiment_id, asset, partition or "")
        # Never nest into, or write into, a run some other code left active in this process.
        while mlflow.active_run() is not None:
            mlflow.end_run()
        with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=run_tags) as run:
            yield run

    def _close_orphaned_runs(self, context, experiment_id: str, asset: str, partition: str) -> None:
        """Mark KILLED the MLflow runs of this asset and partition still RUNNING from a Dagster run that ended, or
        from an earlier attempt of this same step (a Celery worker killed mid-step, whose step runs again).

        A step process killed with SIGKILL never ends its MLflow run; without this it would show as running forever.
        """
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=self.uri)
        stale = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`dagster.asset` = '{asset}' and tags.`dagster.partition` = '{partition}' "
            "and attributes.status = 'RUNNING'",
        )
        for run in stale:
            dagster_run = context.instance.get_run_by_id(run.data.tags.get("dagster.run_id", ""))
            if dagster_run is None or dagster_run.is_finished or dagster_run.run_id == context.run.run_id:
                client.set_terminated(run.info.run_id, status="KILLED")

    def run_link(self, run) -> dg.MetadataValue:
        # MLflow 3's UI opens in its GenAI view unless told otherwise (a per-browser setting, also by this parameter).
        experiment, run_id = run.info.experiment_id, run.info.run_id
        return dg.MetadataValue.url(f"{self.ui_url}/#/experiments/{experiment}/runs/{run_id}?{MODEL_TRAINING_VIEW}")

    def artifact_link(self, run, path: str) -> str:
        """An artifact of the run (a file or folder) in the MLflow UI's artifact view."""
        experiment, run_id = run.info.experiment_id, run.info.run_id
        return f"{self.ui_url}/#/experiments/{experiment}/runs/{run_id}/artifacts/{path}?{MODEL_TRAINING_VIEW}"
