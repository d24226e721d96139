/* One op evaluated by its reference kernel outside an interpreter: the node and its tensors are
 * built as the interpreter builds them (runtime/interpreter.c: init_nodes, and the planner's
 * scratch), then prepare and invoke run once on the calling thread. The converter's constant
 * folding computes with it exactly what the runtime computes, and C tests run single kernels with it.
 * The caller's float mode applies (the interpreter flushes denormals; this function leaves that to
 * the caller). */
#include <string.h>

#include "kernels/kernels.h"

enum { SCRATCH_ALIGNMENT = 64 }; /* as the interpreter's scratch block */

static void set_tensor(p2l_tensor *t, int index, p2l_dtype dtype, int rank, const int32_t *dims) {
    t->index = index;
    t->dtype = dtype;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->count = p2l_dims_count(rank, dims);
    t->bytes = t->count * p2l_dtype_size(dtype);
}

p2l_status p2l_check_arity(const p2l_kernel *k, int input_count, int output_count,
                           bool (*omitted)(const void *inputs, int i), const void *inputs) {
    if (input_count < k->min_inputs || input_count > k->max_inputs)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "has %d inputs, expected %d to %d", input_count, k->min_inputs,
                        k->max_inputs);
    if (output_count < k->min_outputs || output_count > k->max_outputs)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "has %d outputs, expected %d to %d", output_count,
                        k->min_outputs, k->max_outputs);
    for (int i = 0; i < input_count; i++)
        if (omitted(inputs, i) && (i >= 16 || !(k->optional_inputs >> i & 1)))
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "input %d is omitted, but it is not optional", i);
    return P2L_OK;
}

static bool omitted_eval_input(const void *inputs, int i) { return !((const p2l_eval_tensor *const *)inputs)[i]; }

static p2l_status check_shapes(const char *role, int count, const p2l_eval_tensor *const *values) {
    for (int i = 0; i < count; i++) {
        const p2l_eval_tensor *v = values[i];
        if (!v) continue;
        if (v->rank < 0 || v->rank > P2L_MAX_DIMS)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s %d has rank %d (0 to %d)", role, i, v->rank, P2L_MAX_DIMS);
        size_t n = p2l_dtype_size(v->dtype);
        for (int d = 0; d < v->rank; d++)
            if (v->dims[d] < 0 || !p2l_mul_size(n, (size_t)v->dims[d], &n))
                return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "%s %d: dim %d is %d", role, i, d, v->dims[d]);
    }
    return P2L_OK;
}

/* Prepares and invokes node (its tensors set up) with kernel k; fills outputs. */
static p2l_status run(const p2l_kernel *k, p2l_node *node, p2l_eval_tensor *outputs, void **scratch_block) {
    p2l_parse_options(node);
    P2L_TRY(k->prepare(node));
    if (node->scratch_bytes) {
        size_t bytes;
        if (!p2l_add_size(node->scratch_bytes, SCRATCH_ALIGNMENT, &bytes) || !(*scratch_block = p2l_alloc(bytes)))
            return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory allocating %zu bytes of scratch memory",
                            node->scratch_bytes);
        node->exec->scratch = p2l_align_pointer(*scratch_block, SCRATCH_ALIGNMENT);
        node->exec->scratch_stride = node->scratch_bytes;
    }
    for (int i = 0; i < node->output_count; i++) {
        p2l_tensor *t = node->outputs[i];
        p2l_eval_tensor *o = &outputs[i];
        if (o->data && o->capacity < t->bytes)
            return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "output %d needs %zu bytes, the caller gave %zu", i, t->bytes,
                            o->capacity);
        if (!o->data) {
            if (!(o->data = p2l_alloc(t->bytes ? t->bytes : 1)))
                return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory allocating %zu bytes for output %d", t->bytes, i);
            o->allocated = true;
        }
        t->data = o->data;
    }
    P2L_TRY(k->invoke(node));
    for (int i = 0; i < node->output_count; i++) {
        const p2l_tensor *t = node->outputs[i];
        outputs[i].rank = t->rank;
        memcpy(outputs[i].dims, t->dims, sizeof t->dims);
        outputs[i].bytes = t->bytes;
    }
    return P2L_OK;
}

p2l_status p2l_evaluate(const p2l_eval_op *op, int input_count, const p2l_eval_tensor *const *inputs,
                        int output_count, p2l_eval_tensor *outputs) {
    const p2l_op_info *info = p2l_op_info_of(op->op);
    const p2l_kernel *k = p2l_reference_kernel_of(op->op);
    if (!info || !k) return p2l_fail(P2L_ERROR_UNSUPPORTED, "op %d has no reference kernel", (int)op->op);
    for (int i = 0; i < output_count; i++) outputs[i].allocated = false;
    if (p2l_check_arity(k, input_count, output_count, omitted_eval_input, inputs) != P2L_OK)
        return p2l_fail_context(P2L_ERROR_INVALID_ARGUMENT, "%s", info->name);
    P2L_TRY(check_shapes("input", input_count, inputs));
    for (int i = 0; i < output_count; i++) {
        const p2l_eval_tensor *o = &outputs[i];
        P2L_TRY(check_shapes("output", 1, &o));
    }

    /* Options with the defaults filled in, as the model reader leaves them. */
    int64_t defaults[P2L_MAX_OPTION_FIELDS] = {0};
    if (!op->options) {
        const p2l_options_info *fields = p2l_options_info_of(info->options);
        for (int i = 0; i < fields->field_count; i++) defaults[i] = fields->fields[i].default_value;
    }

    p2l_arena arena = {0};
    p2l_exec exec = {0}; /* no thread pool: the calling thread runs everything */
    void *scratch_block = NULL;
    p2l_tensor *tensors = p2l_arena_alloc(&arena, (size_t)(input_count + output_count) * sizeof *tensors + 1);
    p2l_tensor **io = p2l_arena_alloc(&arena, (size_t)(input_count + output_count) * sizeof *io + 1);
    p2l_status s = tensors && io ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory");
    if (!s) {
        for (int i = 0; i < input_count; i++) {
            const p2l_eval_tensor *v = inputs[i];
            io[i] = v ? &tensors[i] : NULL;
            if (!v) continue;
            set_tensor(&tensors[i], i, v->dtype, v->rank, v->dims);
            tensors[i].data = (void *)v->data; /* read-only: kernels never write inputs */
            tensors[i].is_constant = tensors[i].known = true;
        }
        for (int i = 0; i < output_count; i++) {
            const p2l_eval_tensor *v = &outputs[i];
            io[input_count + i] = &tensors[input_count + i];
            set_tensor(&tensors[input_count + i], input_count + i, v->dtype, v->rank, v->dims);
        }
        p2l_node node = {
            .op = op->op,
            .version = 1,
            .input_count = input_count,
            .output_count = output_count,
            .inputs = io,
            .outputs = io + input_count,
            .options = op->options ? op->options : defaults,
            .has_option_ints = op->has_option_ints,
            .option_int_count = op->option_int_count,
            .option_ints = op->option_ints,
            .arena = &arena,
            .exec = &exec,
        };
        s = run(k, &node, outputs, &scratch_block);
    }
    p2l_release(scratch_block);
    p2l_arena_free(&arena);
    if (!s) return P2L_OK;
    for (int i = 0; i < output_count; i++)
        if (outputs[i].allocated) {
            p2l_release(outputs[i].data);
            outputs[i].data = NULL;
            outputs[i].allocated = false;
        }
    return p2l_fail_context(s, "evaluating %s", info->name);
}
