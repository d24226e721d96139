#!/usr/bin/env bash
# The C library and C tests built for aarch64 (build/arm), run under qemu user-mode emulation with
# P2L_EXPECT_FAST_KERNELS=1, so that the NEON kernels are tested against the reference kernels and
# cannot be silently off. On an aarch64 machine it builds and runs natively instead.
#
#   scripts/test_arm.sh
#
# Needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian/Ubuntu: gcc-aarch64-linux-gnu qemu-user
# libc6-dev-arm64-cross). As root it installs them with apt-get when missing; otherwise it says that
# the Arm tests were skipped and why, and exits 0. Emulation measures correctness, not speed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PT2LITE_ARM_BUILD:-$root/build/arm}"
jobs="${PT2LITE_JOBS:-$(nproc)}"
cc="${P2L_ARM_CC:-aarch64-linux-gnu-gcc}"
sysroot="${P2L_ARM_SYSROOT:-/usr/aarch64-linux-gnu}"

skip() {
    echo "== Arm (aarch64) tests SKIPPED: $1"
    exit 0
}

have_tools() { command -v "$cc" >/dev/null && command -v qemu-aarch64 >/dev/null && [ -d "$sysroot/lib" ]; }

echo "== Arm (aarch64) NEON kernels and C tests ($build)"
cmake_args=()
case "$(uname -m)" in
aarch64 | arm64) ;; # native: the default compiler, no emulator
*)
    if ! have_tools; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
            echo "installing the aarch64 cross compiler and qemu with apt-get"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq >/dev/null || skip "apt-get update failed"
            apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross >/dev/null ||
                skip "apt-get install gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross failed"
            have_tools || skip "$cc, qemu-aarch64 or $sysroot still missing after apt-get install"
        else
            skip "$cc, qemu-aarch64 or the aarch64 libc ($sysroot) is missing, and installing needs root and apt-get (packages: gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross)"
        fi
    fi
    cmake_args=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_C_COMPILER="$cc"
        "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;-L;$sysroot")
    ;;
esac

start=$SECONDS
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${cmake_args[@]+"${cmake_args[@]}"} >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
P2L_EXPECT_FAST_KERNELS=1 ctest --test-dir "$build" --output-on-failure -j"$jobs"
# test_kernels_fast fails if the NEON kernels are off; its count shows how much ran on them.
grep -h "on fast kernels" "$build/Testing/Temporary/LastTest.log" || true
echo "Arm tests took $((SECONDS - start)) s"
