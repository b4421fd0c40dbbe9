"""The pipeline's software-defined assets, one module per stage; `pipeline_asset` gives them what they share."""
