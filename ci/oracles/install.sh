#!/usr/bin/env bash
# Make .venv-oracles: the venv of the heavy-oracle suites (tests_heavy/constrain, serve, parsing, oracles).
# PyTorch's CPU build first (plain `torch` would fetch a CUDA build of several GB), then xgrammar without its
# dependencies (no triton: its GPU kernels are imported only for CUDA tensors) plus the ones it imports, then
# this package with the test-oracles extra (transformers, jsf, gbnf, and the main test extra).
# Usage: ci/oracles/install.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-oracles
echo "== $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet torch==2.13.0
"$venv/bin/python" -m pip install --quiet --no-deps xgrammar==0.2.9 apache-tvm-ffi==0.1.15.post2
"$venv/bin/python" -m pip install --quiet numpy -e '.[test-oracles]'
