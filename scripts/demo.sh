#!/usr/bin/env bash
# Sets everything up, converts torchvision's resnet18 with pt2lite and runs it on LiteRT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PT2LITE_VENV:-$HOME/.cache/pt2lite/venv}"
"$root/scripts/setup.sh"
"$venv/bin/python" "$root/examples/convert_resnet18.py" "$@"
