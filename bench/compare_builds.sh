#!/usr/bin/env bash
# Runtime speed of two builds of pt2lite side by side ("no slowdown" checks): the same .tflite files,
# benched by each build's `pt2lite` CLI in alternation, best median of ROUNDS rounds per thread count.
#
#   bench/compare_builds.sh OLD/pt2lite NEW/pt2lite [ARCHIVE_DIR]
#
# ARCHIVE_DIR holds .pt2 archives named like bench/zoo.py's models with '/' as '__' (default
# ~/.cache/pt2lite/zoo-pt2); each is converted once by the OLD build. MODELS, THREADS and ROUNDS
# override the defaults. Run it on an otherwise idle machine; it prints new/old per point and their
# geometric mean.
set -euo pipefail
old=$1 new=$2 dir=${3:-$HOME/.cache/pt2lite/zoo-pt2}
models=${MODELS:-"resnet18 mobilenet_v2 mobilenet_v3_small efficientnet_b0 hf__bert hf__gpt2 hf__llama timm__vit_tiny_patch16_224"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { "$1" bench "$2" --threads "$3" --min-runs 20 --min-seconds 1 2>&1 | sed -n 's/.*median \([0-9.]*\).*/\1/p'; }
printf "%-30s %3s %10s %10s %7s\n" model thr old_ms new_ms new/old
for m in $models; do
    "$old" convert "$dir/$m.pt2" -o "$work/$m.tflite" >/dev/null 2>&1 || { echo "$m: conversion failed"; continue; }
    for t in ${THREADS:-1 2}; do
        best_old="" best_new=""
        for _ in $(seq "${ROUNDS:-3}"); do
            a=$(median "$old" "$work/$m.tflite" "$t") b=$(median "$new" "$work/$m.tflite" "$t")
            best_old=$(printf '%s\n%s\n' "$a" "${best_old:-$a}" | sort -g | head -n1)
            best_new=$(printf '%s\n%s\n' "$b" "${best_new:-$b}" | sort -g | head -n1)
        done
        printf "%-30s %3s %10s %10s %7s\n" "$m" "$t" "$best_old" "$best_new" "$(awk -v a="$best_old" -v b="$best_new" 'BEGIN {printf "%.3f", b / a}')"
    done
done | tee "$work/table"
awk '$5 > 0 {s += log($5); n++} END {if (n) printf "geometric mean new/old over %d points: %.3f\n", n, exp(s / n)}' "$work/table"
