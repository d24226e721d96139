/* Module state in the interpreter: the resource variables' table (kernels/variables.h), shared by
 * the subgraphs, and its reset. */
#include "runtime/interpreter.h"

/* CALL_ONCE's way into the interpreter: runs subgraph `index` (the variables' initializer). */
static p2l_status run_subgraph(void *owner, int index) {
    p2l_interpreter *it = owner;
    return p2l_graph_invoke(&it->graphs[index]);
}

p2l_status p2l_interpreter_state_init(p2l_interpreter *it) {
    P2L_TRY(p2l_variables_init(&it->variables, it->graph_count, run_subgraph, it));
    it->ctx.exec.variables = &it->variables;
    return P2L_OK;
}

p2l_status p2l_interpreter_reset_state(p2l_interpreter *it) {
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_interpreter_reset_state"));
    p2l_variables_reset(&it->variables);
    return P2L_OK;
}
