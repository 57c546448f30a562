"""firstin's benchmark: a load generator with correctness counters (`make bench`, or `python -m bench --help`)."""
