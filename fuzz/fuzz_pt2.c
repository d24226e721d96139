/* libFuzzer harness: .pt2 archive -> ATen-level IR (p2l_pt2_read), under small resource limits (as
 * p2l_convert would set them from p2l_convert_options.limits). */
#include <stdint.h>

#include "base/limits.h"
#include "pt2/pt2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    p2l_limits limits = {.max_tensor_bytes = 64u << 20, .max_nodes = 4096, .max_tensors = 16384,
                         .max_json_depth = 128};
    p2l_limits_set_thread(&limits);
    p2l_exported ep;
    if (p2l_pt2_read(data, size, &ep) == P2L_OK) p2l_exported_free(&ep);
    return 0;
}
