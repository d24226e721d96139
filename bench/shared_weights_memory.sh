#!/usr/bin/env bash
# Memory of a first and a second interpreter on one model (bench/shared_weights_memory.c), for each
# build directory given (a Release build of pt2lite: its libpt2lite.a, generated include/ and CLI).
#
#   bench/shared_weights_memory.sh [BUILD_DIR ...]        (default: build/rel)
#
# The models are converted by the first build's CLI from ARCHIVE_DIR's .pt2 archives (default
# ~/.cache/pt2lite/zoo-pt2; MODELS overrides "mobilenet_v2 resnet18"); THREADS (default 1) is each
# interpreter's num_threads. Each measurement is its own process.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root/build/rel")
dir=${ARCHIVE_DIR:-$HOME/.cache/pt2lite/zoo-pt2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in "${!builds[@]}"; do
    b=${builds[$i]}
    lib=$(find "$b" -maxdepth 2 -name libpt2lite.a | head -n1)
    [ -n "$lib" ] || { echo "$b: no libpt2lite.a (build it first)" >&2; exit 1; }
    cc -O2 -std=gnu11 -I"$root/include" -I"$b/include" "$root/bench/shared_weights_memory.c" "$lib" -lpthread -lm \
        -o "$work/measure$i"
done
cli=$(find "${builds[0]}" -maxdepth 2 -name pt2lite -type f -perm -u+x | head -n1)
for m in ${MODELS:-mobilenet_v2 resnet18}; do
    "$cli" convert "$dir/$m.pt2" -o "$work/$m.tflite" >/dev/null
    for i in "${!builds[@]}"; do
        echo "== $m ($(du -m "$work/$m.tflite" | cut -f1) MB file), ${builds[$i]}"
        "$work/measure$i" "$work/$m.tflite" "${THREADS:-1}"
    done
done
