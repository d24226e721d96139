/* libFuzzer harness: .tflite verification and load (p2l_model_load), then the model queries. */
#include <stdint.h>
#include <string.h>

#include "pt2lite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    p2l_model *m = NULL;
    if (p2l_model_load(data, size, P2L_MODEL_COPY, &m) != P2L_OK) return 0;
    volatile size_t sink = 0;
    for (int s = 0; s < p2l_model_subgraph_count(m); s++) {
        int t;
        for (int i = 0; i < p2l_model_subgraph_input_count(m, s); i++)
            if (p2l_model_subgraph_input(m, s, i, &t) == P2L_OK) sink += (size_t)t;
        for (int i = 0; i < p2l_model_subgraph_output_count(m, s); i++)
            if (p2l_model_subgraph_output(m, s, i, &t) == P2L_OK) sink += (size_t)t;
    }
    for (int g = 0; g < p2l_model_signature_count(m); g++) {
        const char *key = p2l_model_signature_key(m, g);
        int found, sub, t;
        sink += strlen(key);
        if (p2l_model_find_signature(m, key, &found) == P2L_OK) sink += (size_t)found;
        if (p2l_model_signature_subgraph(m, g, &sub) == P2L_OK) sink += (size_t)sub;
        for (int io = 0; io < 2; io++)
            for (int i = 0; i < p2l_model_signature_io_count(m, g, io); i++) {
                const char *name;
                if (p2l_model_signature_io(m, g, io, i, &name, &t) == P2L_OK) {
                    sink += strlen(name);
                    if (p2l_model_signature_find_io(m, g, io, name, &t) == P2L_OK) sink += (size_t)t;
                }
            }
    }
    (void)sink;
    p2l_model_free(m);
    return 0;
}
