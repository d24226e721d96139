/* libFuzzer harness: the zip reader (p2l_zip_open), then every entry's bytes and a lookup by name. */
#include <stdint.h>
#include <stdlib.h>

#include "base/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    p2l_arena arena = {0};
    p2l_zip zip;
    if (p2l_zip_open(data, size, &arena, &zip) == P2L_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < zip.count; i++) {
            const p2l_zip_entry *e = &zip.entries[i];
            if (e->data && e->size) sink ^= e->data[0] ^ e->data[e->size - 1];
            if (p2l_zip_find(&zip, e->name) == NULL) abort(); /* every listed name is found */
        }
        (void)sink;
    }
    p2l_arena_free(&arena);
    return 0;
}
