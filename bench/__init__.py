"""Cartagora benchmarks: `python -m bench [import|bbox|all]` (see bench/README.md)."""
