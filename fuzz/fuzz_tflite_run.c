/* libFuzzer harness: load + interpreter create + allocate + invoke with small inputs.
 *
 * Limits keep one iteration fast: at most 64 ops and 256 tensors per subgraph, 4 MB of tensor memory
 * per allocation. Inputs are filled with a pattern derived from the file (so the fuzzer steers it),
 * outputs read back, and the whole run repeated once (a second invoke on the same plan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt2lite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    p2l_limits limits = {.max_nodes = 64, .max_tensors = 256, .max_tensor_bytes = 16u << 20,
                         .max_arena_bytes = 4u << 20};
    p2l_model_load_options options = {.flags = P2L_MODEL_COPY, .limits = &limits};
    p2l_model *m = NULL;
    if (p2l_model_load_ex(data, size, &options, &m) != P2L_OK) return 0;
    p2l_interpreter *it = NULL;
    p2l_status s = p2l_interpreter_create(m, NULL, &it);
    p2l_model_free(m);
    if (s != P2L_OK) return 0;
    if (p2l_interpreter_allocate(it) == P2L_OK) {
        uint8_t *buf = malloc(4u << 20);
        int inputs = p2l_model_subgraph_input_count(p2l_interpreter_model(it), 0);
        int outputs = p2l_model_subgraph_output_count(p2l_interpreter_model(it), 0);
        for (int round = 0; round < 2 && buf; round++) {
            for (int i = 0; i < inputs; i++) {
                p2l_tensor_info info = {.size = sizeof info};
                if (p2l_interpreter_input_info(it, i, &info) != P2L_OK || info.bytes > (4u << 20)) continue;
                for (size_t b = 0; b < info.bytes; b++) buf[b] = size ? data[(b * 7 + (size_t)i + (size_t)round) % size] : 0;
                if (info.dtype == P2L_FLOAT32) /* keep floats finite and small */
                    for (size_t b = 0; b + 4 <= info.bytes; b += 4) {
                        float f = (float)((int8_t)buf[b]) / 16.0f;
                        memcpy(buf + b, &f, 4);
                    }
                p2l_interpreter_set_input(it, i, buf, info.bytes);
            }
            if (p2l_interpreter_invoke(it) != P2L_OK) break;
            for (int i = 0; i < outputs; i++) {
                p2l_tensor_info info = {.size = sizeof info};
                if (p2l_interpreter_output_info(it, i, &info) == P2L_OK && info.bytes <= (4u << 20))
                    p2l_interpreter_get_output(it, i, buf, info.bytes);
            }
        }
        free(buf);
    }
    p2l_interpreter_free(it);
    return 0;
}
