/* Resource variables (TFLite's VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE): values that persist from
 * one invoke to the next. One table per interpreter, shared by its subgraphs, keyed by the shared_name
 * of VAR_HANDLE; CALL_ONCE runs a subgraph (the variables' initializer) once per interpreter. The
 * runtime owns the table (src/runtime); kernels reach it through node->exec->variables. */
#ifndef P2L_KERNELS_VARIABLES_H
#define P2L_KERNELS_VARIABLES_H

#include "kernels/kernels.h"

typedef struct p2l_variable {
    const char *name;      /* shared_name: the model's string, which outlives the interpreter */
    bool assigned;         /* holds a value (false until the first ASSIGN_VARIABLE, and after a reset) */
    p2l_dtype dtype;
    int rank;
    int32_t dims[P2L_MAX_DIMS];
    size_t bytes;          /* of the value */
    void *data;            /* capacity bytes, reserved when an ASSIGN_VARIABLE is prepared */
    size_t capacity;
} p2l_variable;

typedef struct p2l_variables {
    P2L_VEC(p2l_variable) items;
    /* CALL_ONCE: run_subgraph(owner, index) invokes the interpreter's subgraph `index`; called[index]
     * says it ran (subgraph_count entries). */
    p2l_status (*run_subgraph)(void *owner, int index);
    void *owner;
    bool *called;
    int subgraph_count;
} p2l_variables;

/* The runtime's side. init allocates `called` for subgraph_count subgraphs. */
p2l_status p2l_variables_init(p2l_variables *vars, int subgraph_count, p2l_status (*run_subgraph)(void *, int),
                              void *owner);
/* Back to the state of a new interpreter: no variable holds a value, every CALL_ONCE runs again. */
void p2l_variables_reset(p2l_variables *vars);
void p2l_variables_free(p2l_variables *vars);

#endif
