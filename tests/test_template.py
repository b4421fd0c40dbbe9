"""The repository as a copier template (copier.yml): projects generated into temporary folders, tested and run.

(a) the defaults: the bike-rental demo, byte for byte this repository; (b) a classification project for scikit-learn's
bundled breast-cancer data written to CSV with string labels, no time column and no row key (a row_id is generated,
the split is a hash, versions are cut in file order). Each generated project runs with this repository's .venv but
imports its own package (cwd and PYTHONPATH are the generated folder). Template-only: excluded from generated projects.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_ONLY = {"copier.yml", "tests/test_template.py", "{{ _copier_conf.answers_file }}.jinja"}


def readme_copier_command(destination: Path, data_file: Path) -> list[str]:
    """The `copier copy` command of the README's fork guide, for this data file and destination folder."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(".venv/bin/copier copy") :]
    words = shlex.split(block[: block.index("```")].replace("\\\n", " "))
    assert words[:3] == [".venv/bin/copier", "copy", "--trust"] and {"$PWD", "../tumour-watch"} <= set(words), words
    replace = {"$PWD": str(ROOT), "../tumour-watch": str(destination)}
    words = [replace.get(w, w.replace("$HOME/breast_cancer.csv", str(data_file))) for w in words]
    return [sys.executable, "-m", "copier", *words[1:], "--vcs-ref=HEAD", "--quiet"]


def generate(destination: Path, **answers) -> Path:
    from copier import run_copy

    with warnings.catch_warnings():  # uncommitted template changes are copied too: expected while developing
        warnings.filterwarnings("ignore", message="Dirty template changes")
        run_copy(str(ROOT), destination, data=answers, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True)
    return destination


def run(project: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """This repository's Python, in the generated project (its package first on the path, its own state/)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "MLOPS_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(project), DAGSTER_HOME=str(project / "state"), MLFLOW_DISABLE_TELEMETRY="true")
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def template_files() -> set[str]:
    """The files copier takes from this repository: tracked and new ones (git add -A), as copier's clone does."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    return {path for path in listed if (ROOT / path).is_file()}


def project_files(project: Path) -> set[str]:
    skip = {".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
    return {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and not skip & set(p.parts[-6:])} - {
        "state/" + p.name for p in (project / "state").glob("*") if p.name not in ("dagster.yaml", ".gitignore")
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("generated") / "demo")


@pytest.fixture(scope="module")
def breast_cancer_csv(tmp_path_factory) -> Path:
    """scikit-learn's bundled breast-cancer data as a CSV file with string labels, no time column and no row key."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map(dict(enumerate(data.target_names)))  # 0 malignant, 1 benign
    csv = tmp_path_factory.mktemp("export") / "breast_cancer.csv"
    frame.to_csv(csv, index=False)
    return csv


@pytest.fixture(scope="module")
def breast_cancer(breast_cancer_csv, tmp_path_factory) -> Path:
    destination = tmp_path_factory.mktemp("generated") / "tumour-watch"
    command = readme_copier_command(destination, breast_cancer_csv)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return destination


def test_the_defaults_reproduce_this_repository_byte_for_byte(demo):
    expected = {path for path in template_files() if path not in TEMPLATE_ONLY and not path.startswith("copier_")}
    expected = {path.removesuffix(".jinja") for path in expected}
    assert project_files(demo) == expected | {".copier-answers.yml"}
    different = [path for path in expected if (demo / path).read_bytes() != (ROOT / path).read_bytes()]
    assert different == [], "copier copy with the defaults must give the demo exactly"
    answers = (demo / ".copier-answers.yml").read_text()
    assert "package_name: mlops_assets" in answers and "target: bikers" in answers


def test_a_project_for_other_data_has_its_package_contract_and_no_demo(breast_cancer):
    package = breast_cancer / "tumour_watch"
    assert not (breast_cancer / "mlops_assets").exists() and (package / "definitions.py").is_file()
    assert not (package / "demo").exists() and not (breast_cancer / "tests" / "demo").exists()
    assert sorted(p.name for p in (breast_cancer / "data").iterdir()) == ["breast_cancer.csv"]
    mentions = run(breast_cancer, "-c", "import tumour_watch; print(tumour_watch.__file__)")
    assert mentions.stdout.strip() == str(package / "__init__.py"), "the generated package must import its own code"
    dataset = (package / "defs" / "breast_cancer" / "defs.yaml").read_text()
    assert 'row_key: ["row_id"]' in dataset and "row_time" not in dataset  # no time column: a hash split
    assert "cut: tumour_watch.commands.landing:cumulative_versions" in dataset
    model = (package / "defs" / "tumour_watch" / "defs.yaml").read_text()
    for setting in ("task: classification", 'positive_label: "malignant"', "dataset: breast_cancer"):
        assert setting in model
    assert not (package / "defs" / "busy_hours").exists() and not (package / "defs" / "bikeshare").exists()
    contracts = (package / "defs" / "breast_cancer" / "contract.py").read_text()
    assert "diagnosis: Series[str] = pa.Field(isin=['benign', 'malignant']" in contracts.replace('"', "'")
    assert '@pa.dataframe_check(name="at least one row")' in contracts
    checks = [
        [str(Path(sys.executable).with_name("ruff")), "check", "."],
        [str(Path(sys.executable).with_name("ruff")), "format", "--check", "."],
    ]
    for command in checks:  # what the generated project's ./scripts/test runs first
        done = subprocess.run(command, cwd=breast_cancer, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


QUICK_TESTS = [
    "tests/test_definitions.py",
    "tests/test_raw_dataset.py",
    "tests/test_splitting.py",
    "tests/test_training.py",
    "tests/test_scaffold.py",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo", "breast_cancer"])
def test_the_generated_projects_quick_tests_pass(name, request):
    """The tests that depend on the data (contract, features, split, training) of each generated project."""
    project = request.getfixturevalue(name)
    done = run(project, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider", *QUICK_TESTS)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo", "breast_cancer"])
def test_every_test_of_the_generated_project_is_collected(name, request):
    """The whole suite imports on the project's data: no test module assumes the demo's keys or version count."""
    project = request.getfixturevalue(name)
    done = run(project, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "tests collected" in done.stdout.splitlines()[-1] and "error" not in done.stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "package", "metric", "versions"),
    [("demo", "mlops_assets", "rmse", "2"), ("breast_cancer", "tumour_watch", "roc_auc", "4")],
)
def test_the_generated_projects_main_job_prints_its_table(name, package, metric, versions, request):
    project = request.getfixturevalue(name)
    done = run(project, "-m", f"{package}.commands.main", "--versions", versions)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("version "))
    assert f"candidate {metric}, holdout" in header
    rows = lines[lines.index(header) + 2 :][: int(versions)]
    assert len(rows) == int(versions) and all(" | " in row for row in rows)
    assert "passed" in rows[0] and "yes (v1)" in rows[0], "the first version's gates pass and it is promoted"


@pytest.mark.slow
def test_copier_update_keeps_the_projects_edits_and_changes_nothing_else(breast_cancer, tmp_path):
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    if dirty.strip():
        pytest.skip("uncommitted template changes: copier records a draft commit that `copier update` cannot find")
    project = tmp_path / "project"
    shutil.copytree(breast_cancer, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    contracts = project / "tumour_watch" / "defs" / "breast_cancer" / "contract.py"
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "generated"]):
        subprocess.run([*git, *step], cwd=project, check=True)
    contracts.write_text(contracts.read_text() + "# tightened by hand\n")
    subprocess.run([*git, "commit", "-qam", "edit"], cwd=project, check=True)
    done = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--quiet"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True).stdout
    assert status == "", status
    assert contracts.read_text().endswith("# tightened by hand\n")
    assert not (project / "mlops_assets").exists()


def test_string_labels_without_a_positive_label_are_refused_and_nothing_is_left(breast_cancer_csv, tmp_path):
    from copier.errors import TaskError

    answers = {"data_file": str(breast_cancer_csv), "target": "diagnosis", "task": "classification", "versions": 4}
    with pytest.raises(TaskError):
        generate(tmp_path / "unlabelled", **answers)
    assert not (tmp_path / "unlabelled").exists()


def test_the_demo_under_another_package_name_is_renamed_everywhere(tmp_path):
    project = generate(tmp_path / "city-bikes", project_name="city-bikes")
    assert (project / "city_bikes" / "demo" / "versions.py").is_file() and not (project / "mlops_assets").exists()
    assert (project / "city_bikes" / "defs" / "bikeshare" / "defs.yaml").is_file()
    left = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and path.suffix in {".py", ".toml", ".yaml", ".md", ""} and path.name != ".copier-answers.yml"
        and "mlops_assets" in path.read_text(errors="ignore")
    ]  # fmt: skip
    assert left == []
    check = (
        "from city_bikes.components.project import project_datasets, project_models\n"
        "from city_bikes.wiring.column_schemas import stale_entries\n"
        "assert not stale_entries(list(project_datasets().values()), list(project_models().values()))"
    )
    current = run(project, "-c", check)
    assert current.returncode == 0, "the cached columns follow the renamed package: " + current.stderr


@pytest.mark.slow
def test_a_model_added_by_the_scaffold_command_to_a_generated_project_runs_its_closed_loop(breast_cancer, tmp_path):
    """The README's "add a model": one `dg scaffold defs` command and a few lines of its defs.yaml."""
    project = tmp_path / "project"
    # A fresh project: no state, and none of the versions an earlier test's main job landed in the fixture's data/.
    ignore = shutil.ignore_patterns("__pycache__", "state", ".pytest_cache", "versions", "predictions")
    shutil.copytree(breast_cancer, project, ignore=ignore)
    (project / "state").mkdir()
    dg = str(Path(sys.executable).with_name("dg"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "MLOPS_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(project), DAGSTER_HOME=str(project / "state"))
    command = [dg, "scaffold", "defs", "tumour_watch.components.ModelComponent", "second_opinion"]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    defs_yaml = project / "tumour_watch" / "defs" / "second_opinion" / "defs.yaml"
    text = defs_yaml.read_text()
    # It predicts what the first model predicts, from the same features: only the estimator changes (3 lines).
    for line in ("dataset: breast_cancer", "target: diagnosis", "task: classification", "positive_label: malignant"):
        assert line in text, line
    text = text.replace("class_path: null", "class_path: sklearn.linear_model.LogisticRegression")
    text = text.replace("params: {}", "params: {max_iter: 2000}")
    text = text.replace("search_space: null", "search_space: {C: {low: 0.01, high: 10.0, log: true}}")
    defs_yaml.write_text(text)
    checked = subprocess.run([dg, "check", "defs"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    done = run(project, "-m", "tumour_watch.commands.main", "--model", "second_opinion")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("version "))
    rows = lines[lines.index(header) + 2 :][:4]
    assert "passed" in rows[0] and "yes (v1)" in rows[0], rows
    monitored = [row.split(" | ")[3].strip() not in ("", "-") for row in rows[1:]]
    assert all(monitored), "each later version is monitored:\n" + "\n".join([header, *rows])
    assert "second_opinion (classification, registered model second_opinion)" in done.stdout
