"""Alerts: failed runs, failed gates and drift go through one notifier.

By default it only logs. Set MLOPS_ALERT_WEBHOOK_URL (a Slack-compatible incoming webhook, or any endpoint that
takes a JSON POST) and it posts there too; the URL is a secret, so it only ever comes from the environment.
"""

import json
import logging
import urllib.request

import dagster as dg
from pydantic import Field

logger = logging.getLogger("mlops_assets.infra.alerts")


class Notifier(dg.ConfigurableResource):
    webhook_url: str | None = Field(default=None, description="JSON POST target; None: log only.")
    timeout_seconds: float = 5.0

    def notify(self, title: str, text: str, severity: str = "warning") -> bool:
        """Log the alert and post it to the webhook when one is configured; True when the post succeeded."""
        logger.warning("[%s] %s: %s", severity, title, text)
        if not self.webhook_url:
            return False
        body = json.dumps({"text": f"*{title}*\n{text}", "title": title, "severity": severity}).encode()
        request = urllib.request.Request(
            self.webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return 200 <= response.status < 300
        except OSError as error:  # an alert that cannot be delivered must not fail the pipeline
            logger.error("could not post alert %r to the webhook: %s", title, error)
            return False


def notifier_from_env() -> Notifier:
    return Notifier(webhook_url=dg.EnvVar("MLOPS_ALERT_WEBHOOK_URL").get_value())
