"""Helpers shared by tests, benchmarks and scripts, never shipped: ways to feed a parser, Moonshot's
reference parser, the Jinja oracle and the committed render goldens."""
