"""`dg scaffold defs mlops_assets.components.ModelComponent <name>` (and DatasetComponent): a defs.yaml that lists
every field with its default and its description, so the file documents itself.

A new model reads the project's dataset (the only one, or `--json-params '{"dataset": "..."}'`) and starts from the
feature code of a model already on it; set its target and task, and an estimator if not the default.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import BaseModel

from mlops_assets.settings.dataset import DatasetFields
from mlops_assets.settings.model import ModelFields


class ModelParams(BaseModel):
    dataset: str | None = None
    target: str | None = None
    task: str | None = None
    features: str | None = None


class DatasetParams(BaseModel):
    contract: str | None = None
    row_key: list[str] | None = None


def _value(value: Any) -> str:
    if isinstance(value, str):  # plain where YAML reads it back as the same string, quoted otherwise
        return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()
    return json.dumps(value)


def _default(field) -> Any:
    if field.is_required():
        return None
    value = field.get_default(call_default_factory=True)
    return value.model_dump() if isinstance(value, BaseModel) else value


def documented_yaml(fields: type[BaseModel], values: dict[str, Any], indent: int = 0) -> list[str]:
    """`fields` as YAML lines: a comment with each description, then the value (given, else the default)."""
    lines = []
    pad = " " * indent
    for name, field in fields.model_fields.items():
        if field.description:
            lines += textwrap.wrap(
                field.description, 118 - indent, initial_indent=f"{pad}# ", subsequent_indent=f"{pad}# "
            )
        nested = field.annotation if isinstance(field.annotation, type) else None
        if nested is not None and issubclass(nested, BaseModel):
            lines.append(f"{pad}{name}:")
            lines += documented_yaml(nested, values.get(name) or _default(field) or {}, indent + 2)
            continue
        value = values.get(name, _default(field))
        lines.append(f"{pad}{name}: {_value(value)}".rstrip() if value is not None else f"{pad}{name}: null")
    return lines


def write_defs_yaml(target: Path, type_name: str, fields: type[BaseModel], values: dict[str, Any]) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    lines = [f"type: {type_name}", "attributes:", *documented_yaml(fields, values, 2)]
    path = target / "defs.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _module_of(folder: Path, project_root: Path) -> str:
    return ".".join(folder.resolve().relative_to(project_root.resolve()).parts)


class ModelScaffolder(dg.Scaffolder[ModelParams]):
    @classmethod
    def get_scaffold_params(cls) -> type[ModelParams]:
        return ModelParams

    def scaffold(self, request: dg.ScaffoldRequest[ModelParams]) -> None:
        params = request.params or ModelParams()
        tree = dg.ComponentTree.for_project(request.project_root)  # the components there, by their fields' types
        datasets = {d.name: d.settings() for d in tree.get_all_components(DatasetFields)}
        models = {m.name: m.settings(datasets[m.dataset]) for m in tree.get_all_components(ModelFields)}
        dataset = params.dataset or (next(iter(datasets)) if len(datasets) == 1 else None)
        if dataset not in datasets:
            raise ValueError(
                f"name the model's dataset with --json-params '{{\"dataset\": ...}}': {', '.join(datasets)}"
            )
        on_dataset = [m for m in models.values() if m.dataset.name == dataset]
        features = params.features or (on_dataset[0].features if on_dataset else None)
        values = {
            "name": Path(request.target_path).name,
            "dataset": dataset,
            "features": features or f"{_module_of(Path(request.target_path), request.project_root)}.features",
            "target": params.target,
            **({"task": params.task} if params.task else {}),
        }
        if on_dataset and not params.target:  # the same prediction as the first model, to try another estimator
            first = on_dataset[0]
            values.update(target=first.target, task=params.task or first.task, positive_label=first.positive_label)
            values.update(positive_at_least=first.positive_at_least, leakage_columns=first.leakage_columns)
            # The data's thresholds too: the same rows give the same monitoring floor, split and gates.
            values.update({name: getattr(first, name).model_dump() for name in ("split", "gates", "monitoring")})
        write_defs_yaml(Path(request.target_path), request.type_name, ModelFields, values)


class DatasetScaffolder(dg.Scaffolder[DatasetParams]):
    @classmethod
    def get_scaffold_params(cls) -> type[DatasetParams]:
        return DatasetParams

    def scaffold(self, request: dg.ScaffoldRequest[DatasetParams]) -> None:
        params = request.params or DatasetParams()
        module = _module_of(Path(request.target_path), request.project_root)
        values = {
            "name": Path(request.target_path).name,
            "contract": params.contract or f"{module}.contract:RawData",
            "row_key": params.row_key or [],
        }
        write_defs_yaml(Path(request.target_path), request.type_name, DatasetFields, values)
