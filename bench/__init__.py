"""The book's benchmarks: `python -m bench.<name>` prints a table (see bench/README.md)."""
