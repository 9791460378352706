"""Tests of the integrations that run in the main venv: the LiteLLM provider."""
