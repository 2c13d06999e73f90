"""Benchmarks of the auth path (scripts, not pytest tests): see README.md."""
