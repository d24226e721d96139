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

echo "== C unit tests, runtime-only build (-DP2L_BUILD_CONVERTER=OFF: what a deployment links)"
cmake -S "$root" -B "$root/build/runtime-only" -DP2L_BUILD_CONVERTER=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build/runtime-only" -j"$(nproc)" >/dev/null
ctest --test-dir "$root/build/runtime-only" --output-on-failure

# Installed as a C developer gets it: cmake --install, then a consumer via find_package, pkg-config and
# add_subdirectory, each run on a model and compared with PyTorch.
"$root/scripts/test_install.sh"

# The C tests again built for aarch64, on the NEON kernels, under qemu (skipped, saying why, without it).
"$root/scripts/test_arm.sh"

# Chromium for the Model Explorer browser test (tests/python/test_explorer.py, which skips, saying why,
# without it): installed with apt-get as root when missing, as test_arm.sh installs its tools.
if ! command -v chromium >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium with apt-get (for the Model Explorer test)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
        echo "apt-get install chromium failed: the Model Explorer browser test will be skipped"
fi

echo "== Python tests"
cd "$root"
set +e
"$venv/bin/python" -m pytest -q --durations=30 tests/python "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that is a broken suite here, not a pass.
if [ $rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
[ $rc -eq 0 ] || exit $rc

# The C tests and a Python subset again, under ASan + UBSan (a separate build).
"$root/scripts/test_sanitize.sh"
