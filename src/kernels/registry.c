/* The kernel registry: one row per op, indexed by p2l_op, with the highest op version the kernel
 * accepts (LiteRT's own limits for these builtins; versions above 1 mostly add quantized types, which
 * the kernels reject by dtype at prepare time with a clear message). */
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "kernels/kernels.h"

/* X(op, kernel, highest version): the kernel struct p2l_kernel_<kernel> is defined in the family's
 * file (conv.c, binary.c, ...); a new op is one row here. */
#define P2L_REGISTRY(X) \
    X(CONV_2D, conv_2d, 8) \
    X(DEPTHWISE_CONV_2D, depthwise_conv_2d, 7) \
    X(TRANSPOSE_CONV, transpose_conv, 5) \
    X(FULLY_CONNECTED, fully_connected, 13) \
    X(BATCH_MATMUL, batch_matmul, 4) \
    X(AVERAGE_POOL_2D, pool, 3) \
    X(MAX_POOL_2D, pool, 3) \
    X(MEAN, reduce, 3) \
    X(SUM, reduce, 2) \
    X(REDUCE_PROD, reduce, 2) \
    X(REDUCE_MAX, reduce, 3) \
    X(REDUCE_MIN, reduce, 3) \
    X(REDUCE_ANY, reduce, 1) \
    X(REDUCE_ALL, reduce, 1) \
    X(ARG_MAX, arg_min_max, 3) \
    X(ARG_MIN, arg_min_max, 3) \
    X(CUMSUM, cumsum, 1) \
    X(ADD, binary, 5) \
    X(SUB, binary, 5) \
    X(MUL, binary, 7) \
    X(DIV, binary, 2) \
    X(MAXIMUM, binary, 4) \
    X(MINIMUM, binary, 4) \
    X(POW, binary, 1) \
    X(SQUARED_DIFFERENCE, binary, 2) \
    X(FLOOR_DIV, binary, 3) \
    X(FLOOR_MOD, binary, 2) \
    X(LESS, binary, 3) \
    X(LESS_EQUAL, binary, 2) \
    X(GREATER, binary, 2) \
    X(GREATER_EQUAL, binary, 3) \
    X(EQUAL, binary, 4) \
    X(NOT_EQUAL, binary, 3) \
    X(LOGICAL_AND, binary, 1) \
    X(LOGICAL_OR, binary, 1) \
    X(ATAN2, binary, 1) \
    X(BITWISE_XOR, binary, 1) \
    X(PRELU, binary, 1) \
    X(RELU, unary, 3) \
    X(RELU6, unary, 3) \
    X(RELU_N1_TO_1, unary, 1) \
    X(LOGISTIC, unary, 3) \
    X(TANH, unary, 3) \
    X(HARD_SWISH, unary, 1) \
    X(GELU, unary, 2) \
    X(EXP, unary, 2) \
    X(LOG, unary, 2) \
    X(SQRT, unary, 1) \
    X(RSQRT, unary, 3) \
    X(ABS, unary, 5) \
    X(NEG, unary, 1) \
    X(SIN, unary, 1) \
    X(COS, unary, 1) \
    X(FLOOR, unary, 1) \
    X(CEIL, unary, 1) \
    X(ROUND, unary, 1) \
    X(SQUARE, unary, 1) \
    X(SIGN, unary, 2) \
    X(LEAKY_RELU, unary, 2) \
    X(ELU, unary, 1) \
    X(LOGICAL_NOT, unary, 1) \
    X(CAST, cast, 6) \
    X(SOFTMAX, softmax, 3) \
    X(LOG_SOFTMAX, softmax, 2) \
    X(L2_NORMALIZATION, l2_normalization, 2) \
    X(RESHAPE, reshape, 1) \
    X(SQUEEZE, squeeze, 2) \
    X(EXPAND_DIMS, expand_dims, 1) \
    X(SHAPE, shape, 1) \
    X(TRANSPOSE, transpose, 6) \
    X(CONCATENATION, concatenation, 4) \
    X(PACK, pack, 4) \
    X(UNPACK, unpack, 4) \
    X(SPLIT, split, 4) \
    X(SPLIT_V, split_v, 2) \
    X(PAD, pad, 4) \
    X(PADV2, pad, 4) \
    X(MIRROR_PAD, mirror_pad, 3) \
    X(STRIDED_SLICE, strided_slice, 8) \
    X(SLICE, slice, 6) \
    X(GATHER, gather, 7) \
    X(GATHER_ND, gather_nd, 5) \
    X(EMBEDDING_LOOKUP, embedding_lookup, 4) \
    X(RESIZE_BILINEAR, resize, 4) \
    X(RESIZE_NEAREST_NEIGHBOR, resize, 4) \
    X(SELECT_V2, select_v2, 2) \
    X(TILE, tile, 3) \
    X(BROADCAST_TO, broadcast_to, 3) \
    X(FILL, fill, 4) \
    X(ZEROS_LIKE, zeros_like, 1) \
    X(RANGE, range, 2) \
    X(REVERSE_V2, reverse, 3) \
    X(ADD_N, add_n, 1) \
    X(DEPTH_TO_SPACE, depth_to_space, 2) \
    X(SPACE_TO_DEPTH, space_to_depth, 2) \
    X(TOPK_V2, topk_v2, 3) \
    X(SCATTER_ND, scatter_nd, 4) \
    X(DYNAMIC_UPDATE_SLICE, dynamic_update_slice, 1) \
    X(RANDOM_UNIFORM, random, 1) \
    X(RANDOM_STANDARD_NORMAL, random, 1) \
    X(VAR_HANDLE, var_handle, 1) \
    X(READ_VARIABLE, read_variable, 1) \
    X(ASSIGN_VARIABLE, assign_variable, 1) \
    X(CALL_ONCE, call_once, 1) \
    X(QUANTIZE, quantize, 3) \
    X(DEQUANTIZE, dequantize, 6)

#define DECLARE_KERNEL(op, kernel, version) extern const p2l_kernel p2l_kernel_##kernel;
P2L_REGISTRY(DECLARE_KERNEL)
#undef DECLARE_KERNEL

typedef struct registry_entry {
    const p2l_kernel *kernel;
    uint8_t max_version;
} registry_entry;

static const registry_entry registry[P2L_OP_COUNT] = {
#define ENTRY(op, kernel, version) [P2L_OP_##op] = {&p2l_kernel_##kernel, version},
    P2L_REGISTRY(ENTRY)
#undef ENTRY
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
    /* ASIMD is architectural on aarch64; the dot product (int8 GEMM) is asked of the OS. */
    return p2l_arm_has_dotprod() && !p2l_env_flag("P2L_NO_DOTPROD") ? &p2l_isa_neon_dot : &p2l_isa_neon;
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
    if (p2l_arm_has_dotprod()) {
        if (count < max) tables[count] = &p2l_isa_neon_dot;
        count++;
    }
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
