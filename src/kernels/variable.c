/* Resource variables: VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE and CALL_ONCE over the interpreter's
 * table (variables.h).
 *
 * A resource tensor (dtype RESOURCE) holds the int32 index of its variable in the table. VAR_HANDLE
 * is computed at prepare time (P2L_KERNEL_SHAPE_ONLY: it reads nothing), so the variable is known when
 * the other ops are prepared: ASSIGN_VARIABLE reserves the variable's memory then, and invoke only
 * copies. READ_VARIABLE copies the value into its output: a later ASSIGN_VARIABLE in the same invoke
 * does not change what was read. Where the memory plan puts a read value or an assigned value in the
 * variable's own buffer (runtime/variable_alias.c), the copy is skipped. */
#include <string.h>

#include "kernels/variables.h"

p2l_status p2l_variables_init(p2l_variables *vars, int subgraph_count, p2l_status (*run_subgraph)(void *, int),
                              void *owner) {
    *vars = (p2l_variables){.run_subgraph = run_subgraph, .owner = owner, .subgraph_count = subgraph_count};
    vars->called = p2l_alloc_zero((size_t)subgraph_count + 1);
    return vars->called ? P2L_OK : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory creating an interpreter");
}

void p2l_variables_reset(p2l_variables *vars) {
    for (size_t i = 0; i < vars->items.len; i++) vars->items.items[i].assigned = false;
    memset(vars->called, 0, (size_t)vars->subgraph_count);
}

void p2l_variables_free(p2l_variables *vars) {
    for (size_t i = 0; i < vars->items.len; i++) p2l_release(vars->items.items[i].data);
    P2L_VEC_FREE(&vars->items);
    p2l_release(vars->called);
    vars->called = NULL;
}

static p2l_status table_of(const p2l_node *node, p2l_variables **vars) {
    *vars = node->exec ? node->exec->variables : NULL;
    if (!*vars) return p2l_fail(P2L_ERROR_UNSUPPORTED, "resource variables run only inside an interpreter");
    return P2L_OK;
}

/* The variable a resource tensor names (its value must be known: VAR_HANDLE's output). */
static p2l_status variable_of(const p2l_node *node, const p2l_tensor *handle, p2l_variable **var) {
    p2l_variables *vars = NULL;
    P2L_TRY(table_of(node, &vars));
    P2L_TRY(p2l_expect_dtype(handle, P2L_RESOURCE));
    P2L_TRY(p2l_expect_known(handle, "the resource handle (a VAR_HANDLE output)"));
    int32_t index;
    memcpy(&index, handle->data, sizeof index);
    if (handle->count != 1 || index < 0 || (size_t)index >= vars->items.len)
        return p2l_fail(P2L_ERROR_MALFORMED, "%s does not name a variable of the interpreter", P2L_LABEL(handle));
    *var = &vars->items.items[index];
    return P2L_OK;
}

/* ------------------------------------------------------------ VAR_HANDLE */

static p2l_status var_handle_prepare(p2l_node *node) {
    p2l_variables *vars = NULL;
    P2L_TRY(table_of(node, &vars));
    const char *name = node->opts.var_handle.shared_name;
    if (!name || !*name) return p2l_fail(P2L_ERROR_UNSUPPORTED, "VAR_HANDLE without a shared_name is not supported");
    P2L_TRY(p2l_expect_dtype(node->outputs[0], P2L_RESOURCE));
    static const int32_t scalar[1] = {0}; /* rank 0: no dims are read */
    return p2l_set_output_dims(node, 0, 0, scalar);
}

static p2l_status var_handle_invoke(p2l_node *node) {
    p2l_variables *vars = node->exec->variables; /* checked at prepare */
    const char *name = node->opts.var_handle.shared_name;
    size_t i = 0;
    while (i < vars->items.len && strcmp(vars->items.items[i].name, name) != 0) i++;
    if (i == vars->items.len) P2L_TRY(P2L_VEC_PUSH(&vars->items, ((p2l_variable){.name = name})));
    if (i > INT32_MAX) return p2l_fail(P2L_ERROR_LIMIT, "too many variables");
    const int32_t index = (int32_t)i;
    memcpy(node->outputs[0]->data, &index, sizeof index);
    return P2L_OK;
}

const p2l_kernel p2l_kernel_var_handle = {
    .prepare = var_handle_prepare, .invoke = var_handle_invoke,
    .min_inputs = 0, .max_inputs = 0, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_SHAPE_ONLY,
};

/* ------------------------------------------------------------ READ_VARIABLE */

static p2l_status read_variable_prepare(p2l_node *node) {
    p2l_variable *var = NULL;
    P2L_TRY(variable_of(node, node->inputs[0], &var));
    /* the value's shape once assigned, else the shape the file declares */
    const p2l_tensor *shape = node->outputs[0];
    int32_t dims[P2L_MAX_DIMS];
    memcpy(dims, var->assigned ? var->dims : shape->dims, sizeof dims);
    return p2l_set_output_dims(node, 0, var->assigned ? var->rank : shape->rank, dims);
}

static p2l_status read_variable_invoke(p2l_node *node) {
    p2l_variable *var = NULL;
    P2L_TRY(variable_of(node, node->inputs[0], &var));
    const p2l_tensor *out = node->outputs[0];
    if (!var->assigned)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "variable '%s' is read before any value was assigned to it", var->name);
    if (var->dtype != out->dtype || var->bytes != out->bytes)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "variable '%s' holds %zu bytes of %s, but %s is %zu bytes of %s",
                        var->name, var->bytes, p2l_dtype_name(var->dtype), P2L_LABEL(out), out->bytes,
                        p2l_dtype_name(out->dtype));
    if (out->data != var->data) memcpy(out->data, var->data, var->bytes); /* else planned in place */
    return P2L_OK;
}

const p2l_kernel p2l_kernel_read_variable = {
    .prepare = read_variable_prepare, .invoke = read_variable_invoke,
    .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 1, .flags = P2L_KERNEL_NO_FOLD,
};

/* ------------------------------------------------------------ ASSIGN_VARIABLE */

static p2l_status assign_variable_prepare(p2l_node *node) {
    p2l_variable *var = NULL;
    P2L_TRY(variable_of(node, node->inputs[0], &var));
    const p2l_tensor *value = node->inputs[1];
    if (value->dtype == P2L_RESOURCE || value->dtype == P2L_STRING)
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "variable '%s': a %s value cannot be assigned", var->name,
                        p2l_dtype_name(value->dtype));
    if (value->bytes <= var->capacity) return P2L_OK;
    /* grow, keeping the value it holds (another subgraph may read it before this one runs) */
    void *data = p2l_alloc(value->bytes);
    if (!data) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory for variable '%s' (%zu bytes)", var->name,
                               value->bytes);
    if (var->assigned) memcpy(data, var->data, var->bytes);
    p2l_release(var->data);
    var->data = data;
    var->capacity = value->bytes;
    return P2L_OK;
}

static p2l_status assign_variable_invoke(p2l_node *node) {
    p2l_variable *var = NULL;
    P2L_TRY(variable_of(node, node->inputs[0], &var));
    const p2l_tensor *value = node->inputs[1];
    if (value->bytes > var->capacity) /* prepare reserved it: never expected */
        return p2l_fail(P2L_ERROR_INTERNAL, "variable '%s' has %zu bytes reserved, %zu assigned", var->name,
                        var->capacity, value->bytes);
    if (value->bytes && value->data != var->data) memcpy(var->data, value->data, value->bytes); /* else produced in place */
    var->dtype = value->dtype;
    var->rank = value->rank;
    memcpy(var->dims, value->dims, sizeof var->dims);
    var->bytes = value->bytes;
    var->assigned = true;
    return P2L_OK;
}

const p2l_kernel p2l_kernel_assign_variable = {
    .prepare = assign_variable_prepare, .invoke = assign_variable_invoke,
    .min_inputs = 2, .max_inputs = 2, .min_outputs = 0, .max_outputs = 0, .flags = P2L_KERNEL_NO_FOLD,
};

/* ------------------------------------------------------------ CALL_ONCE */

static p2l_status call_once_prepare(p2l_node *node) {
    p2l_variables *vars = NULL;
    P2L_TRY(table_of(node, &vars));
    int index = node->opts.call_once.init_subgraph_index;
    if (index < 0 || index >= vars->subgraph_count)
        return p2l_fail(P2L_ERROR_MALFORMED, "CALL_ONCE names subgraph %d (the model has %d)", index,
                        vars->subgraph_count);
    return P2L_OK;
}

static p2l_status call_once_invoke(p2l_node *node) {
    p2l_variables *vars = node->exec->variables;
    int index = node->opts.call_once.init_subgraph_index;
    if (vars->called[index]) return P2L_OK;
    vars->called[index] = true; /* before running it: a CALL_ONCE inside it does not recurse */
    p2l_status s = vars->run_subgraph(vars->owner, index);
    if (s) vars->called[index] = false;
    return s ? p2l_fail_context(s, "initializer subgraph %d (CALL_ONCE)", index) : P2L_OK;
}

const p2l_kernel p2l_kernel_call_once = {
    .prepare = call_once_prepare, .invoke = call_once_invoke,
    .min_inputs = 0, .max_inputs = 0, .min_outputs = 0, .max_outputs = 0, .flags = P2L_KERNEL_NO_FOLD,
};
