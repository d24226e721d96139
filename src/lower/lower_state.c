/* Module state: buffers forward() mutates (torch.export's BUFFER_MUTATION outputs) become TFLite
 * resource variables, named by the buffer's fully qualified name so every signature of a file shares
 * one variable per buffer.
 *
 * In a signature's subgraph: CALL_ONCE of the initializer subgraph first, then per buffer VAR_HANDLE and
 * one READ_VARIABLE, which every reader of the buffer uses (the value from the previous invocation), and
 * after everything else ASSIGN_VARIABLE of the new value (torch.export's semantics: the mutation applies
 * after the outputs are computed). The initializer subgraph (no signature, run once per interpreter by
 * CALL_ONCE, TensorFlow's convention for variable initialization) assigns each buffer its value at
 * conversion. */
#include <stdint.h>
#include <string.h>

#include "lower/lower.h"

/* The VAR_HANDLE node of the variable named `name` in g, or -1. */
static int find_handle(const p2l_ir_graph *g, const char *name) {
    for (size_t n = 0; n < g->nodes.len; n++) {
        const p2l_ir_node *node = &g->nodes.items[n];
        if (node->dead || node->op != P2L_OP_VAR_HANDLE) continue;
        const char *shared = (const char *)(intptr_t)p2l_get_option(g, (int)n, "shared_name");
        if (shared && strcmp(shared, name) == 0) return (int)n;
    }
    return -1;
}

/* A VAR_HANDLE node for buffer `fqn`; returns its resource tensor or -1. */
static int emit_handle(p2l_lower_ctx *ctx, const char *fqn) {
    const char *name = p2l_arena_strdup(ctx->g->arena, fqn); /* outlives the archive until the file is written */
    int handle = name ? p2l_add_tensor(ctx->g, name, P2L_RESOURCE, 0, NULL) : -1;
    int node = handle < 0 ? -1 : p2l_emit(ctx, P2L_OP_VAR_HANDLE, 0, NULL, 1, &handle);
    if (node < 0) return -1;
    p2l_set_option(ctx->g, node, "shared_name", (int64_t)(intptr_t)name);
    return handle;
}

/* The status behind a helper's -1 (the helpers record it). */
static p2l_status failed(void) {
    p2l_status s = p2l_last_status();
    return s != P2L_OK ? s : p2l_fail(P2L_ERROR_INTERNAL, "lowering module state failed without saying why");
}

static const char *buffer_origin(p2l_lower_ctx *ctx, const p2l_value *v) {
    return p2l_arena_printf(ctx->g->arena, "buffer '%s' (%s, mutated in forward)", v->fqn, v->name);
}

p2l_status p2l_lower_state_reads(p2l_lower_ctx *ctx) {
    const p2l_exported *ep = ctx->ep;
    if (ep->buffer_mutations.len == 0) return P2L_OK;
    ctx->node = NULL;
    ctx->origin = "module state";
    /* init_subgraph_index is set once the initializer exists (p2l_add_state_initializer) */
    int call = p2l_emit(ctx, P2L_OP_CALL_ONCE, 0, NULL, 0, NULL);
    if (call < 0) return failed();
    p2l_set_option(ctx->g, call, "init_subgraph_index", -1);
    for (size_t i = 0; i < ep->buffer_mutations.len; i++) {
        const int id = ep->buffer_mutations.items[i].buffer;
        const p2l_value *v = &ep->values.items[id];
        ctx->origin = buffer_origin(ctx, v);
        if (v->dtype == (p2l_dtype)-1) { /* float buffers of any width are float32 here (lower_dtypes.c) */
            p2l_unsupported(ctx, "its dtype (torch ScalarType %d) cannot be a variable yet; pt2lite keeps "
                            "float, integer and bool buffers", v->torch_dtype);
            continue;
        }
        p2l_clear_error();
        int handle = emit_handle(ctx, v->fqn);
        int value = handle < 0 ? -1 : p2l_add_tensor(ctx->g, v->name, p2l_ir_dtype(v->dtype), v->rank, v->dims);
        if (p2l_emit1(ctx, P2L_OP_READ_VARIABLE, handle, value) < 0) return failed();
        P2L_TRY(p2l_bind_value(ctx, id, value));
    }
    return P2L_OK;
}

p2l_status p2l_lower_state_writes(p2l_lower_ctx *ctx) {
    const p2l_exported *ep = ctx->ep;
    ctx->node = NULL;
    for (size_t i = 0; i < ep->buffer_mutations.len; i++) {
        const p2l_buffer_mutation *m = &ep->buffer_mutations.items[i];
        const p2l_value *v = &ep->values.items[m->buffer], *next = &ep->values.items[m->new_value];
        ctx->origin = buffer_origin(ctx, v);
        ctx->naming = v->name;
        const int node = find_handle(ctx->g, v->fqn);
        if (node < 0) continue; /* refused by p2l_lower_state_reads, already reported */
        const int before = ctx->error_count;
        p2l_clear_error();
        int value = p2l_value_input(ctx, m->new_value, NULL);
        if (value < 0) {
            if (ctx->error_count == before && ctx->values[m->new_value] && p2l_last_status() != P2L_OK)
                return p2l_last_status();
            continue; /* its producer failed: reported with the others */
        }
        if (next->rank != v->rank || memcmp(next->dims, v->dims, sizeof(int64_t) * (size_t)v->rank) != 0 ||
            !p2l_dims_static(next->dims, next->rank)) {
            p2l_unsupported(ctx, "the new value %s has another or a dynamic shape (rank %d): a variable keeps its "
                            "shape", next->name, next->rank);
            continue;
        }
        value = p2l_cast(ctx, value, p2l_ir_dtype(v->dtype));
        int inputs[2] = {ctx->g->nodes.items[node].outputs[0], value};
        if (value < 0 || p2l_emit(ctx, P2L_OP_ASSIGN_VARIABLE, 2, inputs, 0, NULL) < 0) return failed();
    }
    return P2L_OK;
}

/* The initializer subgraph of `model` (created on first use, after the signatures' subgraphs) and
 * its index. */
static p2l_status initializer(p2l_model_ir *model, p2l_ir_graph **init, int *index) {
    for (size_t i = 0; i < model->graphs.len; i++)
        if (model->graphs.items[i]->no_signature) {
            *init = model->graphs.items[i];
            *index = (int)i;
            return P2L_OK;
        }
    P2L_TRY(p2l_model_ir_add_graph(model, "initialize_variables", init));
    (*init)->no_signature = true;
    *index = (int)model->graphs.len - 1;
    return P2L_OK;
}

p2l_status p2l_add_state_initializer(p2l_model_ir *model, const p2l_exported *ep) {
    if (ep->buffer_mutations.len == 0) return P2L_OK;
    p2l_ir_graph *init;
    int index;
    P2L_TRY(initializer(model, &init, &index));
    p2l_lower_ctx ctx = {.ep = ep, .g = init, .origin = "module state"};
    p2l_status s = P2L_OK;
    for (size_t i = 0; s == P2L_OK && i < ep->buffer_mutations.len; i++) {
        const int id = ep->buffer_mutations.items[i].buffer;
        const p2l_value *v = &ep->values.items[id];
        if (find_handle(init, v->fqn) >= 0) continue; /* another signature's: one variable per buffer */
        ctx.origin = buffer_origin(&ctx, v);
        p2l_clear_error();
        int inputs[2] = {emit_handle(&ctx, v->fqn), p2l_value_const(&ctx, id, v->rank, NULL)};
        if (inputs[0] < 0 || inputs[1] < 0 || p2l_emit(&ctx, P2L_OP_ASSIGN_VARIABLE, 2, inputs, 0, NULL) < 0)
            s = ctx.error_count ? p2l_fail(P2L_ERROR_UNSUPPORTED, "%s", (char *)ctx.errors.data)
                                : p2l_fail_context(failed(), "initializing %s", ctx.origin);
    }
    p2l_buf_free(&ctx.errors);
    /* every signature's CALL_ONCE runs this initializer */
    for (size_t gi = 0; s == P2L_OK && gi < model->graphs.len; gi++) {
        p2l_ir_graph *g = model->graphs.items[gi];
        for (size_t n = 0; n < g->nodes.len; n++)
            if (g->nodes.items[n].op == P2L_OP_CALL_ONCE) p2l_set_option(g, (int)n, "init_subgraph_index", index);
    }
    return s;
}
