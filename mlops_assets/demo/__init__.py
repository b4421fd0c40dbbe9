"""The demo: hourly bike rentals of 2011 cut into twelve cumulative monthly versions. Delete it with your fork."""
