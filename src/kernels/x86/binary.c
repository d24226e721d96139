/* Float ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM with broadcasting, AVX2, with the fused activation
 * applied before the store. Broadcasting (common.c) turns the op into rows where each operand
 * advances or repeats; each row runs one of three loops: both advance (same shape, or a per-channel
 * vector against each pixel's channels), or one of them is a repeated scalar. Large outputs are
 * split over the threads by rows (or by pieces of one long row). */
#include "kernels/x86/x86.h"

enum { CHUNK = 16384 }; /* output elements per task */

static inline __m256 op8(p2l_op op, __m256 x, __m256 y) {
    switch (op) {
    case P2L_OP_ADD: return _mm256_add_ps(x, y);
    case P2L_OP_SUB: return _mm256_sub_ps(x, y);
    case P2L_OP_MUL: return _mm256_mul_ps(x, y);
    case P2L_OP_DIV: return _mm256_div_ps(x, y);
    /* The reference's x < y ? y : x and y < x ? y : x, NaN and signed zeros included. */
    case P2L_OP_MAXIMUM: return _mm256_max_ps(y, x);
    case P2L_OP_MINIMUM: return _mm256_min_ps(y, x);
    default: return x;
    }
}

typedef void (*row_fn)(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n, const p2l_clamp *cl);

/* sa, sb: 1 (advance) or 0 (repeat); the compiler specializes each of the three loops. */
#define DEFINE_ROW(name, OP)                                                                            \
    static void name(const float *a, size_t sa, const float *b, size_t sb, float *out, size_t n,        \
                     const p2l_clamp *cl) {                                                             \
        const __m256 lo = _mm256_set1_ps(cl->lo), hi = _mm256_set1_ps(cl->hi);                          \
        const bool clamp = cl->on;                                                                      \
        const __m256 va = _mm256_set1_ps(a[0]), vb = _mm256_set1_ps(b[0]);                              \
        size_t i = 0;                                                                                   \
        if (sa && sb) {                                                                                 \
            for (; i + 8 <= n; i += 8) {                                                                \
                __m256 r = op8(OP, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));                     \
                _mm256_storeu_ps(out + i, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, r)) : r);         \
            }                                                                                           \
        } else if (sa) {                                                                                \
            for (; i + 8 <= n; i += 8) {                                                                \
                __m256 r = op8(OP, _mm256_loadu_ps(a + i), vb);                                         \
                _mm256_storeu_ps(out + i, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, r)) : r);         \
            }                                                                                           \
        } else if (sb) {                                                                                \
            for (; i + 8 <= n; i += 8) {                                                                \
                __m256 r = op8(OP, va, _mm256_loadu_ps(b + i));                                         \
                _mm256_storeu_ps(out + i, clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, r)) : r);         \
            }                                                                                           \
        }                                                                                               \
        if (i < n) { /* the rest (and rows where both repeat) element by element, as vectors of one */ \
            for (; i < n; i++) {                                                                        \
                __m256 r = op8(OP, _mm256_set1_ps(a[i * sa]), _mm256_set1_ps(b[i * sb]));              \
                if (clamp) r = _mm256_min_ps(hi, _mm256_max_ps(lo, r));                                 \
                out[i] = _mm256_cvtss_f32(r);                                                           \
            }                                                                                           \
        }                                                                                               \
    }
DEFINE_ROW(add_row, P2L_OP_ADD)
DEFINE_ROW(sub_row, P2L_OP_SUB)
DEFINE_ROW(mul_row, P2L_OP_MUL)
DEFINE_ROW(div_row, P2L_OP_DIV)
DEFINE_ROW(max_row, P2L_OP_MAXIMUM)
DEFINE_ROW(min_row, P2L_OP_MINIMUM)

typedef struct binary_state {
    void *reference_state;
    row_fn row; /* NULL: reference kernel */
    p2l_clamp clamp;
    p2l_bcast bcast;
    size_t rows_per_task, tasks;
} binary_state;

static p2l_status binary_prepare(p2l_node *node) {
    P2L_TRY(p2l_kernel_binary.prepare(node));
    binary_state *st = p2l_arena_alloc(node->arena, sizeof *st);
    if (!st) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    st->reference_state = node->state;
    node->state = st;
    const p2l_tensor *a = node->inputs[0], *b = node->inputs[1], *y = node->outputs[0];
    if (a->dtype != P2L_FLOAT32) return P2L_OK;
    int activation = p2l_option_field(node->op, "fused_activation_function") >= 0
                         ? p2l_option_int(node, "fused_activation_function") : P2L_ACT_NONE;
    if (!p2l_clamp_of(activation, &st->clamp)) return P2L_OK;
    const p2l_tensor *operands[2] = {a, b};
    p2l_bcast_init(&st->bcast, 2, operands, y->rank, y->dims);
    const p2l_bcast *bc = &st->bcast;
    st->rows_per_task = bc->inner >= CHUNK ? 1 : CHUNK / (bc->inner ? bc->inner : 1);
    st->tasks = bc->rows == 1 ? (bc->inner + CHUNK - 1) / CHUNK : (bc->rows + st->rows_per_task - 1) / st->rows_per_task;
    switch (node->op) {
    case P2L_OP_ADD: st->row = add_row; break;
    case P2L_OP_SUB: st->row = sub_row; break;
    case P2L_OP_MUL: st->row = mul_row; break;
    case P2L_OP_DIV: st->row = div_row; break;
    case P2L_OP_MAXIMUM: st->row = max_row; break;
    case P2L_OP_MINIMUM: st->row = min_row; break;
    default: break;
    }
    return P2L_OK;
}

typedef struct binary_job {
    const binary_state *st;
    const float *a, *b;
    float *out;
} binary_job;

static void binary_task(void *ctx, size_t task, int thread) {
    const binary_job *job = ctx;
    const binary_state *st = job->st;
    const p2l_bcast *bc = &st->bcast;
    const size_t sa = bc->strides[0][bc->rank - 1], sb = bc->strides[1][bc->rank - 1];
    if (bc->rows == 1) { /* one long row: a piece of it */
        size_t begin = task * CHUNK, n = bc->inner - begin < CHUNK ? bc->inner - begin : CHUNK;
        st->row(job->a + begin * sa, sa, job->b + begin * sb, sb, job->out + begin, n, &st->clamp);
        return;
    }
    size_t row = task * st->rows_per_task;
    size_t end = row + st->rows_per_task < bc->rows ? row + st->rows_per_task : bc->rows;
    if (bc->rank == 2) { /* one outer dim (a per-channel vector against each pixel): offsets are linear */
        const size_t ra = bc->strides[0][0], rb = bc->strides[1][0];
        for (; row < end; row++)
            st->row(job->a + row * ra, sa, job->b + row * rb, sb, job->out + row * bc->inner, bc->inner, &st->clamp);
        return;
    }
    /* The operands' offsets at this row: its index over the outer dims. */
    p2l_bcast_iter it = {0};
    size_t rest = row;
    for (int d = bc->rank - 2; d >= 0; d--) {
        it.index[d] = (int32_t)(rest % (size_t)bc->dims[d]);
        rest /= (size_t)bc->dims[d];
        it.offset[0] += (size_t)it.index[d] * bc->strides[0][d];
        it.offset[1] += (size_t)it.index[d] * bc->strides[1][d];
    }
    for (; row < end; row++) {
        st->row(job->a + it.offset[0], sa, job->b + it.offset[1], sb, job->out + row * bc->inner, bc->inner, &st->clamp);
        if (row + 1 < bc->rows) p2l_bcast_next_row(bc, &it);
    }
}

static p2l_status binary_invoke(p2l_node *node) {
    binary_state *st = node->state;
    if (!st->row) return p2l_invoke_reference(node, &p2l_kernel_binary, st->reference_state);
    binary_job job = {st, node->inputs[0]->data, node->inputs[1]->data, node->outputs[0]->data};
    if (node->outputs[0]->count == 0) return P2L_OK;
    p2l_parallel_for(p2l_node_pool(node, (double)node->outputs[0]->count), st->tasks, binary_task, &job);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_binary_x86 = {
    .prepare = binary_prepare, .invoke = binary_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 1, .max_outputs = 1,
};
