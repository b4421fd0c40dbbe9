"""Alerts: a failed run reaches the notifier's webhook through the run-failure sensor (real HTTP on loopback)."""

import http.server
import json
import threading

import dagster as dg

from mlops_assets.alerts import Notifier
from mlops_assets.definitions import build_definitions
from mlops_assets.defs.jobs import INGESTION_ASSETS
from mlops_assets.defs.sensors.alerts import failed_only_on_gates, run_failure_alert_sensor
from tests.conftest import write_version


class _Hook(http.server.BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):
        _Hook.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failed_run_is_posted_to_the_webhook(tmp_path, settings, instance, source):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notifier = Notifier(webhook_url=f"http://127.0.0.1:{server.server_port}/alerts")
        defs = build_definitions(settings, notifier=notifier)
        missing = source.columns[-1]
        write_version(settings.versions_dir, "broken", {"rows.csv": source.head(50).drop(columns=[missing])})
        instance.add_dynamic_partitions("dataset_version", ["broken"])
        result = defs.resolve_job_def("version_pipeline").execute_in_process(
            instance=instance, partition_key="broken", asset_selection=INGESTION_ASSETS, raise_on_error=False
        )
        assert not result.success
        assert not failed_only_on_gates(instance, result.run_id)  # a contract failure is not a gate failure

        failure = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
        context = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert_sensor.name,
            dagster_event=failure.dagster_event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"notifier": notifier},
        ).for_run_failure()
        run_failure_alert_sensor(context)

        assert _Hook.posts, "nothing was posted"
        alert = _Hook.posts[-1]
        assert alert["severity"] == "error"
        assert alert["title"] == "Run failed: version_pipeline[broken]"
        assert result.run_id in alert["text"]
    finally:
        server.shutdown()
