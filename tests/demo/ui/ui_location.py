"""The code location the UI tests serve: the project's own definitions, with the tests' fast search budget.

Everything the UI shows (assets, groups, checks, sensors, jobs, metadata) comes from
`mlops_assets.definitions.build_definitions`; only the search budget is smaller (tests.conftest.FAST_SEARCH), so
that a training run takes seconds instead of a minute on two cores. Folders come from MLOPS_DATA_DIR and
MLOPS_STATE_DIR, which the test sets to temporary folders before it starts the server.
"""

from mlops_assets.settings import ProjectSettings
from mlops_assets.definitions import build_definitions
from tests.conftest import FAST_SEARCH

defs = build_definitions(settings=ProjectSettings(search=FAST_SEARCH))
