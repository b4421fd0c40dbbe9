"""The report's fixed section: what was changed in the project for the performance budgets, and what was kept."""

CHANGES = """## What was changed for these budgets, and what was chosen by measurement

- **Contract validation** (`mlops_assets/stages/fast_validation.py`, opt-in): `FastContract`, a Pandera
  `DataFrameModel` whose `validate` first checks rows that already have the contract's dtypes with vectorised
  pandas/NumPy code (dtype, no missing values, ranges as min/max, categories, the row key's uniqueness, the
  table-wide checks) and returns them as Pandera would; anything else (values to coerce, any failed rule, a rule
  it does not know) goes to Pandera, so every failure report is still Pandera's (the failure-report tests are
  unchanged and pass; `tests/test_fast_validation.py` pins that the fast path never accepts what Pandera
  rejects). Most of Pandera's time at a million rows went into checking, one value at a time in Python, that the
  text columns hold text. The project's contracts (each dataset's `contract.py` under `mlops_assets/defs/`)
  derive from plain `pa.DataFrameModel`: a project with big versions opts in by deriving them from `FastContract`
  instead, as the scale and scoring benchmarks do (sections 3 and 5). The parser that keeps fractional numbers
  from being silently cast to integers now skips columns that are integers already. Section 5 has the effect (the
  fast path against Pandera's own, which is the default).
- **Large bad versions** (`mlops_assets/stages/validation.py`, `check_contract`): a failing version is refused at
  about the cost of a valid one (section 7). Every check reports at most 20 failure cases to Pandera's report
  (`n_failure_cases`) and counts all of them in its own output; the row key is checked in one vectorised pass
  (Pandera reshaped every duplicate's key columns, and the report then sorted each duplicate's group apart); cells
  Pandera cannot cast, which make it test every value of their column in Python, are found vectorised and shown to
  it as the column's most frequent number, and Pandera reports the first 20 of each kind from the rows as
  delivered; text is read as numbers once per distinct value (pandas' `to_numeric` raised and caught an exception
  per cell that is not a number: half a second per million). The failure table keeps the first 20 failures of each
  rule, sorted by row; the counts cover them all.
- **Ingestion** (`mlops_assets/stages/ingestion.py`): the concatenated frame of a version belongs to
  `validate_version`, so it is validated in place instead of being copied once more.
- **Loading the definitions** (`defs/`, `column_schemas.py`): the Dagster layer imports the stage modules inside
  the assets and sensors that use them, and the contracts' columns for the UI come from `column_schemas.json`,
  built from the contracts and rebuilt whenever a contract or a model's feature code changes. Loading the code
  location imports neither pandas nor Pandera (a test pins it); before, that was about 0.6 s of every load (section
  2).
- **Values shared within a run** (`mlops_assets/wiring/io_managers.py`): the IO manager still writes every value to its
  file, and the steps that follow in the same run process get the object it stored instead of unpickling the file
  again: `raw_dataset` is read by four steps, `dataset_split` by two. At 1M rows each load cost about 0.1 s and a
  fresh 120 MB of page-faulted memory. Stage functions never modify their inputs; `tests/test_io_manager.py` runs
  the pipeline and checks every shared value against its file.
- **Many versions** (`mlops_assets/infra/sources/scanning.py`, each dataset's version sensor): the sensor lists the
  versions folder only when its mtime moved (a landing), and re-checks 200 seen versions per tick for changed files,
  in turn, instead of all of them (section 4).
- **Monitoring** (`mlops_assets/stages/drift.py`): categorical columns are counted per distinct value instead of
  per row: 1.8 s to 0.03 s for the five categorical columns of 1M rows, paid twice per run (reference profile and
  drift). Both sides got faster by the same amount, which makes the pipeline / plain ratios larger, not smaller.
- **Kept by measurement:** the in-process executor (section 1: Dagster's default multiprocess executor costs a
  process and a fresh import of the code per step) and pickle in the IO manager (section 6: faster than Parquet to
  write, which is what remains now that reads within a run are shared).
- **Not changed, measured instead:** Dagster's CLI, instance and event handling, MLflow's logging and the imports
  (sections 1 and 2 name their costs).
"""
