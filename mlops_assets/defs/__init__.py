"""Dagster's side of the project, loaded by `dg.load_from_defs_folder` (definitions.py): assets per stage, the gate
checks, jobs and sensors. `dg scaffold defs dagster.asset <file>.py` adds a file here and it is picked up.

Everything here only wires: the decisions live in the plain stage functions of mlops_assets/stages/, imported
inside the assets and sensors so that loading the code location imports no data or ML library.
"""
