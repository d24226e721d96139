#!/usr/bin/env bash
# Creates (once) the Python environment pt2lite's tests and demo use, and installs pt2lite into it.
# The environment lives outside the clone (PT2LITE_VENV, default ~/.cache/pt2lite/venv) so clean
# clones and CI reuse it: torch alone is several GB.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PT2LITE_VENV:-$HOME/.cache/pt2lite/venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
# Requirements change rarely; install only when the list changed since the last run.
stamp="$venv/.pt2lite-requirements"
if ! cmp -s "$root/requirements-dev.txt" "$stamp" 2>/dev/null; then
    echo "== installing requirements (torch, torchvision, ai-edge-litert, ...)"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$root/requirements-dev.txt"
    cp "$root/requirements-dev.txt" "$stamp"
fi
echo "== building and installing pt2lite"
"$venv/bin/python" -m pip install -q --no-build-isolation "$root"
