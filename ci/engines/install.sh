#!/usr/bin/env bash
# Make the engine test venvs: .venv-vllm and/or .venv-sglang (default both), each with the engine
# installed without its dependencies plus exactly what its import chain needs (ci/engines/*-requirements.txt;
# torch is the CPU build), then this package on top. No GPU, no model. Usage: ci/engines/install.sh [vllm] [sglang]
set -euo pipefail
cd "$(dirname "$0")/../.."
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(vllm sglang)
for engine in "${engines[@]}"; do
  case "$engine" in
    vllm|sglang) ;;
    *) echo "ci/engines/install.sh: unknown engine '$engine' (vllm or sglang)" >&2; exit 2 ;;
  esac
  venv=".venv-$engine"
  echo "== $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --no-deps -r "ci/engines/$engine-requirements.txt"
  "$venv/bin/python" -m pip install --quiet --no-deps -e .
done
