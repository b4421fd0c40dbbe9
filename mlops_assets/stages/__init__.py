"""Stage logic as plain functions, one module per stage and concern; no Dagster context needed to call them."""
