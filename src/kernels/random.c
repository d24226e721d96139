/* RANDOM_UNIFORM ([0, 1)) and RANDOM_STANDARD_NORMAL of a constant shape, float32. The generator is
 * a splitmix64 stream per node, seeded from the options (seed, seed2) or, when both are 0 (as
 * LiteRT's "pick a seed" rule), from the node's address and the clock: values follow the
 * distributions, never LiteRT's or torch's exact numbers. Each invoke continues the stream. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

typedef struct random_state {
    uint64_t s;
} random_state;

static uint64_t next_u64(random_state *st) {
    uint64_t z = (st->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 24 random bits (every value exactly representable in float32). */
static float next_uniform(random_state *st) { return (float)(next_u64(st) >> 40) * (1.0f / 16777216.0f); }

static p2l_status random_prepare(p2l_node *node) {
    const p2l_tensor *shape = node->inputs[0];
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_FLOAT32));
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    P2L_TRY(p2l_read_dims(shape, "output shape", 0, &rank, dims));
    random_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    uint64_t seed = (uint64_t)node->opts.random.seed, seed2 = (uint64_t)node->opts.random.seed2;
    if (seed == 0 && seed2 == 0) seed = (uint64_t)(uintptr_t)node ^ (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    st->s = seed * 0x9E3779B97F4A7C15ull ^ seed2;
    node->state = st;
    return p2l_set_output_dims(node, 0, rank, dims);
}

static p2l_status random_invoke(p2l_node *node) {
    random_state *st = node->state;
    p2l_tensor *y = node->outputs[0];
    float *out = y->data;
    if (node->op == P2L_OP_RANDOM_UNIFORM) {
        for (size_t i = 0; i < y->count; i++) out[i] = next_uniform(st);
        return P2L_OK;
    }
    /* Box-Muller, two values per pair of uniforms */
    for (size_t i = 0; i < y->count; i += 2) {
        float u1 = next_uniform(st), u2 = next_uniform(st);
        double r = sqrt(-2.0 * log(1.0 - (double)u1)), a = 6.283185307179586 * (double)u2;
        out[i] = (float)(r * cos(a));
        if (i + 1 < y->count) out[i + 1] = (float)(r * sin(a));
    }
    return P2L_OK;
}

const p2l_kernel p2l_kernel_random = {
    .prepare = random_prepare, .invoke = random_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_NO_FOLD,
};
