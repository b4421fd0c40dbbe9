"""A code location for tests: the project's definitions with a small search budget and a retraining policy that
retrains on every monitoring result (any realized metric counts as degraded), so that a retraining decision arises
whatever the data set."""

from mlops_assets.definitions import build_definitions
from mlops_assets.settings import RetrainSettings
from tests.conftest import FAST_SEARCH, fast_estimator, model_settings

defs = build_definitions(
    models=[
        model_settings(
            search=FAST_SEARCH,
            estimator=fast_estimator(),
            retrain=RetrainSettings(degradation_margin=-1.0, cooldown_versions=0),
        )
    ]
)
