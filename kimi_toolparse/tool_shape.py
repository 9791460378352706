"""The shape of one OpenAI tool, checked the same way by ``parse()`` and by strict ``render()``.

A tool list that the parser refuses must not render into a prompt, and the other way round: both call
:func:`tool_function`, so both accept the same tools and word a refusal the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["tool_function"]


def tool_function(tool: object, index: int) -> Mapping[str, Any] | None:
    """The function of ``tools[index]``, or None for a tool of another type (``{"type": "_plugin"}``).

    A function tool is ``{"type": "function", "function": {"name": ..., "parameters": ...}}``; a dict with
    neither ``type`` nor ``function`` is read as the function itself (``{"name": ..., "parameters": ...}``).
    Raises TypeError for a tool that is not a dict and ValueError for a function without a name.
    """
    if not isinstance(tool, Mapping):
        raise TypeError(f"tools[{index}] must be a dict, not {type(tool).__name__}")
    if "function" in tool or tool.get("type") == "function":
        function = tool.get("function")
    elif "type" in tool:
        return None
    else:
        function = tool
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
        raise ValueError(
            f"tools[{index}] has no function name (tools[{index}].function.name): a tool is "
            "{'type': 'function', 'function': {'name': ..., 'parameters': {...}}}"
        )
    return function
