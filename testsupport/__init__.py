"""Helpers the tests and benchmarks share, never shipped: ways to feed a parser (``streams``), Moonshot's
reference parser (``reference_parser``), the Jinja oracle and the committed render goldens (``goldens``)."""
