/* Lifetime-based memory planner: greedy by size, best fit.
 *
 * Tensors are placed largest first; each goes into the smallest gap, between tensors already placed
 * whose lifetimes overlap its own, that fits it (or after the highest one). Tensors whose lifetimes
 * do not overlap share memory. O(n^2) in the number of tensors, which is fine for graphs of a few
 * thousand ops and runs only at prepare time. */
#include <stdlib.h>

#include "runtime/runtime.h"

static int by_size_desc(const void *a, const void *b) {
    const p2l_plan_item *x = *(p2l_plan_item *const *)a, *y = *(p2l_plan_item *const *)b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_offset(const void *a, const void *b) {
    const p2l_plan_item *x = *(p2l_plan_item *const *)a, *y = *(p2l_plan_item *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

p2l_status p2l_plan_memory(p2l_plan_item *items, size_t count, size_t alignment, size_t *arena_size) {
    *arena_size = 0;
    if (count == 0) return P2L_OK;
    p2l_plan_item **order = p2l_alloc(count * sizeof *order);
    p2l_plan_item **live = p2l_alloc(count * sizeof *live);
    if (!order || !live) {
        p2l_release(order);
        p2l_release(live);
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "out of memory planning %zu tensors", count);
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        items[i].offset = 0;
        if (items[i].size && items[i].first >= 0) order[n++] = &items[i];
    }
    qsort(order, n, sizeof *order, by_size_desc);
    p2l_status status = P2L_OK;
    for (size_t i = 0; i < n && status == P2L_OK; i++) {
        p2l_plan_item *t = order[i];
        size_t size = t->size;
        if (!p2l_add_size(size, alignment - 1, &size)) {
            status = p2l_fail(P2L_ERROR_LIMIT, "a tensor of %zu bytes is too large", t->size);
            break;
        }
        size &= ~(alignment - 1);
        /* Already placed tensors alive at the same time, by offset. */
        size_t m = 0;
        for (size_t j = 0; j < i; j++)
            if (order[j]->first <= t->last && t->first <= order[j]->last) live[m++] = order[j];
        qsort(live, m, sizeof *live, by_offset);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (size_t j = 0; j < m; j++) {
            if (live[j]->offset >= cursor) {
                size_t gap = live[j]->offset - cursor;
                if (gap >= size && gap < best_gap) best = cursor, best_gap = gap;
            }
            /* Placed tensors were checked to fit with their size rounded up, so this cannot wrap. */
            size_t end = (live[j]->offset + live[j]->size + alignment - 1) & ~(alignment - 1);
            if (end > cursor) cursor = end;
        }
        t->offset = best != SIZE_MAX ? best : cursor;
        size_t end;
        if (!p2l_add_size(t->offset, size, &end)) {
            status = p2l_fail(P2L_ERROR_LIMIT, "tensor memory exceeds the address space");
            break;
        }
        if (end > *arena_size) *arena_size = end;
    }
    p2l_release(order);
    p2l_release(live);
    return status;
}
