#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: C unit tests (ctest) and Python tests (pytest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PT2LITE_VENV:-$HOME/.cache/pt2lite/venv}"
"$root/scripts/setup.sh"

echo "== C unit tests"
build="${PT2LITE_BUILD:-$root/build/ctest}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
ctest --test-dir "$build" --output-on-failure

echo "== Python tests"
cd "$root"
set +e
"$venv/bin/python" -m pytest -q tests/python "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that is a broken suite here, not a pass.
if [ $rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
[ $rc -eq 0 ] || exit $rc

# The C tests and a Python subset again, under ASan + UBSan (a separate build).
"$root/scripts/test_sanitize.sh"
