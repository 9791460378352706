"""Tests against outside oracles: Moonshot's reference parser, the committed goldens, the live templates."""
