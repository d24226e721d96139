/* Memory planning: a graph's tensor lifetimes (p2l_graph_plan_memory), placed by a lifetime-based
 * planner: greedy by size, best fit, with interval queries (p2l_plan_memory).
 *
 * Tensors are placed largest first; each goes into the smallest gap, between tensors already placed
 * whose lifetimes overlap its own, that fits it (or above the highest of them). Tensors whose
 * lifetimes do not overlap share memory.
 *
 * The placed tensors whose lifetimes overlap one are found with a tree over the tensors ordered by
 * first step, each node holding the latest last step of the placed tensors below it: O(log n) per
 * overlapping tensor reported. Real graphs have a few to a few hundred tensors alive at once, so a
 * plan costs about n log n. A graph where most tensors overlap each other (a file with a million
 * subgraph outputs) would make greedy placement quadratic: once the tree nodes visited exceed a budget
 * of 32 log n per tensor placed so far (plus a constant), the plan is redone by a sweep over the steps that keeps free blocks in a
 * tree ordered by offset (first fit, neighbours merged on release), O(n log n) in every case. */
#include <stdint.h>
#include <stdlib.h>

#include "base/limits.h"
#include "runtime/interpreter.h"

typedef struct planner {
    p2l_plan_item **items;   /* the tensors to place (size > 0, first >= 0) */
    size_t n;
    size_t alignment;
    p2l_plan_item **by_first; /* items ordered by first step */
    size_t leaves;           /* power of two >= n */
    int *latest_last;        /* tree over by_first: latest last step of the placed items below, -1 none */
    p2l_plan_item **overlap; /* scratch: the placed items overlapping the one being placed */
    size_t overlaps, budget; /* tree nodes visited so far, and the most allowed so far */
    size_t budget_per_item;  /* the budget grows by this for each tensor placed */
} planner;

static size_t rounded(const planner *p, size_t size) { return (size + p->alignment - 1) & ~(p->alignment - 1); }

static int by_size_desc(const void *a, const void *b) {
    const p2l_plan_item *x = *(p2l_plan_item *const *)a, *y = *(p2l_plan_item *const *)b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_first(const void *a, const void *b) {
    const p2l_plan_item *x = *(p2l_plan_item *const *)a, *y = *(p2l_plan_item *const *)b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_last(const void *a, const void *b) {
    const p2l_plan_item *x = *(p2l_plan_item *const *)a, *y = *(p2l_plan_item *const *)b;
    if (x->last != y->last) return x->last < y->last ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_offset(const void *a, const void *b) {
    const p2l_plan_item *x = *(p2l_plan_item *const *)a, *y = *(p2l_plan_item *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* ------------------------------------------------------------ greedy by size */

/* Appends the placed items among by_first[lo, hi) (tree node `node`) that start before `limit` (an
 * index into by_first) and end at or after step `first`. */
static void collect(planner *p, size_t node, size_t lo, size_t hi, size_t limit, int first, size_t *count) {
    if (lo >= limit || p->latest_last[node] < first || p->overlaps > p->budget) return;
    p->overlaps++;
    if (hi - lo == 1) {
        p->overlap[(*count)++] = p->by_first[lo];
        return;
    }
    const size_t mid = lo + (hi - lo) / 2;
    collect(p, 2 * node, lo, mid, limit, first, count);
    collect(p, 2 * node + 1, mid, hi, limit, first, count);
}

/* Places every item; returns false when the budget ran out (the sweep then redoes every offset).
 * order and position are scratch arrays of n entries. */
static bool place_greedy(planner *p, p2l_plan_item **order, size_t *position, size_t *arena_size) {
    for (size_t i = 0; i < p->n; i++) p->by_first[i]->offset = i; /* its leaf, until placed */
    for (size_t i = 0; i < p->n; i++) order[i] = p->by_first[i];
    qsort(order, p->n, sizeof *order, by_size_desc);
    for (size_t i = 0; i < p->n; i++) position[i] = order[i]->offset;
    for (size_t i = 0; i < 2 * p->leaves; i++) p->latest_last[i] = -1;
    bool ok = true;
    p->budget = 1u << 16;
    for (size_t i = 0; i < p->n && ok; i++) {
        p2l_plan_item *t = order[i];
        /* A running budget: a graph that overlaps too much is caught after a few of its tensors. */
        p->budget += p->budget_per_item;
        /* by_first entries up to the first one that starts after t ends */
        size_t lo = 0, hi = p->n;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (p->by_first[mid]->first <= t->last) lo = mid + 1;
            else hi = mid;
        }
        size_t m = 0;
        collect(p, 1, 0, p->leaves, lo, t->first, &m);
        if (p->overlaps > p->budget) {
            ok = false;
            break;
        }
        p->overlaps += m; /* the sort below */
        qsort(p->overlap, m, sizeof *p->overlap, by_offset);
        const size_t size = rounded(p, t->size);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (size_t j = 0; j < m; j++) {
            if (p->overlap[j]->offset >= cursor) {
                const size_t gap = p->overlap[j]->offset - cursor;
                if (gap >= size && gap < best_gap) best = cursor, best_gap = gap;
            }
            /* placed items were checked to fit with their size rounded up, so this cannot wrap */
            const size_t end = p->overlap[j]->offset + rounded(p, p->overlap[j]->size);
            if (end > cursor) cursor = end;
        }
        t->offset = best != SIZE_MAX ? best : cursor;
        size_t end;
        if (!p2l_add_size(t->offset, size, &end)) {
            t->offset = SIZE_MAX; /* reported by the caller as too large */
            *arena_size = SIZE_MAX;
            break;
        }
        if (end > *arena_size) *arena_size = end;
        /* mark t placed in the tree */
        size_t node = p->leaves + position[i];
        p->latest_last[node] = t->last;
        for (node /= 2; node >= 1; node /= 2) {
            const int l = p->latest_last[2 * node], r = p->latest_last[2 * node + 1];
            p->latest_last[node] = l > r ? l : r;
        }
    }
    return ok;
}

/* ------------------------------------------------------------ sweep with a free list */

/* Free blocks [start, end) in a treap ordered by start; each node knows the largest block below it.
 * The block above everything placed ends at SIZE_MAX. Nodes are never reused: each release makes one,
 * each allocation at most one, so 2n + 1 suffice. */
typedef struct free_tree {
    size_t *start, *end, *largest;
    uint32_t *left, *right, *priority;
    size_t used; /* node 0 is the empty tree */
} free_tree;

static size_t largest_of(const free_tree *f, uint32_t x) { return x ? f->largest[x] : 0; }

static void update(free_tree *f, uint32_t x) {
    size_t l = largest_of(f, f->left[x]), r = largest_of(f, f->right[x]), own = f->end[x] - f->start[x];
    f->largest[x] = own > l ? (own > r ? own : r) : (l > r ? l : r);
}

static uint32_t merge(free_tree *f, uint32_t a, uint32_t b) {
    if (!a || !b) return a ? a : b;
    if (f->priority[a] > f->priority[b]) {
        f->right[a] = merge(f, f->right[a], b);
        update(f, a);
        return a;
    }
    f->left[b] = merge(f, a, f->left[b]);
    update(f, b);
    return b;
}

/* Splits x into the blocks starting before `key` and the others. */
static void split(free_tree *f, uint32_t x, size_t key, uint32_t *lo, uint32_t *hi) {
    if (!x) {
        *lo = *hi = 0;
        return;
    }
    if (f->start[x] < key) {
        split(f, f->right[x], key, &f->right[x], hi);
        update(f, x);
        *lo = x;
    } else {
        split(f, f->left[x], key, lo, &f->left[x]);
        update(f, x);
        *hi = x;
    }
}

static uint32_t new_block(free_tree *f, size_t start, size_t end) {
    const uint32_t x = (uint32_t)++f->used;
    uint32_t h = x; /* a hash of the index as priority: the depth stays logarithmic in expectation */
    h ^= h >> 16, h *= 0x7feb352du, h ^= h >> 15, h *= 0x846ca68bu, h ^= h >> 16;
    f->start[x] = start, f->end[x] = end, f->largest[x] = end - start;
    f->left[x] = f->right[x] = 0, f->priority[x] = h;
    return x;
}

/* Removes the leftmost / rightmost node of tree x into *node; returns the rest of the tree. */
static uint32_t pop_edge(free_tree *f, uint32_t x, bool leftmost, uint32_t *node) {
    uint32_t *child = leftmost ? &f->left[x] : &f->right[x];
    if (!*child) {
        *node = x;
        return leftmost ? f->right[x] : f->left[x];
    }
    *child = pop_edge(f, *child, leftmost, node);
    update(f, x);
    return x;
}

/* The block of *side nearest to `at` (its last block when !after, its first when after) leaves *side
 * when it touches `at`; returns the far edge of the merged block: where it now starts / ends. */
static size_t take_neighbour(free_tree *f, uint32_t *side, bool after, size_t at) {
    if (!*side) return at;
    uint32_t x = *side;
    while (after ? f->left[x] : f->right[x]) x = after ? f->left[x] : f->right[x];
    if ((after ? f->start[x] : f->end[x]) != at) return at;
    uint32_t popped;
    *side = pop_edge(f, *side, after, &popped);
    return after ? f->end[popped] : f->start[popped];
}

static uint32_t release_block(free_tree *f, uint32_t root, size_t start, size_t end) {
    uint32_t lo, hi;
    split(f, root, start, &lo, &hi);
    start = take_neighbour(f, &lo, false, start);
    end = take_neighbour(f, &hi, true, end);
    return merge(f, merge(f, lo, new_block(f, start, end)), hi);
}

/* The lowest block of at least `size` bytes, or 0. */
static uint32_t first_fit(const free_tree *f, uint32_t x, size_t size) {
    while (x && f->largest[x] >= size) {
        if (largest_of(f, f->left[x]) >= size) x = f->left[x];
        else if (f->end[x] - f->start[x] >= size) return x;
        else x = f->right[x];
    }
    return 0;
}

static p2l_status place_sweep(planner *p, size_t *arena_size) {
    const size_t nodes = 2 * p->n + 2;
    free_tree f = {0};
    f.start = p2l_alloc(nodes * sizeof *f.start);
    f.end = p2l_alloc(nodes * sizeof *f.end);
    f.largest = p2l_alloc(nodes * sizeof *f.largest);
    f.left = p2l_alloc(nodes * sizeof *f.left);
    f.right = p2l_alloc(nodes * sizeof *f.right);
    f.priority = p2l_alloc(nodes * sizeof *f.priority);
    p2l_plan_item **ending = p2l_alloc(p->n * sizeof *ending);
    p2l_status s = P2L_OK;
    if (!f.start || !f.end || !f.largest || !f.left || !f.right || !f.priority || !ending || nodes > UINT32_MAX)
        s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning %zu tensors", p->n);
    if (!s) {
        for (size_t i = 0; i < p->n; i++) ending[i] = p->by_first[i];
        qsort(ending, p->n, sizeof *ending, by_last);
        uint32_t root = new_block(&f, 0, SIZE_MAX);
        size_t released = 0;
        *arena_size = 0;
        for (size_t i = 0; i < p->n && !s; i++) {
            p2l_plan_item *t = p->by_first[i];
            /* what died before t's first step is free for it */
            for (; released < p->n && ending[released]->last < t->first; released++) {
                const p2l_plan_item *d = ending[released];
                root = release_block(&f, root, d->offset, d->offset + rounded(p, d->size));
            }
            const size_t size = rounded(p, t->size);
            const uint32_t x = first_fit(&f, root, size);
            if (!x) {
                s = p2l_fail(P2L_ERROR_LIMIT, "tensor memory exceeds the address space");
                break;
            }
            uint32_t lo, hi, rest;
            split(&f, root, f.start[x], &lo, &hi);
            split(&f, hi, f.start[x] + 1, &rest, &hi); /* rest is x alone */
            t->offset = f.start[rest];
            if (t->offset + size > *arena_size) *arena_size = t->offset + size;
            if (f.end[rest] - f.start[rest] > size) hi = merge(&f, new_block(&f, t->offset + size, f.end[rest]), hi);
            root = merge(&f, lo, hi);
        }
    }
    p2l_release(f.start);
    p2l_release(f.end);
    p2l_release(f.largest);
    p2l_release(f.left);
    p2l_release(f.right);
    p2l_release(f.priority);
    p2l_release(ending);
    return s;
}

/* ------------------------------------------------------------ entry point */

p2l_status p2l_plan_memory(p2l_plan_item *items, size_t count, size_t alignment, size_t *arena_size) {
    *arena_size = 0;
    if (count == 0) return P2L_OK;
    planner p = {.alignment = alignment};
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        items[i].offset = 0;
        if (!items[i].size || items[i].first < 0) continue;
        if (items[i].size > SIZE_MAX - alignment)
            return p2l_fail(P2L_ERROR_LIMIT, "a tensor of %zu bytes is too large", items[i].size);
        n++;
    }
    if (n == 0) return P2L_OK;
    p.n = n;
    for (p.leaves = 1; p.leaves < n; p.leaves *= 2) {
    }
    size_t log2n = 1;
    while ((size_t)1 << log2n < n) log2n++;
    p.budget_per_item = 32 * log2n; /* real graphs visit 2-4 log n per tensor (measured on the zoo) */
    p.by_first = p2l_alloc(n * sizeof *p.by_first);
    p.overlap = p2l_alloc(n * sizeof *p.overlap);
    p.latest_last = p2l_alloc(2 * p.leaves * sizeof *p.latest_last);
    p2l_plan_item **order = p2l_alloc(n * sizeof *order);
    size_t *position = p2l_alloc(n * sizeof *position);
    p2l_status s = P2L_OK;
    if (!p.by_first || !p.overlap || !p.latest_last || !order || !position)
        s = p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning %zu tensors", n);
    if (!s) {
        n = 0;
        for (size_t i = 0; i < count; i++)
            if (items[i].size && items[i].first >= 0) p.by_first[n++] = &items[i];
        qsort(p.by_first, n, sizeof *p.by_first, by_first);
        if (!place_greedy(&p, order, position, arena_size)) s = place_sweep(&p, arena_size);
        else if (*arena_size == SIZE_MAX) s = p2l_fail(P2L_ERROR_LIMIT, "tensor memory exceeds the address space");
    }
    p2l_release(p.by_first);
    p2l_release(p.overlap);
    p2l_release(p.latest_last);
    p2l_release(order);
    p2l_release(position);
    return s;
}

/* ------------------------------------------------------------ a prepared graph's tensors */

enum { TENSOR_ALIGNMENT = 64 };

/* Lifetimes in node steps: subgraph inputs from before the first op, subgraph outputs until after
 * the last; everything else from its producer to its last reader. The output of a view (RESHAPE)
 * of a planned tensor gets no memory of its own: it is a second name for the input's buffer
 * (owner[] maps a tensor to the one whose buffer it uses), which lives until the last reader of
 * either, and the view node is skipped at invoke. A node with a fused epilogue writes the
 * epilogue's output instead of output 0, which gets no memory. */
/* The caller's buffer bound to tensor t, when this plan can use it; otherwise NULL, and a binding
 * that cannot be used (wrong size after a resize, or a value computed at allocation) is recorded for
 * invoke to refuse. */
static void *binding_of(p2l_graph *g, int t) {
    const p2l_binding *b = &g->bindings[t];
    if (!b->data) return NULL;
    if (b->bytes == g->tensors[t].bytes && !g->tensors[t].known) return b->data;
    if (!g->binding_stale) g->binding_stale = true, g->stale_tensor = t;
    return NULL;
}

p2l_status p2l_graph_stale_binding(const p2l_graph *g) {
    const p2l_tensor *t = &g->tensors[g->stale_tensor];
    if (t->known)
        return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is bound to a caller buffer but is computed at "
                        "allocation (it does not depend on the inputs): unbind it and read it with get_tensor",
                        g->index, P2L_LABEL(t));
    return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "subgraph %d: %s is bound to a buffer of %zu bytes but now holds %zu "
                    "bytes (after a resize): bind it again or unbind it", g->index, P2L_LABEL(t),
                    g->bindings[g->stale_tensor].bytes, t->bytes);
}

/* A view node's output can share its input's buffer: the input has memory in this plan, the sizes
 * agree, and not both have caller buffers (see lifetimes). */
static bool view_allowed(const p2l_node *n, const p2l_plan_item *items, const int *owner, void *const *group_data) {
    const int in = owner[n->inputs[0]->index], out = n->outputs[0]->index;
    return items[in].first >= 0 && n->outputs[0]->bytes == n->inputs[0]->bytes &&
           !(group_data && group_data[in] && group_data[out]);
}

/* Bound tensors (group_data not NULL: group_data[t] is the caller buffer of the group t owns, or NULL)
 * keep their views: a view of a bound tensor aliases the caller's buffer, and a bound view output
 * makes its input's group live in that buffer, unless both sides are bound (the view then copies). */
static p2l_status lifetimes(p2l_graph *g, p2l_plan_item *items, int *owner, void **group_data) {
    const p2l_tfl_subgraph *sg = g->sg;
    const int steps = sg->op_count;
    for (int t = 0; t < sg->tensor_count; t++) items[t].first = -1, owner[t] = t;
    for (int t = 0; group_data && t < sg->tensor_count; t++) group_data[t] = binding_of(g, t);
    for (int i = 0; i < sg->input_count; i++) {
        p2l_tensor *x = &g->tensors[sg->inputs[i]];
        if (x->is_constant) continue;
        items[x->index] = (p2l_plan_item){.size = x->bytes, .first = 0, .last = steps};
    }
    for (int o = 0; o < sg->op_count; o++) {
        p2l_node *n = &g->nodes[o];
        if (g->folded[o] || g->skipped[o]) continue;
        for (int i = 0; i <= n->input_count; i++) {
            p2l_tensor *x = i < n->input_count ? n->inputs[i] : n->fusion.unpadded; /* NULL unless taken */
            p2l_plan_item *it = x ? &items[owner[x->index]] : NULL;
            if (it && it->first >= 0 && it->last < o) it->last = o;
        }
        if ((g->kernels[o]->flags & P2L_KERNEL_VIEW) && view_allowed(n, items, owner, group_data)) {
            const int view_in = owner[n->inputs[0]->index], view_out = n->outputs[0]->index;
            if (group_data && group_data[view_out]) group_data[view_in] = group_data[view_out];
            owner[view_out] = view_in;
            g->skipped[o] = true;
            continue;
        }
        for (int i = 0; i < n->output_count; i++) {
            p2l_tensor *y = n->outputs[i];
            if (i == 0 && n->fusion.epilogue_taken) {
                y = n->fusion.epilogue_output;
                /* same elements; the dtype may differ (an int8 DEQUANTIZE's detour ends in int8) */
                if (y->count != n->outputs[0]->count)
                    return p2l_graph_op_context(p2l_fail(P2L_ERROR_INTERNAL, "fused epilogue output has %zu "
                                                         "elements, expected %zu", y->count, n->outputs[0]->count), g, o);
            }
            items[y->index] = (p2l_plan_item){.size = y->bytes, .first = o, .last = o};
        }
    }
    for (int t = 0; t < sg->tensor_count; t++) {
        p2l_plan_item *it = &items[owner[t]];
        /* Outputs, and every tensor when all are preserved, live to the end: no later tensor reuses them. */
        if (it->first >= 0 && (g->is_output[t] || g->ctx->preserve_all_tensors)) it->last = steps;
    }
    return P2L_OK;
}

/* Places the tensors of the lifetimes in one block of memory and points them at it (the groups in
 * caller buffers or variable buffers at those instead). */
static p2l_status place_tensors(p2l_graph *g, p2l_plan_item *items, const int *owner, void *const *group_data,
                                void *const *variable_data) {
    const p2l_tfl_subgraph *sg = g->sg;
    size_t arena_size, tensor_bytes = 0;
    for (int t = 0; t < sg->tensor_count; t++)
        if (!p2l_add_size(tensor_bytes, g->tensors[t].bytes, &tensor_bytes)) tensor_bytes = SIZE_MAX;
    P2L_TRY(P2L_CHECK_LIMIT(g->limits, max_tensor_bytes, tensor_bytes, "the bytes of the subgraph's tensors"));
    for (int t = 0; group_data && t < sg->tensor_count; t++)
        if (group_data[t]) items[t].first = -1; /* the caller's memory, outside the arena */
    for (int t = 0; t < sg->tensor_count; t++)
        if (variable_data[t]) items[t].first = -1; /* the variable's buffer */
    P2L_TRY(p2l_plan_memory(items, (size_t)sg->tensor_count, TENSOR_ALIGNMENT, &arena_size));
    P2L_TRY(P2L_CHECK_LIMIT(g->limits, max_arena_bytes, arena_size, "the planned tensor memory in bytes"));
    size_t block_size;
    if (!p2l_add_size(arena_size, TENSOR_ALIGNMENT, &block_size) || !(g->arena_block = p2l_alloc(block_size)))
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory allocating %zu bytes of tensor memory", arena_size);
    uint8_t *base = p2l_align_pointer(g->arena_block, TENSOR_ALIGNMENT);
    g->arena_size = arena_size;
    for (int t = 0; t < sg->tensor_count; t++) {
        if (variable_data[owner[t]]) g->tensors[t].data = variable_data[owner[t]];
        else if (group_data && group_data[owner[t]]) g->tensors[t].data = group_data[owner[t]];
        else if (items[owner[t]].first >= 0) g->tensors[t].data = base + items[owner[t]].offset;
    }
    return P2L_OK;
}

p2l_status p2l_graph_plan_memory(p2l_graph *g) {
    const p2l_tfl_subgraph *sg = g->sg;
    p2l_plan_item *items = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *items + 1);
    int *owner = p2l_alloc((size_t)sg->tensor_count * sizeof *owner + 1);
    void **group_data = g->bindings ? p2l_alloc((size_t)sg->tensor_count * sizeof *group_data + 1) : NULL;
    void **variable_data = p2l_alloc_zero((size_t)sg->tensor_count * sizeof *variable_data + 1);
    g->binding_stale = false;
    p2l_status s = items && owner && variable_data && (group_data || !g->bindings)
                       ? lifetimes(g, items, owner, group_data)
                       : p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning memory");
    if (!s) s = p2l_plan_variable_aliases(g, items, owner, group_data, variable_data);
    if (!s) {
        s = place_tensors(g, items, owner, group_data, variable_data);
        if (s) s = p2l_fail_context(s, "subgraph %d", g->index);
    }
    p2l_release(items);
    p2l_release(owner);
    p2l_release(group_data);
    p2l_release(variable_data);
    return s;
}
