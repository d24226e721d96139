/* libFuzzer harness: the whole conversion (p2l_convert), with small resource limits. When conversion
 * succeeds, the runtime's verifier must accept the output as well-formed: a converter that writes a
 * file its own verifier calls malformed is a bug (an unsupported op or version is fine). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pt2lite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    p2l_limits limits = {.max_tensor_bytes = 64u << 20, .max_nodes = 4096, .max_tensors = 16384,
                         .max_json_depth = 128};
    p2l_convert_options options = {.limits = &limits};
    void *out = NULL;
    size_t out_size = 0;
    if (p2l_convert(data, size, &options, &out, &out_size) == P2L_OK) {
        p2l_model *m = NULL;
        p2l_status s = p2l_model_load(out, out_size, 0, &m);
        if (s == P2L_ERROR_MALFORMED) {
            fprintf(stderr, "converter output fails verification: %s\n", p2l_last_error());
            abort();
        }
        p2l_model_free(m);
        p2l_free(out);
    }
    return 0;
}
