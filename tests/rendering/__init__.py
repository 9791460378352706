"""Tests of kimi_toolparse.rendering: API, CLI, token ids, TypeScript tool declarations, round trips."""
