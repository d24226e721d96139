/* The memory planner (src/runtime/planner.c): plans are valid (tensors alive at the same step never
 * share bytes), equal to plain greedy-by-size best fit on graph-like lifetimes (the arena must not grow
 * when the planner gets faster), and a graph whose tensors all overlap plans in about n log n. */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "runtime/runtime.h"

enum { ALIGN = 64 };

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32) % n;
}

static size_t round_up(size_t size) { return (size + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

/* The reference: for each tensor, largest first (ties: earlier first step, then lower index), every
 * placed tensor with an overlapping lifetime, by offset; the smallest gap that fits, else above them. */
static size_t reference_plan(const p2l_plan_item *items, size_t n, size_t *offsets) {
    size_t *order = malloc(n * sizeof *order), *live = malloc(n * sizeof *live), arena = 0, placed = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].size && items[i].first >= 0) order[placed++] = i;
    for (size_t i = 1; i < placed; i++) /* insertion sort: the tests' sizes are small */
        for (size_t j = i; j > 0; j--) {
            const p2l_plan_item *a = &items[order[j - 1]], *b = &items[order[j]];
            const bool swap = a->size < b->size || (a->size == b->size && a->first > b->first);
            if (!swap) break;
            const size_t t = order[j - 1];
            order[j - 1] = order[j], order[j] = t;
        }
    for (size_t i = 0; i < n; i++) offsets[i] = 0;
    for (size_t i = 0; i < placed; i++) {
        const p2l_plan_item *t = &items[order[i]];
        size_t m = 0;
        for (size_t j = 0; j < i; j++) {
            const p2l_plan_item *o = &items[order[j]];
            if (o->first <= t->last && t->first <= o->last) live[m++] = order[j];
        }
        for (size_t a = 1; a < m; a++)
            for (size_t b = a; b > 0 && offsets[live[b - 1]] > offsets[live[b]]; b--) {
                const size_t x = live[b - 1];
                live[b - 1] = live[b], live[b] = x;
            }
        const size_t size = round_up(t->size);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
        for (size_t j = 0; j < m; j++) {
            const size_t at = offsets[live[j]];
            if (at >= cursor && at - cursor >= size && at - cursor < best_gap) best = cursor, best_gap = at - cursor;
            if (at + round_up(items[live[j]].size) > cursor) cursor = at + round_up(items[live[j]].size);
        }
        offsets[order[i]] = best != SIZE_MAX ? best : cursor;
        if (offsets[order[i]] + size > arena) arena = offsets[order[i]] + size;
    }
    free(order);
    free(live);
    return arena;
}

/* No two tensors alive at one step share a byte; all lie in the arena, aligned. */
static bool plan_valid(const p2l_plan_item *items, size_t n, size_t arena) {
    for (size_t i = 0; i < n; i++) {
        const p2l_plan_item *a = &items[i];
        if (!a->size || a->first < 0) continue;
        if (a->offset % ALIGN || a->offset + a->size > arena) return false;
        for (size_t j = i + 1; j < n; j++) {
            const p2l_plan_item *b = &items[j];
            if (!b->size || b->first < 0 || a->first > b->last || b->first > a->last) continue;
            if (a->offset < b->offset + b->size && b->offset < a->offset + a->size) return false;
        }
    }
    return true;
}

/* Lifetimes like a graph's: each op writes a tensor read by the next few ops; some tensors live from
 * the start (inputs) or to the end (outputs); sizes repeat (many tensors of one shape). */
static void graph_like(p2l_plan_item *items, size_t n, int steps) {
    static const size_t sizes[] = {64, 200, 4096, 4096, 12288, 100000, 100000, 3, 65536};
    for (size_t i = 0; i < n; i++) {
        p2l_plan_item *t = &items[i];
        t->size = rnd(10) == 0 ? rnd(50000) : sizes[rnd(sizeof sizes / sizeof *sizes)];
        t->first = (int)rnd((uint32_t)steps);
        t->last = t->first + (int)rnd(rnd(8) == 0 ? (uint32_t)steps : 6u);
        if (t->last > steps) t->last = steps;
        if (rnd(20) == 0) t->first = 0;
        if (rnd(20) == 0) t->last = steps;
        if (rnd(30) == 0) t->size = 0;    /* no memory */
        if (rnd(30) == 0) t->first = -1; /* not planned */
        t->offset = 12345;
    }
}

static void test_same_plan_as_greedy_by_size(void) {
    for (int round = 0; round < 200; round++) {
        const size_t n = 1 + rnd(round < 150 ? 60 : 600);
        p2l_plan_item *items = calloc(n, sizeof *items);
        size_t *expected = malloc(n * sizeof *expected), arena = 0;
        graph_like(items, n, 1 + (int)rnd((uint32_t)n));
        const size_t expected_arena = reference_plan(items, n, expected);
        CHECK_EQ_INT(p2l_plan_memory(items, n, ALIGN, &arena), P2L_OK);
        CHECK_EQ_INT(arena, expected_arena);
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) differ += items[i].size && items[i].first >= 0 && items[i].offset != expected[i];
        CHECK_EQ_INT(differ, 0);
        CHECK(plan_valid(items, n, arena));
        free(items);
        free(expected);
    }
}

/* Thousands of tensors alive at once (plus short-lived ones): greedy placement would be quadratic,
 * the planner falls back to its sweep; the plan must stay valid and not exceed the sum of sizes. */
static void test_overlapping_graph_valid(void) {
    const size_t n = 6000;
    p2l_plan_item *items = calloc(n, sizeof *items);
    graph_like(items, n, 3000);
    size_t total = 0, arena = 0;
    for (size_t i = 0; i < n; i += 2) items[i].last = 3000; /* half of them outputs */
    for (size_t i = 0; i < n; i++)
        if (items[i].size && items[i].first >= 0) total += round_up(items[i].size);
    CHECK_EQ_INT(p2l_plan_memory(items, n, ALIGN, &arena), P2L_OK);
    CHECK(plan_valid(items, n, arena));
    CHECK(arena <= total);
    free(items);
}

/* A million tensors all alive to the end (a file with a million subgraph outputs): the old planner
 * compared every pair (hours); now seconds even in a sanitizer build. Each tensor overlaps all the
 * others, so a valid plan gives each its own bytes: sorted by offset, none reaches the next. */
static int by_offset(const void *a, const void *b) {
    const p2l_plan_item *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void test_million_overlapping_tensors_plan_fast(void) {
    const size_t n = 1000000;
    p2l_plan_item *items = calloc(n, sizeof *items);
    size_t total = 0, arena = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].size = 1 + rnd(300);
        items[i].first = (int)(i / 4);
        items[i].last = (int)(n / 4);
        total += round_up(items[i].size);
    }
    const clock_t start = clock();
    CHECK_EQ_INT(p2l_plan_memory(items, n, ALIGN, &arena), P2L_OK);
    const double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    fprintf(stderr, "  %zu overlapping tensors planned in %.2f s\n", n, seconds);
    CHECK(seconds < 30);
    CHECK_EQ_INT(arena, total);
    qsort(items, n, sizeof *items, by_offset);
    size_t overlapping = 0;
    for (size_t i = 0; i + 1 < n; i++) overlapping += items[i].offset + items[i].size > items[i + 1].offset;
    CHECK_EQ_INT(overlapping, 0);
    free(items);
}

/* Sizes near the address space: a clear P2L_ERROR_LIMIT, never a wrapped offset. */
static void test_huge_sizes_are_a_limit_error(void) {
    p2l_plan_item items[2] = {{.size = SIZE_MAX - 10, .first = 0, .last = 1}, {.size = 8, .first = 0, .last = 0}};
    size_t arena = 0;
    CHECK_EQ_INT(p2l_plan_memory(items, 2, ALIGN, &arena), P2L_ERROR_LIMIT);
    items[0].size = items[1].size = (SIZE_MAX >> 1) + 64; /* each fits, both alive at once do not */
    items[1].last = 1;
    CHECK_EQ_INT(p2l_plan_memory(items, 2, ALIGN, &arena), P2L_ERROR_LIMIT);
    items[1].first = items[1].last = 2; /* one after the other: they share memory */
    CHECK_EQ_INT(p2l_plan_memory(items, 2, ALIGN, &arena), P2L_OK);
    CHECK(items[0].offset == 0 && items[1].offset == 0);
}

int main(void) {
    RUN(test_same_plan_as_greedy_by_size);
    RUN(test_overlapping_graph_valid);
    RUN(test_million_overlapping_tensors_plan_fast);
    RUN(test_huge_sizes_are_a_limit_error);
    return check_summary();
}
