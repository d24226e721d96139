/* Small pieces every fast kernel shares (fast.h). */
#include "kernels/fast/fast.h"

p2l_status p2l_fast_prepare(p2l_node *node, const p2l_kernel *reference, size_t size, void **state) {
    P2L_TRY(reference->prepare(node));
    void **st = p2l_arena_alloc(node->arena, size);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st[0] = node->state; /* the state struct's first member */
    node->state = st;
    *state = st;
    return P2L_OK;
}

p2l_status p2l_fast_derive(p2l_node *node, bool from_constants, const p2l_derived_key *key, size_t bytes,
                           p2l_derive_fn derive, const void *ctx, const void **data) {
    if (from_constants && node->derived) return node->derived->get(node->derived, key, sizeof *key, bytes, derive, ctx, data);
    *data = NULL;
    if (bytes > SIZE_MAX - 64) return p2l_fail(P2L_ERROR_LIMIT, "derived constants of %zu bytes are too large", bytes);
    uint8_t *block = p2l_arena_alloc(node->arena, bytes + 64); /* zeroed */
    if (!block) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory packing %zu bytes of weights", bytes);
    void *aligned = p2l_align_pointer(block, 64);
    P2L_TRY(derive(aligned, ctx));
    *data = aligned;
    return P2L_OK;
}

bool p2l_clamp_of(int activation, p2l_clamp *clamp) {
    *clamp = (p2l_clamp){-__builtin_inff(), __builtin_inff(), true, P2L_EPILOGUE_NONE};
    switch (activation) {
    case P2L_ACT_NONE: clamp->on = false; return true;
    case P2L_ACT_RELU: clamp->lo = 0; return true;
    case P2L_ACT_RELU_N1_TO_1: clamp->lo = -1, clamp->hi = 1; return true;
    case P2L_ACT_RELU6: clamp->lo = 0, clamp->hi = 6; return true;
    default: return false;
    }
}

