"""The demo: synthetic one-stop-shop exports of a registry's units (not a transform:
it writes files the pipeline reads). `demo.simulate` is the one dossier simulator,
shared with the benchmark's data (bench/data.py)."""
