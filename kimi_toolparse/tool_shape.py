"""The shape of an OpenAI tool list, checked the same way by ``parse()``, strict ``render()`` and the CLI.

A tool list that the parser refuses must not render into a prompt, and the other way round: all of them
call :func:`tool_functions`, so they accept the same tools and word a refusal the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["tool_function", "tool_functions"]


def tool_functions(tools: object, *, sequence: bool = False) -> list[Mapping[str, Any] | None]:
    """The function of each tool (None for tools of other types), every tool checked by :func:`tool_function`.

    Raises TypeError for something that is not a list of tools (with ``sequence``, anything but a list or
    tuple: what strict ``render()`` takes; otherwise any iterable but a string or a dict).
    """
    if (
        isinstance(tools, (str, bytes, Mapping))
        or not isinstance(tools, Iterable)
        or (sequence and not isinstance(tools, (list, tuple)))
    ):
        raise TypeError(f"tools must be a list of OpenAI tool dicts, not {type(tools).__name__}")
    return [tool_function(tool, i) for i, tool in enumerate(tools)]


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
