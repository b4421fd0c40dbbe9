"""copier's after-copy task (copier.yml `_tasks`), run in the new project's folder by copier's own Python.

1. Renames the package: the folder `mlops_assets/` becomes `<package>/` and every text file says `<package>`
   (on `copier update` the freshly rendered `mlops_assets/` is moved over `<package>/`, as copier expects), and the
   first dataset's and model's folders under defs/ take their names (`defs/bikeshare/` -> `defs/<dataset>/`).
2. For your data (not the demo): copies the data file into data/, infers a first contract and features from it
   (`<package>.commands.scaffold`) and refreshes the cached columns (`<package>.commands.column_schemas`).
   Those two need pandas, Pandera and Dagster where copier runs; where they are missing it says what to run.

Template-only: it is excluded from generated projects.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE_PACKAGE = "mlops_assets"
# The template's first dataset and model (defs/<name>/): renamed to the answers' names.
TEMPLATE_DATASET, TEMPLATE_MODEL = "bikeshare", "bike_rentals"
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".json", ".txt", ".cfg", ".ini", ".sh", ".example", ""}
SKIP_DIRS = {".git", ".venv", "state", "__pycache__", ".pytest_cache", ".ruff_cache", "prod"}
ANSWERS_FILE = ".copier-answers.yml"  # names the template's address, which must stay as it is


def text_files(root: Path):
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if SKIP_DIRS & set(relative.parts) or not path.is_file() or path.is_symlink():
            continue
        if path.name != ANSWERS_FILE and path.suffix in TEXT_SUFFIXES:
            yield path


def replace_text(root: Path, old: str, new: str) -> None:
    for path in text_files(root):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if old in text:
            path.write_text(text.replace(old, new))


def move_over(rendered: Path, target: Path) -> None:
    """`rendered` becomes `target`; on `copier update` (target exists) the new render's files win."""
    if not rendered.exists():
        return
    if not target.exists():
        rendered.rename(target)
        return
    for source in sorted(p for p in rendered.rglob("*") if p.is_file()):
        destination = target / source.relative_to(rendered)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, destination)
    shutil.rmtree(rendered)


def rename_package(root: Path, package: str) -> None:
    replace_text(root, TEMPLATE_PACKAGE, package)
    move_over(root / TEMPLATE_PACKAGE, root / package)


def rename_defs(root: Path, package: str, old: str, new: str) -> None:
    """A dataset's or model's folder under defs/ and every module path that names it."""
    if old == new:
        return
    replace_text(root, f"{package}.defs.{old}.", f"{package}.defs.{new}.")
    move_over(root / package / "defs" / old, root / package / "defs" / new)


def sort_imports(root: Path) -> None:
    """The new name sorts elsewhere among the imports (ruff's isort rules): let the project's ruff re-sort them."""
    ruff = [sys.executable, "-m", "ruff"]
    try:
        subprocess.run([*ruff, "check", "--select", "I", "--fix", "--quiet", "--no-cache", "."], cwd=root, check=False)
        subprocess.run([*ruff, "format", "--quiet", "--no-cache", "."], cwd=root, check=False)
    except OSError:
        print("ruff is not installed here: run `.venv/bin/ruff check --fix .` in the project once", file=sys.stderr)


def has_project_packages() -> bool:
    try:
        import dagster  # noqa: F401
        import pandera  # noqa: F401
    except ImportError:
        print(
            f"copier's Python ({sys.executable}) has no pandas, Pandera or Dagster for the steps below: run them in "
            "the new project after `./scripts/test --co -q` (which installs .venv).",
            file=sys.stderr,
        )
        return False
    return True


def refresh_column_schemas(root: Path, package: str) -> None:
    """The contracts, features or defs.yaml files changed: the cached columns the Dagster UI shows must follow."""
    if has_project_packages():
        subprocess.run([sys.executable, "-m", f"{package}.commands.column_schemas"], cwd=root, check=True)
    else:
        print(f"then: .venv/bin/python -m {package}.commands.column_schemas", file=sys.stderr)


def scaffold(root: Path, package: str, data_file: Path, args: argparse.Namespace) -> None:
    data_dir = root / "data"
    data_dir.mkdir(exist_ok=True)
    copy = data_dir / data_file.name
    if data_file.resolve() != copy.resolve():
        shutil.copyfile(data_file, copy)
    row_key = [] if args.row_key == "row_id" else args.row_key.split(",")
    command = [f"data/{copy.name}", f"--dataset={args.dataset}", f"--model={args.model}", f"--target={args.target}"]
    command.append(f"--to={package}")
    if row_key:
        command += ["--row-key", *row_key]
    if args.time_column:
        command.append(f"--time-column={args.time_column}")
    if not has_project_packages():
        print(f"then: .venv/bin/python -m {package}.commands.scaffold {' '.join(command)}", file=sys.stderr)
        return
    check_labels(copy, args)
    subprocess.run([sys.executable, "-m", f"{package}.commands.scaffold", *command], cwd=root, check=True)
    rows = sum(1 for _ in copy.open()) - 1 if copy.suffix.lower() == ".csv" else None
    if rows is not None and rows // args.versions < args.min_rows:
        print(
            f"note: {rows} rows in {args.versions} versions give about {rows // args.versions} new rows per version, "
            f"fewer than monitoring.min_rows ({args.min_rows}): monitoring will say 'too few rows'. Lower "
            "monitoring_min_rows or versions (copier update --trust --defaults -d monitoring_min_rows=N).",
            file=sys.stderr,
        )


def check_labels(data_file: Path, args: argparse.Namespace) -> None:
    """Classification: labels other than 0/1 need `positive_label`, and it must be one of them."""
    if args.task != "classification":
        return
    import pandas as pd

    frame = pd.read_parquet(data_file) if data_file.suffix.lower() == ".parquet" else pd.read_csv(data_file)
    labels = sorted({str(label) for label in frame[args.target].dropna().unique()})
    if args.positive_label and args.positive_label not in labels:
        raise SystemExit(f"positive_label {args.positive_label!r} is not a value of {args.target!r}: {labels}")
    if not args.positive_label and not set(labels) <= {"0", "1", "0.0", "1.0", "True", "False"}:
        raise SystemExit(f"{args.target!r} has the labels {labels}: answer positive_label with the positive one")


def old_layout_steps(root: Path, package: str, dataset: str, model: str) -> str | None:
    """What to do when `copier update` meets a project generated before the components layout (docs/fork.md)."""
    old = [name for name in ("config.py", "contracts.py", "features.py") if (root / package / name).exists()]
    if not old:
        return None
    defs = f"{package}/defs"
    return (
        f"This project was generated before datasets and models became components ({', '.join(old)} in {package}/). "
        f"The new layout is rendered; to finish:\n"
        f"  1. git mv {package}/contracts.py {defs}/{dataset}/contract.py (move its Features class into features.py,"
        f" and row_time from features.py into contract.py)\n"
        f"  2. git mv {package}/features.py {defs}/{model}/features.py\n"
        f"  3. copy the values you changed in {package}/config.py into {defs}/{dataset}/defs.yaml and "
        f"{defs}/{model}/defs.yaml (the search grid is now estimator.search_space), then git rm {package}/config.py\n"
        f"  4. python -m {package}.commands.column_schemas && dg check defs && ./scripts/test\n"
        "  Versions now live in data/<dataset>/versions/: start with a fresh state/ (docs/fork.md)."
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", required=True)
    parser.add_argument("--dataset", default=TEMPLATE_DATASET)
    parser.add_argument("--model", default=TEMPLATE_MODEL)
    parser.add_argument("--data-file", default="")
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", default="regression")
    parser.add_argument("--positive-label", default="")
    parser.add_argument("--row-key", default="")
    parser.add_argument("--time-column", default="")
    parser.add_argument("--versions", type=int, default=12)
    parser.add_argument("--min-rows", type=int, default=100)
    args = parser.parse_args()
    root = Path.cwd()
    renamed = (args.package, args.dataset, args.model) != (TEMPLATE_PACKAGE, TEMPLATE_DATASET, TEMPLATE_MODEL)
    if args.package != TEMPLATE_PACKAGE:
        rename_package(root, args.package)
    rename_defs(root, args.package, TEMPLATE_DATASET, args.dataset)
    rename_defs(root, args.package, TEMPLATE_MODEL, args.model)
    if renamed:
        sort_imports(root)
    steps = old_layout_steps(root, args.package, args.dataset, args.model)
    if steps:
        print(steps, file=sys.stderr)
        return 0  # the old contract stays the user's until they move it: nothing is inferred over it
    if args.data_file:
        scaffold(root, args.package, Path(args.data_file), args)
    if args.data_file or renamed:
        refresh_column_schemas(root, args.package)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
