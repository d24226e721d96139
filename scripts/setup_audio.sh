#!/usr/bin/env bash
# Creates (once) the second Python environment the zoo's torchaudio rows are exported in:
# torchaudio's releases pair with torch 2.9.1 only (the main environment has torch 2.14.1). It
# only exports; conversion and both runtimes run in the main environment (bench/zoo.py).
# Location: PT2LITE_AUDIO_VENV, default ~/.cache/pt2lite/venv-audio (about 7 GB).
set -euo pipefail
venv="${PT2LITE_AUDIO_VENV:-$HOME/.cache/pt2lite/venv-audio}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torchaudio, numpy" 2>/dev/null; then
    "$venv/bin/python" -m pip install -q torch==2.9.1 torchvision==0.24.1
    "$venv/bin/python" -m pip install -q torch==2.9.1 'torchaudio==2.9.*' numpy
fi
echo "torchaudio environment: $venv/bin/python (bench/zoo.py finds it there, or set PT2LITE_AUDIO_PYTHON)"
