/* The KV cache without whole-value copies: READ_VARIABLE and ASSIGN_VARIABLE whose tensors can live in
 * the variable's own storage, decided when the memory is planned (planner.c).
 *
 * A READ_VARIABLE output (with its views) is the variable's buffer when no ASSIGN_VARIABLE to that
 * variable and no CALL_ONCE (which runs another subgraph) happens from the read to the value's last
 * reader: what it reads cannot change while it is read. An ASSIGN_VARIABLE value is produced straight
 * into the variable's buffer when every aliased read of the variable ends before the value's producer
 * runs, and from the producer to the value's last reader no other op reads or assigns that variable
 * and no CALL_ONCE runs. The kernels then skip their copy (variable.c: source and destination are the
 * same). Subgraph outputs, caller-bound tensors and P2L_INTERPRETER_PRESERVE_ALL_TENSORS keep the copies.
 *
 * The variable's buffer moves when another subgraph's ASSIGN_VARIABLE grows it at prepare time (keeping
 * its value): the plan records the buffers it used, and invoke points the tensors at the new buffer
 * before it runs and after each CALL_ONCE (no aliased value is live across one). An op that fails
 * after writing part of an aliased value leaves the variable half updated (the copying path would keep
 * the old value): the invoke reports the error. */
#include <string.h>

#include "runtime/interpreter.h"

/* The variable a READ/ASSIGN node's handle names, or -1 (unknown handle or no table). */
static int variable_index(const p2l_graph *g, const p2l_node *n) {
    const p2l_variables *vars = g->ctx->exec.variables;
    const p2l_tensor *handle = n->inputs[0];
    if (!vars || handle->dtype != P2L_RESOURCE || !handle->known || handle->count != 1 || !handle->data) return -1;
    int32_t index;
    memcpy(&index, handle->data, sizeof index);
    return index >= 0 && (size_t)index < vars->items.len ? index : -1;
}

static bool runnable(const p2l_graph *g, int o) { return !g->folded[o] && !g->skipped[o]; }

/* No op in steps [from, to] other than `except` assigns (or, with `no_reads`, reads) variable v, and
 * none is a CALL_ONCE. */
static bool variable_untouched(const p2l_graph *g, int v, int from, int to, int except, bool no_reads) {
    for (int o = from; o <= to && o < g->sg->op_count; o++) {
        if (o == except || !runnable(g, o)) continue;
        const p2l_node *n = &g->nodes[o];
        if (n->op == P2L_OP_CALL_ONCE) return false;
        if ((n->op == P2L_OP_ASSIGN_VARIABLE || (no_reads && n->op == P2L_OP_READ_VARIABLE)) &&
            variable_index(g, n) == v)
            return false;
    }
    return true;
}

/* A buffer group (owner tensor t) that may live outside the arena: planned, produced by a node of this
 * subgraph, not a subgraph input or output (those live to the end), not bound to caller memory. */
static bool movable_group(const p2l_graph *g, const p2l_plan_item *items, int t, void *const *group_data) {
    const int steps = g->sg->op_count;
    return items[t].size && items[t].first >= 0 && items[t].last < steps && !g->is_input[t] &&
           !g->tensors[t].is_constant && !g->tensors[t].known && !(group_data && group_data[t]);
}

/* Whether the value produced at step `step` may be written into the variable's buffer `data` although an
 * aliased read of the variable ends there (at `read_end`): the producer is a DYNAMIC_UPDATE_SLICE whose
 * operand is that read and whose update and start are not in the buffer. The kernel then writes only the
 * updated slice (the operand is its output), so a KV cache's step costs its new row. */
static bool updates_in_place(const p2l_graph *g, const int *owner, void *const *variable_data, int step, int read_end,
                             const void *data) {
    if (read_end != step || !runnable(g, step)) return false;
    const p2l_node *n = &g->nodes[step];
    if (n->op != P2L_OP_DYNAMIC_UPDATE_SLICE || n->input_count != 3) return false;
    for (int i = 0; i < 3; i++) {
        const p2l_tensor *t = n->inputs[i];
        if (!t) return false;
        const bool in_buffer = t->index >= 0 && !t->is_constant && variable_data[owner[t->index]] == data;
        if (in_buffer != (i == 0)) return false;
    }
    return true;
}

p2l_status p2l_plan_variable_aliases(p2l_graph *g, const p2l_plan_item *items, const int *owner,
                                     void *const *group_data, void **variable_data) {
    g->variable_alias_count = 0;
    p2l_variables *vars = g->ctx->exec.variables;
    if (!vars || g->ctx->preserve_all_tensors) return P2L_OK;
    const int steps = g->sg->op_count;
    int count = 0;
    for (int o = 0; o < steps; o++) {
        const p2l_op op = g->nodes[o].op;
        if (runnable(g, o) && (op == P2L_OP_READ_VARIABLE || op == P2L_OP_ASSIGN_VARIABLE)) count++;
    }
    if (!count) return P2L_OK;
    g->variable_aliases = p2l_arena_alloc(&g->prepare_arena, (size_t)count * sizeof *g->variable_aliases);
    /* per variable: the last step of its aliased reads so far, -1 none */
    int *read_until = p2l_alloc((vars->items.len + 1) * sizeof *read_until);
    if (!g->variable_aliases || !read_until) {
        p2l_release(read_until);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning variable buffers");
    }
    for (size_t v = 0; v < vars->items.len; v++) read_until[v] = -1;
    for (int o = 0; o < steps; o++) {
        const p2l_node *n = &g->nodes[o];
        if (!runnable(g, o) || (n->op != P2L_OP_READ_VARIABLE && n->op != P2L_OP_ASSIGN_VARIABLE)) continue;
        const int v = variable_index(g, n);
        if (v < 0) continue;
        const p2l_variable *var = &vars->items.items[v];
        const bool read = n->op == P2L_OP_READ_VARIABLE;
        const p2l_tensor *value = read ? n->outputs[0] : n->inputs[1];
        const int group = owner[value->index];
        if (!var->data || value->bytes > var->capacity || variable_data[group] ||
            !movable_group(g, items, group, group_data))
            continue;
        const int first = items[group].first, last = items[group].last;
        if (read) {
            if (!variable_untouched(g, v, o, last, -1, false)) continue;
            if (last > read_until[v]) read_until[v] = last;
        } else {
            if ((read_until[v] >= first && !updates_in_place(g, owner, variable_data, first, read_until[v], var->data)) ||
                !variable_untouched(g, v, first, last, o, true))
                continue;
        }
        variable_data[group] = var->data;
        g->variable_aliases[g->variable_alias_count++] = (p2l_variable_alias){.variable = v, .data = var->data};
    }
    p2l_release(read_until);
    return P2L_OK;
}

void p2l_graph_follow_variable_buffers(p2l_graph *g) {
    const p2l_variables *vars = g->ctx->exec.variables;
    bool moved = false;
    for (int i = 0; i < g->variable_alias_count; i++)
        moved |= vars->items.items[g->variable_aliases[i].variable].data != g->variable_aliases[i].data;
    if (!moved) return;
    /* Only this plan's aliases point at the old buffers (the arena and the folded values were allocated
     * while those were held, and the old buffers were distinct); each tensor is matched once against the
     * old buffers, so a new buffer at another variable's old address is not taken for that one. */
    for (int t = 0; t < g->sg->tensor_count; t++)
        for (int i = 0; i < g->variable_alias_count; i++) {
            const p2l_variable_alias *a = &g->variable_aliases[i];
            if (g->tensors[t].data != a->data) continue;
            g->tensors[t].data = vars->items.items[a->variable].data;
            break;
        }
    for (int i = 0; i < g->variable_alias_count; i++)
        g->variable_aliases[i].data = vars->items.items[g->variable_aliases[i].variable].data;
}
