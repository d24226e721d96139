#!/usr/bin/env bash
# pt2lite as a C developer gets it: `cmake --install` into a prefix, then the consumer in
# examples/embed_c built against the installed package (find_package with the shared and with the
# static library, and pkg-config) and as a subproject (add_subdirectory), each run on a small model
# and compared with PyTorch. Also checks the shared library's SONAME and that it exports only p2l_
# symbols, and that a runtime-only install says so (no converter in the header or the package).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PT2LITE_VENV:-$HOME/.cache/pt2lite/venv}"
work="${PT2LITE_INSTALL_TEST:-$root/build/install-test}"
jobs="${PT2LITE_JOBS:-$(nproc)}"
rm -rf "$work"
mkdir -p "$work"
fail() { echo "test_install: FAILED: $*" >&2; exit 1; }

echo "== install: cmake --install, then a consumer via find_package, pkg-config and add_subdirectory"
prefix="$work/prefix"
cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DP2L_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/unused >/dev/null
cmake --build "$work/build" -j"$jobs" >/dev/null
cmake --install "$work/build" --prefix "$prefix" >/dev/null
libdir="$(dirname "$(find "$prefix" -name 'libpt2lite.so.0' | head -n1)")"
[ -d "$libdir" ] || fail "no libpt2lite.so.0 installed under $prefix"
for f in "$prefix/include/pt2lite.h" "$prefix/include/pt2lite_config.h" "$libdir/libpt2lite.a" \
         "$libdir/cmake/pt2lite/pt2liteConfig.cmake" "$libdir/pkgconfig/pt2lite.pc"; do
    [ -f "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
soname="$(objdump -p "$libdir/libpt2lite.so" | awk '/SONAME/ {print $2}')"
[ "$soname" = "libpt2lite.so.0" ] || fail "SONAME is '$soname', expected libpt2lite.so.0"
foreign="$(nm -D --defined-only "$libdir/libpt2lite.so" | awk '{print $3}' | grep -v '^p2l_' || true)"
[ -z "$foreign" ] || fail "libpt2lite.so exports symbols without the p2l_ prefix: $(echo $foreign | head -c 300)"
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# A small model and PyTorch's output for the input pattern main.c uses.
"$venv/bin/python" - "$work" <<'PY'
import sys, torch, pt2lite
work = sys.argv[1]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                            torch.nn.Linear(8 * 6 * 6, 5)).eval()
x = ((torch.arange(3 * 6 * 6) % 13 - 6) / 4.0).reshape(1, 3, 6, 6)
pt2lite.convert(model, (x,)).export(f"{work}/model.tflite")
with open(f"{work}/expected.txt", "w") as f:
    f.writelines(f"{v:.9g}\n" for v in model(x).detach().flatten().tolist())
PY

check_run() {  # $1: what, $2: the consumer binary
    "$2" "$work/model.tflite" >"$work/got.txt" || fail "$1: the consumer failed"
    "$venv/bin/python" - "$work/got.txt" "$work/expected.txt" "$1" <<'PY' || fail "$1: output differs from PyTorch"
import sys
got = [float(v) for v in open(sys.argv[1])]
expected = [float(v) for v in open(sys.argv[2])]
assert len(got) == len(expected), f"{len(got)} values, expected {len(expected)}"
bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if abs(g - e) > 1e-5 + 1e-4 * abs(e)]
assert not bad, f"values differ: {bad[:3]}"
print(f"{sys.argv[3]}: {len(got)} outputs match PyTorch")
PY
}

cmake -S "$root/examples/embed_c" -B "$work/find-shared" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/find-shared" >/dev/null
ldd "$work/find-shared/embed_c" | grep -q 'libpt2lite.so.0' || fail "find_package(pt2lite): not linked to libpt2lite.so.0"
check_run "find_package, shared" "$work/find-shared/embed_c"

cmake -S "$root/examples/embed_c" -B "$work/find-static" -DCMAKE_PREFIX_PATH="$prefix" -DEMBED_STATIC=ON >/dev/null
cmake --build "$work/find-static" >/dev/null
! ldd "$work/find-static/embed_c" | grep -q libpt2lite || fail "EMBED_STATIC: still linked to the shared library"
check_run "find_package, static" "$work/find-static/embed_c"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion pt2lite)" = "$(sed -n 's/^project(pt2lite VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")" ] ||
    fail "pkg-config --modversion pt2lite is not the project's version"
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -Wall -Werror "$root/examples/embed_c/main.c" $(pkg-config --cflags --libs pt2lite) \
    -Wl,-rpath,"$libdir" -o "$work/pkgconfig_embed_c"
check_run "pkg-config" "$work/pkgconfig_embed_c"

# The command-line tool is a user of the public API like any other: it compiles against the installed
# header alone and links against the shared library's exported symbols alone, and then says what the
# installed tool says.
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -Wall -Werror "$root/tools/pt2lite.c" $(pkg-config --cflags --libs pt2lite) \
    -Wl,-rpath,"$libdir" -o "$work/pkgconfig_cli" || fail "tools/pt2lite.c needs more than the public API"
for args in "version" "inspect $work/model.tflite"; do
    # shellcheck disable=SC2086
    cmp -s <("$work/pkgconfig_cli" $args 2>&1) <("$prefix/bin/pt2lite" $args 2>&1) ||
        fail "pt2lite $args: the tool built on the public API says something else than the installed one"
done
echo "pt2lite (tools/pt2lite.c) builds on the installed header and shared library alone"

cmake -S "$root/examples/embed_c" -B "$work/subproject" -DPT2LITE_SOURCE_DIR="$root" >/dev/null
cmake --build "$work/subproject" -j"$jobs" >/dev/null
targets="$(cmake --build "$work/subproject" --target help)"
if grep -Eq '(^|[ .])(test_[a-z_]+|pt2lite_cli)$' <<<"$targets"; then
    fail "as a subproject pt2lite still defines its tests or CLI"
fi
check_run "add_subdirectory" "$work/subproject/embed_c"

# A runtime-only install: the header declares no converter, the package has no pt2lite::converter.
cmake -S "$root" -B "$work/build-rt" -DCMAKE_BUILD_TYPE=Release -DP2L_BUILD_TESTS=OFF -DP2L_BUILD_CONVERTER=OFF >/dev/null
cmake --build "$work/build-rt" -j"$jobs" >/dev/null
cmake --install "$work/build-rt" --prefix "$work/prefix-rt" >/dev/null
! grep -q 'define P2L_HAVE_CONVERTER' "$work/prefix-rt/include/pt2lite_config.h" ||
    fail "runtime-only install: pt2lite_config.h defines P2L_HAVE_CONVERTER"
grep -q 'define P2L_HAVE_CONVERTER' "$prefix/include/pt2lite_config.h" ||
    fail "full install: pt2lite_config.h does not define P2L_HAVE_CONVERTER"
printf '#include "pt2lite.h"\nint main(void) { return (int)p2l_convert(0, 0, 0, 0, 0); }\n' >"$work/uses_converter.c"
if ${CC:-cc} -std=c11 -Werror=implicit-function-declaration -c "$work/uses_converter.c" \
    -I"$work/prefix-rt/include" -o "$work/uses_converter.o" 2>/dev/null; then
    fail "runtime-only install: the header still declares p2l_convert"
fi
cmake -S "$root/examples/embed_c" -B "$work/find-rt" -DCMAKE_PREFIX_PATH="$work/prefix-rt" >/dev/null
cmake --build "$work/find-rt" >/dev/null
check_run "find_package, runtime-only install" "$work/find-rt/embed_c"
# examples/generate_c (the C generation loop) from the installed package, on the tiny Llama fixture of
# tests/c/test_generate.c: its greedy ids are the ones HuggingFace's generate gave in PyTorch.
cmake -S "$root/examples/generate_c" -B "$work/generate-c" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/generate-c" >/dev/null
llm="$root/tests/data/llm"
got="$("$work/generate-c/generate_c" "$llm/tiny_llama.tflite" "$(sed -n 's/^prompt //p' "$llm/tiny_llama_expected.txt" | head -n1)" 12)" ||
    fail "generate_c failed"
[ "$got" = "$(sed -n 's/^expected //p' "$llm/tiny_llama_expected.txt" | head -n1)" ] ||
    fail "generate_c: ids $got differ from PyTorch's (tests/data/llm/tiny_llama_expected.txt)"
echo "generate_c: greedy ids match PyTorch"
echo "install and embedding: all checks passed"
