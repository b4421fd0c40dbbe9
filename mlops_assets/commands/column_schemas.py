"""Refresh the cached columns the Dagster UI shows for every dataset's contract and every model's features and
predictions (wiring/column_schemas.py): run it after editing a contract, a feature module or a defs.yaml.

    python -m mlops_assets.commands.column_schemas
"""

from mlops_assets.components.project import project_datasets, project_models
from mlops_assets.wiring.column_schemas import write_cache


def main() -> None:
    print(f"wrote {write_cache(list(project_datasets().values()), list(project_models().values()))}")


if __name__ == "__main__":
    main()
