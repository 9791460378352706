"""Tests of kimi_toolparse.parsing: rules, conformance corpus, properties, API and CLI of the parser."""
