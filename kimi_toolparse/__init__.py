"""kimi_toolparse: streaming tool-call parser and prompt renderer for the Kimi K2 model family."""

from __future__ import annotations

from .vocab import KimiVocabulary

__version__ = "0.1.0"

__all__ = ["KimiVocabulary", "__version__"]
