"""The code location the UI tests serve: the project's own datasets and models, with the tests' fast search budget.

Everything the UI shows (assets, groups, checks, sensors, jobs, metadata) comes from
`mlops_assets.definitions.build_definitions` with every model of the defs folder (bike_rentals and busy_hours on the
bikeshare dataset); only the search budget is smaller (tests.conftest.FAST_SEARCH and fast_estimator), so that a
training run takes seconds instead of a minute on two cores. Folders come from MLOPS_DATA_DIR and MLOPS_STATE_DIR,
which the test sets to temporary folders before it starts the server.
"""

from mlops_assets.components.project import project_models
from mlops_assets.definitions import build_definitions
from tests.conftest import FAST_SEARCH, fast_estimator, model_settings

defs = build_definitions(
    models=[
        model_settings(name=name, search=FAST_SEARCH, estimator=fast_estimator(model))
        for name, model in project_models().items()
    ]
)
