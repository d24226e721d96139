/* The interpreter's state, shared by the files that act on it: the scheduler (interpreter.c), the
 * public API (interpreter_api.c), prepare-time fusions (fusions.c), the memory plan (planner.c) and
 * the profile (profile.c). */
#ifndef P2L_RUNTIME_INTERPRETER_H
#define P2L_RUNTIME_INTERPRETER_H

#include "kernels/variables.h"
#include "runtime/runtime.h"

/* Threads and scratch memory, shared by the interpreter's subgraphs (they run one at a time). */
typedef struct p2l_exec_context {
    p2l_exec exec;
    void *scratch_block; /* exec.scratch before alignment */
    bool profile;        /* P2L_INTERPRETER_PROFILE or P2L_PROFILE: time every node */
    int print_profile;   /* P2L_PROFILE=1: per op type to stderr when freed; 2: and per node of subgraph 0 */
    bool no_fusion;      /* P2L_INTERPRETER_NO_FUSION or P2L_NO_FUSION=1: run every op as written */
    bool preserve_all_tensors; /* P2L_INTERPRETER_PRESERVE_ALL_TENSORS: no tensor's memory is reused */
    p2l_kernel_selection kernels; /* p2l_interpreter_options.kernels */
    atomic_bool cancel;  /* p2l_interpreter_cancel: stop the running (or next) invoke between nodes */
} p2l_exec_context;

typedef struct p2l_node_profile {
    double seconds, min_seconds;
    long runs;
} p2l_node_profile;

/* Caller memory for an input or output (p2l_interpreter_bind_tensor); data NULL: not bound. */
typedef struct p2l_binding {
    void *data;
    size_t bytes;
} p2l_binding;

/* A tensor group of a plan that lives in a variable's buffer (variable_alias.c): which variable, and
 * the buffer the plan's tensors point at. */
typedef struct p2l_variable_alias {
    int variable;
    void *data;
} p2l_variable_alias;

/* One subgraph. */
typedef struct p2l_graph {
    int index;
    const p2l_tfl_subgraph *sg;
    p2l_tensor *tensors;
    p2l_node *nodes;
    const p2l_kernel **kernels; /* per node: its kernel, resolved at prepare */
    bool *folded;           /* node computed at prepare time */
    bool *skipped;          /* node absorbed into another by a fusion, or a view sharing its input's memory */
    bool *is_input;         /* tensor is a subgraph input */
    bool *is_output;        /* tensor is a subgraph output */
    p2l_node_profile *profile; /* per node, when profiling */
    long invokes;
    int *readers;           /* per tensor: how many op inputs name it */
    int *producer;          /* per tensor: the op that writes it, -1 for none */
    p2l_tensor **io;        /* storage of every node's input and output pointers */
    p2l_arena prepare_arena; /* kernel state and folded values of the current plan */
    void *arena_block;      /* tensor memory of the current plan */
    size_t arena_size;
    bool prepared;
    p2l_exec_context *ctx;  /* the interpreter's threads and scratch */
    const p2l_limits *limits; /* the model's (max_arena_bytes, max_tensor_bytes) */
    p2l_binding *bindings;  /* per tensor; NULL until the first p2l_interpreter_bind_tensor on the subgraph */
    bool binding_stale;     /* the plan could not use the binding of tensor stale_tensor: invoke refuses */
    int stale_tensor;
    p2l_derived_store *derived; /* the model's packed weights, shared by its interpreters (weights.c) */
    p2l_variable_alias *variable_aliases; /* in prepare_arena: the plan's tensors in variable buffers */
    int variable_alias_count;
} p2l_graph;

struct p2l_interpreter {
    p2l_model *model;
    int num_threads;
    p2l_threadpool *pool; /* a reference: its own, or p2l_interpreter_options.threadpool; NULL for one thread */
    p2l_exec_context ctx;
    int graph_count;
    p2l_graph *graphs;
    p2l_profile_entry *profile_table; /* p2l_interpreter_profile's answer */
    p2l_variables variables; /* resource variables, shared by the subgraphs (state.c) */
    /* LIVE_INTERPRETER while the interpreter lives, cleared by p2l_interpreter_free: catches most uses
     * after free. Last, away from the allocator's own bookkeeping at the start of a freed block. */
    uint64_t live;
};

/* Every entry point's first check: NULL, or not (any longer) an interpreter (interpreter_api.c). */
p2l_status p2l_interpreter_check_live(const p2l_interpreter *it, const char *fn);

/* The scheduler (interpreter.c). g->ctx, g->limits and g->derived are set before init. */
p2l_status p2l_graph_init(p2l_graph *g, const p2l_tfl_subgraph *sg, int index);
void p2l_graph_free(p2l_graph *g);
void p2l_graph_set_dims(p2l_tensor *t, int rank, const int32_t *dims);
void p2l_graph_release_plan(p2l_graph *g); /* the next use prepares again */
p2l_status p2l_graph_prepare(p2l_graph *g);
p2l_status p2l_graph_invoke(p2l_graph *g);
/* s with "subgraph g, op node (OP)" in front. */
p2l_status p2l_graph_op_context(p2l_status s, const p2l_graph *g, int node);

static inline bool p2l_node_inputs_known(const p2l_node *n) {
    for (int i = 0; i < n->input_count; i++)
        if (n->inputs[i] && !n->inputs[i]->known) return false;
    return true;
}

/* Tensor memory of a prepared graph (planner.c): lifetimes from the prepared nodes, one arena. Marks
 * views skipped and sets every planned tensor's data. */
p2l_status p2l_graph_plan_memory(p2l_graph *g);
/* Why invoke refuses while g->binding_stale (planner.c). */
p2l_status p2l_graph_stale_binding(const p2l_graph *g);

/* READ_VARIABLE outputs and ASSIGN_VARIABLE values that can live in the variable's buffer
 * (variable_alias.c): sets variable_data[t] for such a buffer group's owner t (items and owner from
 * the planner's lifetimes; group_data the caller-bound groups or NULL) and records them in g. */
p2l_status p2l_plan_variable_aliases(p2l_graph *g, const p2l_plan_item *items, const int *owner,
                                     void *const *group_data, void **variable_data);
/* Points the plan's aliased tensors at their variables' buffers again where one moved (grown by another
 * subgraph's prepare). */
void p2l_graph_follow_variable_buffers(p2l_graph *g);

/* Resource variables (state.c): the table every subgraph's kernels reach through ctx.exec. */
p2l_status p2l_interpreter_state_init(p2l_interpreter *it);

/* Profiling (profile.c). */
double p2l_profile_now(void);
void p2l_profile_add(p2l_node_profile *p, double seconds);
void p2l_profile_print(const p2l_interpreter *it); /* to stderr, as ctx.print_profile asks */

#endif
