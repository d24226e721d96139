# Convenience targets; the build itself is CMake (see README).
FUZZ_SECONDS ?= 60

.PHONY: fuzz test sanitize
fuzz:            ## run every libFuzzer harness for FUZZ_SECONDS each (needs clang)
	$(MAKE) -C fuzz fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
test:            ## the whole test suite, as CI runs it
	bash scripts/test.sh
sanitize:        ## C tests and a Python subset under ASan + UBSan
	bash scripts/test_sanitize.sh
