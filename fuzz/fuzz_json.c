/* libFuzzer harness: the JSON parser (p2l_json_parse) on arbitrary bytes, then a walk of the tree. */
#include <stdint.h>
#include <string.h>

#include "base/json.h"

static size_t walk(const p2l_json *v, int depth) {
    size_t n = 1;
    double d;
    if (depth > 1000) return n;
    if (v->type == P2L_JSON_STRING) n += strlen(v->string) + (p2l_json_number(v, &d) ? 1 : 0);
    if (v->type == P2L_JSON_ARRAY || v->type == P2L_JSON_OBJECT)
        for (size_t i = 0; i < v->length; i++) {
            n += walk(&v->items[i], depth + 1);
            if (v->type == P2L_JSON_OBJECT) n += p2l_json_get(v, v->keys[i]) != NULL;
        }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    p2l_arena arena = {0};
    p2l_json *root = NULL;
    p2l_json_limits limits = {.max_depth = 64, .max_bytes = 1 << 20};
    if (p2l_json_parse((const char *)data, size, &limits, "fuzz.json", &arena, &root) == P2L_OK) walk(root, 0);
    p2l_arena_free(&arena);
    return 0;
}
