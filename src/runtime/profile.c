/* Profiling (P2L_INTERPRETER_PROFILE, or P2L_PROFILE for tools): seconds per node, the table
 * p2l_interpreter_profile answers with, and the summaries P2L_PROFILE prints. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime/interpreter.h"

double p2l_profile_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void p2l_profile_add(p2l_node_profile *p, double seconds) {
    if (p->runs == 0 || seconds < p->min_seconds) p->min_seconds = seconds;
    p->seconds += seconds;
    p->runs++;
}

/* P2L_PROFILE=2: per node of each subgraph that ran, mean and fastest microseconds per run, with the
 * first output's shape (none for ops without outputs, such as ASSIGN_VARIABLE); the fastest is what
 * the machine's noise does not reach. */
static void print_node_profile(const p2l_graph *g, int index) {
    if (!g->profile || !g->nodes) return;
    bool ran = false;
    for (int o = 0; o < g->sg->op_count; o++) ran |= g->profile[o].runs > 0;
    if (ran) fprintf(stderr, "p2l subgraph %d\n", index);
    for (int o = 0; o < g->sg->op_count; o++) {
        const p2l_node_profile *p = &g->profile[o];
        if (!p->runs) continue;
        const p2l_tensor *y = g->nodes[o].output_count > 0 ? g->nodes[o].outputs[0] : NULL;
        fprintf(stderr, "p2l node %4d %-20s %9.1f us mean %9.1f us min  [", o, p2l_op_info_of(g->nodes[o].op)->name,
                p->seconds * 1e6 / (double)p->runs, p->min_seconds * 1e6);
        for (int d = 0; y && d < y->rank; d++) fprintf(stderr, d ? ",%d" : "%d", y->dims[d]);
        fprintf(stderr, "]\n");
    }
}

/* P2L_PROFILE=1: seconds per op type over all subgraphs. */
static void print_op_profile(const p2l_interpreter *it) {
    double by_op[P2L_OP_COUNT] = {0}, total = 0;
    for (int i = 0; i < it->graph_count; i++) {
        const p2l_graph *g = &it->graphs[i];
        for (int o = 0; g->profile && o < g->sg->op_count; o++) {
            by_op[g->nodes[o].op] += g->profile[o].seconds;
            total += g->profile[o].seconds;
        }
    }
    for (int op = 0; op < P2L_OP_COUNT; op++)
        if (by_op[op] > 0)
            fprintf(stderr, "p2l profile: %-24s %9.2f ms %5.1f%%\n", p2l_op_info_of((p2l_op)op)->name, by_op[op] * 1e3,
                    100.0 * by_op[op] / total);
}

void p2l_profile_print(const p2l_interpreter *it) {
    if (!it->graphs) return;
    if (it->ctx.print_profile == 2)
        for (int i = 0; i < it->graph_count; i++) print_node_profile(&it->graphs[i], i);
    if (it->ctx.print_profile) print_op_profile(it);
}

p2l_status p2l_interpreter_profile(p2l_interpreter *it, const p2l_profile_entry **entries, int *count) {
    P2L_TRY(p2l_interpreter_check_live(it, "p2l_interpreter_profile"));
    if (!entries || !count) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_profile: NULL argument");
    *entries = NULL;
    *count = 0;
    if (!it->ctx.profile)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "p2l_interpreter_profile: the interpreter was created without "
                        "P2L_INTERPRETER_PROFILE");
    size_t total = 0;
    for (int i = 0; i < it->graph_count; i++) total += (size_t)it->graphs[i].sg->op_count;
    p2l_release(it->profile_table);
    it->profile_table = p2l_alloc_zero(total * sizeof *it->profile_table + 1);
    if (!it->profile_table) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory building the profile");
    int n = 0;
    for (int i = 0; i < it->graph_count; i++) {
        const p2l_graph *g = &it->graphs[i];
        for (int o = 0; o < g->sg->op_count; o++) {
            const p2l_node_profile *p = &g->profile[o];
            if (!p->runs) continue;
            it->profile_table[n++] = (p2l_profile_entry){.size = sizeof(p2l_profile_entry), .subgraph = i, .node = o,
                                                         .op = p2l_op_info_of(g->nodes[o].op)->name,
                                                         .runs = p->runs, .seconds = p->seconds,
                                                         .min_seconds = p->min_seconds};
        }
    }
    *entries = it->profile_table;
    *count = n;
    return P2L_OK;
}
