"""load: Locust users, shapes, chaos schedule, web UI chaos tab, run records."""
