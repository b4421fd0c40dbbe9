"""Sensors: new dataset versions become runs, monitoring results become retraining decisions, failures alerts."""
