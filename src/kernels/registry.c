/* The kernel registry: one row per op, indexed by p2l_op, with the highest op version the kernel
 * accepts (LiteRT's own limits for these builtins; versions above 1 mostly add quantized types, which
 * the kernels reject by dtype at prepare time with a clear message). */
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "kernels/kernels.h"

typedef struct registry_entry {
    const p2l_kernel *kernel;
    uint8_t max_version;
} registry_entry;

static const registry_entry registry[P2L_OP_COUNT] = {
    [P2L_OP_CONV_2D] = {&p2l_kernel_conv_2d, 8},
    [P2L_OP_DEPTHWISE_CONV_2D] = {&p2l_kernel_depthwise_conv_2d, 7},
    [P2L_OP_TRANSPOSE_CONV] = {&p2l_kernel_transpose_conv, 5},
    [P2L_OP_FULLY_CONNECTED] = {&p2l_kernel_fully_connected, 13},
    [P2L_OP_BATCH_MATMUL] = {&p2l_kernel_batch_matmul, 4},
    [P2L_OP_AVERAGE_POOL_2D] = {&p2l_kernel_pool, 3},
    [P2L_OP_MAX_POOL_2D] = {&p2l_kernel_pool, 3},
    [P2L_OP_MEAN] = {&p2l_kernel_reduce, 3},
    [P2L_OP_SUM] = {&p2l_kernel_reduce, 2},
    [P2L_OP_REDUCE_PROD] = {&p2l_kernel_reduce, 2},
    [P2L_OP_REDUCE_MAX] = {&p2l_kernel_reduce, 3},
    [P2L_OP_REDUCE_MIN] = {&p2l_kernel_reduce, 3},
    [P2L_OP_REDUCE_ANY] = {&p2l_kernel_reduce, 1},
    [P2L_OP_REDUCE_ALL] = {&p2l_kernel_reduce, 1},
    [P2L_OP_ARG_MAX] = {&p2l_kernel_arg_min_max, 3},
    [P2L_OP_ARG_MIN] = {&p2l_kernel_arg_min_max, 3},
    [P2L_OP_CUMSUM] = {&p2l_kernel_cumsum, 1},
    [P2L_OP_ADD] = {&p2l_kernel_binary, 5},
    [P2L_OP_SUB] = {&p2l_kernel_binary, 5},
    [P2L_OP_MUL] = {&p2l_kernel_binary, 7},
    [P2L_OP_DIV] = {&p2l_kernel_binary, 2},
    [P2L_OP_MAXIMUM] = {&p2l_kernel_binary, 4},
    [P2L_OP_MINIMUM] = {&p2l_kernel_binary, 4},
    [P2L_OP_POW] = {&p2l_kernel_binary, 1},
    [P2L_OP_SQUARED_DIFFERENCE] = {&p2l_kernel_binary, 2},
    [P2L_OP_FLOOR_DIV] = {&p2l_kernel_binary, 3},
    [P2L_OP_FLOOR_MOD] = {&p2l_kernel_binary, 2},
    [P2L_OP_LESS] = {&p2l_kernel_binary, 3},
    [P2L_OP_LESS_EQUAL] = {&p2l_kernel_binary, 2},
    [P2L_OP_GREATER] = {&p2l_kernel_binary, 2},
    [P2L_OP_GREATER_EQUAL] = {&p2l_kernel_binary, 3},
    [P2L_OP_EQUAL] = {&p2l_kernel_binary, 4},
    [P2L_OP_NOT_EQUAL] = {&p2l_kernel_binary, 3},
    [P2L_OP_LOGICAL_AND] = {&p2l_kernel_binary, 1},
    [P2L_OP_LOGICAL_OR] = {&p2l_kernel_binary, 1},
    [P2L_OP_ATAN2] = {&p2l_kernel_binary_math, 1},
    [P2L_OP_BITWISE_XOR] = {&p2l_kernel_binary_math, 1},
    [P2L_OP_PRELU] = {&p2l_kernel_binary, 1},
    [P2L_OP_RELU] = {&p2l_kernel_unary, 3},
    [P2L_OP_RELU6] = {&p2l_kernel_unary, 3},
    [P2L_OP_RELU_N1_TO_1] = {&p2l_kernel_unary, 1},
    [P2L_OP_LOGISTIC] = {&p2l_kernel_unary, 3},
    [P2L_OP_TANH] = {&p2l_kernel_unary, 3},
    [P2L_OP_HARD_SWISH] = {&p2l_kernel_unary, 1},
    [P2L_OP_GELU] = {&p2l_kernel_unary, 2},
    [P2L_OP_EXP] = {&p2l_kernel_unary, 2},
    [P2L_OP_LOG] = {&p2l_kernel_unary, 2},
    [P2L_OP_SQRT] = {&p2l_kernel_unary, 1},
    [P2L_OP_RSQRT] = {&p2l_kernel_unary, 3},
    [P2L_OP_ABS] = {&p2l_kernel_unary, 5},
    [P2L_OP_NEG] = {&p2l_kernel_unary, 1},
    [P2L_OP_SIN] = {&p2l_kernel_unary, 1},
    [P2L_OP_COS] = {&p2l_kernel_unary, 1},
    [P2L_OP_FLOOR] = {&p2l_kernel_unary, 1},
    [P2L_OP_CEIL] = {&p2l_kernel_unary, 1},
    [P2L_OP_ROUND] = {&p2l_kernel_unary, 1},
    [P2L_OP_SQUARE] = {&p2l_kernel_unary, 1},
    [P2L_OP_SIGN] = {&p2l_kernel_unary, 2},
    [P2L_OP_LEAKY_RELU] = {&p2l_kernel_unary, 2},
    [P2L_OP_ELU] = {&p2l_kernel_unary, 1},
    [P2L_OP_LOGICAL_NOT] = {&p2l_kernel_unary, 1},
    [P2L_OP_CAST] = {&p2l_kernel_cast, 6},
    [P2L_OP_SOFTMAX] = {&p2l_kernel_softmax, 3},
    [P2L_OP_LOG_SOFTMAX] = {&p2l_kernel_softmax, 2},
    [P2L_OP_L2_NORMALIZATION] = {&p2l_kernel_l2_normalization, 2},
    [P2L_OP_RESHAPE] = {&p2l_kernel_reshape, 1},
    [P2L_OP_SQUEEZE] = {&p2l_kernel_squeeze, 2},
    [P2L_OP_EXPAND_DIMS] = {&p2l_kernel_expand_dims, 1},
    [P2L_OP_SHAPE] = {&p2l_kernel_shape, 1},
    [P2L_OP_TRANSPOSE] = {&p2l_kernel_transpose, 6},
    [P2L_OP_CONCATENATION] = {&p2l_kernel_concatenation, 4},
    [P2L_OP_PACK] = {&p2l_kernel_pack, 4},
    [P2L_OP_UNPACK] = {&p2l_kernel_unpack, 4},
    [P2L_OP_SPLIT] = {&p2l_kernel_split, 4},
    [P2L_OP_SPLIT_V] = {&p2l_kernel_split_v, 2},
    [P2L_OP_PAD] = {&p2l_kernel_pad, 4},
    [P2L_OP_PADV2] = {&p2l_kernel_pad, 4},
    [P2L_OP_MIRROR_PAD] = {&p2l_kernel_mirror_pad, 3},
    [P2L_OP_STRIDED_SLICE] = {&p2l_kernel_strided_slice, 8},
    [P2L_OP_SLICE] = {&p2l_kernel_slice, 6},
    [P2L_OP_GATHER] = {&p2l_kernel_gather, 7},
    [P2L_OP_GATHER_ND] = {&p2l_kernel_gather_nd, 5},
    [P2L_OP_RESIZE_BILINEAR] = {&p2l_kernel_resize, 4},
    [P2L_OP_RESIZE_NEAREST_NEIGHBOR] = {&p2l_kernel_resize, 4},
    [P2L_OP_SELECT_V2] = {&p2l_kernel_select_v2, 2},
    [P2L_OP_TILE] = {&p2l_kernel_tile, 3},
    [P2L_OP_BROADCAST_TO] = {&p2l_kernel_broadcast_to, 3},
    [P2L_OP_FILL] = {&p2l_kernel_fill, 4},
    [P2L_OP_ZEROS_LIKE] = {&p2l_kernel_zeros_like, 1},
    [P2L_OP_RANGE] = {&p2l_kernel_range, 2},
    [P2L_OP_REVERSE_V2] = {&p2l_kernel_reverse, 3},
    [P2L_OP_ADD_N] = {&p2l_kernel_add_n, 1},
    [P2L_OP_DEPTH_TO_SPACE] = {&p2l_kernel_depth_to_space, 2},
    [P2L_OP_SPACE_TO_DEPTH] = {&p2l_kernel_space_to_depth, 2},
    [P2L_OP_TOPK_V2] = {&p2l_kernel_topk_v2, 3},
    [P2L_OP_SCATTER_ND] = {&p2l_kernel_scatter_nd, 4},
    [P2L_OP_RANDOM_UNIFORM] = {&p2l_kernel_random, 1},
    [P2L_OP_RANDOM_STANDARD_NORMAL] = {&p2l_kernel_random, 1},
};

/* Fast kernels by op: the shared drivers of src/kernels/fast over the micro-kernels of the ISA that
 * detect_isa() picks once, at run time, so one binary runs everywhere. Each falls back to the
 * reference kernel for nodes it does not cover. */
#include <pthread.h>

#include "kernels/fast/fast.h"
#if defined(P2L_HAVE_X86_KERNELS)
#include "kernels/x86/x86.h"
#elif defined(P2L_HAVE_ARM_KERNELS)
#include "kernels/arm/arm.h"
#endif

#if defined(P2L_HAVE_X86_KERNELS) || defined(P2L_HAVE_ARM_KERNELS)
static const p2l_fast_driver *const fast_drivers[P2L_OP_COUNT] = {
    [P2L_OP_CONV_2D] = &p2l_fast_conv_2d,
    [P2L_OP_DEPTHWISE_CONV_2D] = &p2l_fast_depthwise_conv_2d,
    [P2L_OP_FULLY_CONNECTED] = &p2l_fast_fully_connected,
    [P2L_OP_BATCH_MATMUL] = &p2l_fast_batch_matmul,
    [P2L_OP_ADD] = &p2l_fast_binary,
    [P2L_OP_SUB] = &p2l_fast_binary,
    [P2L_OP_MUL] = &p2l_fast_binary,
    [P2L_OP_DIV] = &p2l_fast_binary,
    [P2L_OP_MAXIMUM] = &p2l_fast_binary,
    [P2L_OP_MINIMUM] = &p2l_fast_binary,
    [P2L_OP_RELU] = &p2l_fast_unary,
    [P2L_OP_RELU6] = &p2l_fast_unary,
    [P2L_OP_RELU_N1_TO_1] = &p2l_fast_unary,
    [P2L_OP_LOGISTIC] = &p2l_fast_unary,
    [P2L_OP_TANH] = &p2l_fast_unary,
    [P2L_OP_GELU] = &p2l_fast_unary,
    [P2L_OP_HARD_SWISH] = &p2l_fast_unary,
    [P2L_OP_MEAN] = &p2l_fast_reduce,
    [P2L_OP_AVERAGE_POOL_2D] = &p2l_fast_pool,
    [P2L_OP_MAX_POOL_2D] = &p2l_fast_pool,
    [P2L_OP_SOFTMAX] = &p2l_fast_softmax,
    [P2L_OP_PAD] = &p2l_fast_pad,
    [P2L_OP_PADV2] = &p2l_fast_pad,
    [P2L_OP_TRANSPOSE] = &p2l_fast_transpose,
};
#else
static const p2l_fast_driver *const fast_drivers[P2L_OP_COUNT]; /* this build has none */
#endif

/* The fast kernel of each op that has a driver: the reference kernel's arity and flags (the same op,
 * so the same inputs and outputs) with the driver's prepare and invoke. Made once, on first use. */
static p2l_kernel fast_kernels[P2L_OP_COUNT];
static pthread_once_t fast_kernels_once = PTHREAD_ONCE_INIT;

static void make_fast_kernels(void) {
    for (int op = 0; op < P2L_OP_COUNT; op++)
        if (fast_drivers[op] && registry[op].kernel) {
            fast_kernels[op] = *registry[op].kernel;
            fast_kernels[op].prepare = fast_drivers[op]->prepare;
            fast_kernels[op].invoke = fast_drivers[op]->invoke;
        }
}

/* The fast kernel of op, or NULL (op in range). */
static const p2l_kernel *fast_kernel(p2l_op op) {
    if (!fast_drivers[op]) return NULL;
    pthread_once(&fast_kernels_once, make_fast_kernels);
    return &fast_kernels[op];
}

/* The micro-kernels for this CPU, or NULL (then the reference kernels run). Detection stays in this
 * file, which is compiled for the baseline ISA: the x86 folder is compiled with AVX2, which the
 * detecting code itself must not use. */
static const p2l_fast_isa *detect_isa(void) {
    if (p2l_env_flag("P2L_REFERENCE_KERNELS")) return NULL;
#if defined(P2L_HAVE_X86_KERNELS)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
    return __builtin_cpu_supports("avx512f") && !p2l_env_flag("P2L_NO_AVX512") ? &p2l_isa_avx512 : &p2l_isa_avx2;
#elif defined(P2L_HAVE_ARM_KERNELS)
    return &p2l_isa_neon; /* ASIMD is architectural on aarch64: nothing to detect for float32 */
#else
    return NULL;
#endif
}

/* A table chosen instead of the CPU's, on this thread: a test's (p2l_fast_isa_select) or, while it
 * prepares, an interpreter's pinned selection (p2l_kernel_selection_begin, which restores the
 * previous override at its end). Kernels read the table at prepare, so only the preparing thread
 * needs to see it. */
typedef struct isa_override {
    const p2l_fast_isa *isa;
    bool set;
} isa_override;
static _Thread_local isa_override override, override_before_selection;

const p2l_fast_isa *p2l_fast_isa_active(void) {
    if (override.set) return override.isa;
    static const p2l_fast_isa *isa;
    static bool known; /* benign race: every thread computes the same answer */
    if (!__atomic_load_n(&known, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&isa, detect_isa(), __ATOMIC_RELAXED);
        __atomic_store_n(&known, true, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&isa, __ATOMIC_RELAXED);
}

int p2l_fast_isa_supported(const p2l_fast_isa **tables, int max) {
    int count = 0;
#if defined(P2L_HAVE_X86_KERNELS)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (count < max) tables[count] = &p2l_isa_avx2;
        count++;
        if (__builtin_cpu_supports("avx512f")) {
            if (count < max) tables[count] = &p2l_isa_avx512;
            count++;
        }
    }
#elif defined(P2L_HAVE_ARM_KERNELS)
    if (count < max) tables[count] = &p2l_isa_neon;
    count++;
#endif
    (void)tables, (void)max;
    return count;
}

void p2l_fast_isa_select(const p2l_fast_isa *isa, bool selected) { override = (isa_override){isa, selected}; }

bool p2l_fast_kernels_enabled(void) { return p2l_fast_isa_active() != NULL; }

const p2l_kernel *p2l_reference_kernel_of(p2l_op op) {
    if ((unsigned)op >= P2L_OP_COUNT) return NULL;
    return registry[op].kernel;
}

static const char *const kernels_names[] = {"auto", "reference", "avx2", "avx512", "neon"};

p2l_status p2l_kernel_select(int kernels, p2l_kernel_selection *selection) {
    *selection = (p2l_kernel_selection){NULL, false, false};
    if (kernels < 0 || kernels >= (int)(sizeof kernels_names / sizeof *kernels_names))
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "kernels is %d; expected a P2L_KERNELS_* value (0 to %d)", kernels,
                        (int)(sizeof kernels_names / sizeof *kernels_names) - 1);
    if (kernels == P2L_KERNELS_AUTO) return P2L_OK; /* the process-wide choice (detect_isa) */
    /* P2L_REFERENCE_KERNELS overrides every request, P2L_NO_AVX512 an AVX-512 one (for tools). */
    if (kernels == P2L_KERNELS_REFERENCE || p2l_env_flag("P2L_REFERENCE_KERNELS")) {
        selection->reference = selection->pinned = true;
        return P2L_OK;
    }
    const char *name = kernels_names[kernels];
    if (kernels == P2L_KERNELS_AVX512 && p2l_env_flag("P2L_NO_AVX512")) name = "avx2";
    const p2l_fast_isa *tables[8];
    int count = p2l_fast_isa_supported(tables, 8);
    for (int i = 0; i < count && i < 8; i++)
        if (strcmp(tables[i]->name, name) == 0) {
            selection->isa = tables[i];
            selection->pinned = true;
            return P2L_OK;
        }
    return p2l_fail(P2L_ERROR_UNSUPPORTED, "kernels %s: this build or CPU has no %s kernels", kernels_names[kernels],
                    name);
}

const p2l_kernel *p2l_kernel_selected(const p2l_kernel_selection *selection, p2l_op op) {
    if (!selection->pinned) return p2l_kernel_of(op, NULL);
    if ((unsigned)op >= P2L_OP_COUNT) return NULL;
    const p2l_kernel *fast = selection->reference ? NULL : fast_kernel(op);
    return fast ? fast : registry[op].kernel;
}

void p2l_kernel_selection_begin(const p2l_kernel_selection *selection) {
    override_before_selection = override;
    if (selection->pinned) override = (isa_override){selection->reference ? NULL : selection->isa, true};
}

void p2l_kernel_selection_end(void) { override = override_before_selection; }

const p2l_kernel *p2l_kernel_of(p2l_op op, int *max_version) {
    if ((unsigned)op >= P2L_OP_COUNT || !registry[op].kernel) return NULL;
    if (max_version) *max_version = registry[op].max_version;
    const p2l_kernel *fast = p2l_fast_isa_active() ? fast_kernel(op) : NULL;
    return fast ? fast : registry[op].kernel;
}
