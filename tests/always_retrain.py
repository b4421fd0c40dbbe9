"""A code location for tests: the project's definitions with a small search budget and a retraining policy that
retrains on every monitoring result (any realized metric counts as degraded), so that a retraining decision arises
whatever the data set."""

from mlops_assets.config import ProjectSettings, RetrainSettings
from mlops_assets.definitions import build_definitions
from tests.conftest import FAST_SEARCH

defs = build_definitions(
    settings=ProjectSettings(search=FAST_SEARCH, retrain=RetrainSettings(degradation_margin=-1.0, cooldown_versions=0))
)
