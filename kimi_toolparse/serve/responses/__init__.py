"""OpenAI's Responses API on the gateway: ``protocol`` reads requests, ``output`` writes items and events."""

from __future__ import annotations

__all__: list[str] = []
