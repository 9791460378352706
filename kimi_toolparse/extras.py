"""Optional extras: which extra brings each optional module, and the one-line message when one is missing.

The package is installed from a clone of its repository, so the command a message gives is the one that
works there: ``pip install '.[EXTRA]'`` run in the clone. Once the package is published, the same extra
installs with ``pip install 'kimi_toolparse[EXTRA]'``.

A leaf: it imports nothing of the package, so every module can use it.
"""

from __future__ import annotations

__all__ = ["EXTRA_OF_MODULE", "ExtraMissing", "install_command", "missing_extra"]

#: The extra that installs each optional top-level module the package imports.
EXTRA_OF_MODULE: dict[str, str] = {
    "tiktoken": "tiktoken",
    "transformers": "transformers",
    "httpx": "verify",
    "starlette": "serve",
    "uvicorn": "serve",
    "aiohttp": "serve",
    "orjson": "serve",
    "prometheus_client": "serve",
    "hypothesis": "fuzz",
    "redis": "redis",
}


class ExtraMissing(ImportError):
    """An optional extra is not installed; the message names what needs it and the command that installs
    it."""


def install_command(extra: str) -> str:
    """The command that installs ``extra`` from a clone of the repository (run in the clone)."""
    return f"pip install '.[{extra}]'"


def missing_extra(what: str, module: str, extra: str | None = None) -> ExtraMissing:
    """The error for ``what`` (a feature, a subcommand) when ``module`` does not import: one line that says
    which extra to install and how. ``extra`` defaults to the one :data:`EXTRA_OF_MODULE` names."""
    top = module.partition(".")[0]
    extra = extra or EXTRA_OF_MODULE.get(top)
    if extra is None:
        return ExtraMissing(f"{what} needs {top}, which is not installed: pip install {top}", name=top)
    return ExtraMissing(
        f"{what} needs the {extra} extra ({top} is not installed): "
        f"{install_command(extra)} in your kimi_toolparse clone",
        name=top,
    )
