/* Tests of the flatbuffer builder (src/tflite/flatbuf.c): round trips through a small independent
 * reader (fb_read.h), alignment, vtable sharing, growth, determinism, misuse, and a real TFLite model.
 *
 *   test_flatbuf [model.tflite]   also writes the test's TFLite model to that path (or to
 *                                 $P2L_FLATBUF_TEST_MODEL): out = (a + b) + bias, float32 [1, 4],
 *                                 for a check with the official runtime, e.g.
 *     python -c "from ai_edge_litert.interpreter import Interpreter; import numpy as np;
 *       it = Interpreter(model_path='model.tflite'); r = it.get_signature_runner();
 *       a = np.ones((1, 4), np.float32); print(r(a=a, b=a)['out'])"      # [[12. 22. 32. 42.]] */
#include <stdlib.h>

#include "base/mem.h"
#include "check.h"
#include "fb_read.h"
#include "ir/graph.h"
#include "tflite/flatbuf.h"
#include "tflite/writer.h"

static const char TFL3[4] = {'T', 'F', 'L', '3'};

/* Finishes fb with `root` and opens a reader on the result (the caller releases *block). */
static fb_reader finish_and_open(p2l_fb *fb, p2l_fb_ref root, void **block, size_t *size) {
    p2l_status s = p2l_fb_finish(fb, root, TFL3, block, size);
    CHECK_EQ_INT(s, P2L_OK);
    if (s != P2L_OK) fprintf(stderr, "  finish: %s\n", p2l_last_error());
    return fb_open(*block, *size);
}

static uint32_t rng_state = 12345;
static uint32_t rng(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 8)) & 0xFF);
}

static bool check_pattern(const uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)((i * 31 + seed * 7 + (i >> 8)) & 0xFF)) return false;
    return true;
}

/* ------------------------------------------------------------ scalars */

static void test_scalars_every_width(void) {
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_table_start(fb);
    /* Mixed widths and ids, in no particular order. */
    p2l_fb_add_i8(fb, 5, -7);
    p2l_fb_add_u64(fb, 1, UINT64_MAX - 1);
    p2l_fb_add_u8(fb, 0, 200);
    p2l_fb_add_f32(fb, 12, -1.5f);
    p2l_fb_add_bool(fb, 9, true);
    p2l_fb_add_i32(fb, 2, INT32_MIN);
    p2l_fb_add_i64(fb, 7, INT64_MIN + 3);
    p2l_fb_add_u32(fb, 3, 0xDEADBEEFu);
    p2l_fb_add_bool(fb, 14, false);   /* equal to a typical default: still written */
    p2l_fb_add_i32(fb, 20, 0);        /* likewise */
    p2l_fb_add_i64(fb, 11, 0x0102030405060708LL);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    CHECK(root != 0);

    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t t = fb_root(&r);
    CHECK_EQ_INT(fb_get_u8(&r, t, 0, 0), 200);
    CHECK(fb_get_u64(&r, t, 1, 0) == UINT64_MAX - 1);
    CHECK_EQ_INT(fb_get_i32(&r, t, 2, 0), INT32_MIN);
    CHECK_EQ_INT(fb_get_u32(&r, t, 3, 0), 0xDEADBEEFu);
    CHECK_EQ_INT(fb_get_i8(&r, t, 5, 0), -7);
    CHECK(fb_get_i64(&r, t, 7, 0) == INT64_MIN + 3);
    CHECK_EQ_INT(fb_get_u8(&r, t, 9, 0), 1);
    CHECK(fb_get_i64(&r, t, 11, 0) == 0x0102030405060708LL);
    CHECK(fb_get_f32(&r, t, 12, 0.0f) == -1.5f);
    CHECK(fb_has(&r, t, 14));
    CHECK_EQ_INT(fb_get_u8(&r, t, 14, 1), 0);
    CHECK(fb_has(&r, t, 20));
    CHECK_EQ_INT(fb_get_i32(&r, t, 20, 99), 0);
    /* Missing fields: inside the vtable (offset 0) and past its end. */
    int missing[] = {4, 6, 8, 10, 13, 15, 19, 21, 100};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        CHECK(!fb_has(&r, t, missing[i]));
        CHECK_EQ_INT(fb_get_i32(&r, t, missing[i], 42), 42);
    }
    /* Natural alignment of every field, relative to the buffer start. */
    CHECK_EQ_INT(fb_field(&r, t, 1, 8) % 8, 0);
    CHECK_EQ_INT(fb_field(&r, t, 7, 8) % 8, 0);
    CHECK_EQ_INT(fb_field(&r, t, 11, 8) % 8, 0);
    CHECK_EQ_INT(fb_field(&r, t, 2, 4) % 4, 0);
    CHECK_EQ_INT(fb_field(&r, t, 3, 4) % 4, 0);
    CHECK_EQ_INT(fb_field(&r, t, 12, 4) % 4, 0);
    CHECK_EQ_INT(t % 4, 0);
    CHECK_EQ_INT(size % 8, 0); /* padded to the largest alignment used */
    /* The vtable lists ids 0..20. */
    size_t vt = fb_vtable(&r, t);
    CHECK_EQ_INT(fb_u16(&r, vt), 4 + 2 * 21);
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

static void test_field_order_does_not_matter(void) {
    /* The same fields added in two orders give the same bytes. */
    void *blocks[2];
    size_t sizes[2];
    for (int order = 0; order < 2; order++) {
        p2l_fb *fb = p2l_fb_create(64);
        p2l_fb_table_start(fb);
        if (order == 0) {
            p2l_fb_add_i8(fb, 0, 1);
            p2l_fb_add_i64(fb, 1, 2);
            p2l_fb_add_i32(fb, 2, 3);
        } else {
            p2l_fb_add_i32(fb, 2, 3);
            p2l_fb_add_i8(fb, 0, 1);
            p2l_fb_add_i64(fb, 1, 2);
        }
        p2l_fb_ref root = p2l_fb_table_end(fb);
        CHECK_EQ_INT(p2l_fb_finish(fb, root, TFL3, &blocks[order], &sizes[order]), P2L_OK);
        p2l_fb_destroy(fb);
    }
    CHECK(sizes[0] == sizes[1] && memcmp(blocks[0], blocks[1], sizes[0]) == 0);
    p2l_release(blocks[0]);
    p2l_release(blocks[1]);
}

static void test_empty_table(void) {
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_table_start(fb);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t t = fb_root(&r);
    size_t vt = fb_vtable(&r, t);
    CHECK_EQ_INT(fb_u16(&r, vt), 4);     /* no field entries */
    CHECK_EQ_INT(fb_u16(&r, vt + 2), 4); /* just the soffset */
    CHECK(!fb_has(&r, t, 0));
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* ------------------------------------------------------------ strings and vectors */

static void test_strings(void) {
    char long_text[1001];
    for (int i = 0; i < 1000; i++) long_text[i] = (char)('a' + i % 26);
    long_text[1000] = 0;
    const char *texts[] = {"", "a", "abc", "abcd", "hello, flatbuffers", long_text};
    enum { N = sizeof texts / sizeof texts[0] };

    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_ref refs[N];
    for (int i = 0; i < N; i++) refs[i] = p2l_fb_string(fb, texts[i]);
    p2l_fb_ref list = p2l_fb_ref_vector(fb, refs, N);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, refs[4]);
    p2l_fb_add_ref(fb, 1, list);
    p2l_fb_add_ref(fb, 2, 0); /* ref 0 = none: skipped */
    p2l_fb_ref root = p2l_fb_table_end(fb);

    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t t = fb_root(&r);
    const char *s = fb_get_string(&r, t, 0);
    CHECK(s && strcmp(s, "hello, flatbuffers") == 0);
    CHECK(!fb_has(&r, t, 2));
    size_t count, data = fb_get_vector(&r, t, 1, 4, &count);
    CHECK_EQ_INT(count, N);
    for (size_t i = 0; i < count && i < N; i++) {
        size_t pos = fb_vector_ref(&r, data, count, i), len = 0;
        CHECK_EQ_INT(pos % 4, 0);
        const char *text = fb_string_at(&r, pos, &len);
        CHECK(text && len == strlen(texts[i]) && memcmp(text, texts[i], len + 1) == 0);
    }
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* Vector data with 16-byte alignment, whatever was built before or after it. */
static void test_vector_alignment(void) {
    for (size_t before = 0; before < 70; before++) {
        for (int aligned_first = 0; aligned_first < 2; aligned_first++) {
            p2l_fb *fb = p2l_fb_create(before % 3 == 0 ? 0 : 40);
            uint8_t bytes[80];
            fill_pattern(bytes, sizeof bytes, (uint32_t)before);
            float weights[9];
            size_t n_weights = 1 + before % 9;
            for (size_t i = 0; i < n_weights; i++) weights[i] = (float)i * 0.5f + (float)before;
            int64_t longs[3] = {-1, (int64_t)before, INT64_MAX};

            p2l_fb_ref w = 0, b, l, name;
            if (aligned_first) w = p2l_fb_vector(fb, weights, n_weights, sizeof(float), 16);
            b = p2l_fb_vector(fb, bytes, before, 1, 1);
            name = p2l_fb_string(fb, (const char *)"xyz" + before % 4);
            l = p2l_fb_vector(fb, longs, 3, 8, 8);
            if (!aligned_first) w = p2l_fb_vector(fb, weights, n_weights, sizeof(float), 16);
            p2l_fb_table_start(fb);
            p2l_fb_add_ref(fb, 0, w);
            p2l_fb_add_ref(fb, 1, b);
            p2l_fb_add_ref(fb, 2, l);
            p2l_fb_add_ref(fb, 3, name);
            p2l_fb_add_i8(fb, 4, 1);
            p2l_fb_ref root = p2l_fb_table_end(fb);

            void *block;
            size_t size;
            fb_reader r = finish_and_open(fb, root, &block, &size);
            size_t t = fb_root(&r), count;
            size_t wd = fb_get_vector(&r, t, 0, 4, &count);
            CHECK_EQ_INT(count, n_weights);
            CHECK_EQ_INT(wd % 16, 0);
            CHECK_EQ_INT(((uintptr_t)block + wd) % 16, 0); /* and in memory: the block is 16-aligned */
            CHECK(wd && memcmp(r.buf + wd, weights, n_weights * 4) == 0);
            size_t bd = fb_get_vector(&r, t, 1, 1, &count);
            CHECK_EQ_INT(count, before);
            CHECK(bd && check_pattern(r.buf + bd, before, (uint32_t)before));
            size_t ld = fb_get_vector(&r, t, 2, 8, &count);
            CHECK_EQ_INT(count, 3);
            CHECK_EQ_INT(ld % 8, 0);
            CHECK(ld && memcmp(r.buf + ld, longs, sizeof longs) == 0);
            const char *s = fb_get_string(&r, t, 3);
            CHECK(s && strcmp(s, (const char *)"xyz" + before % 4) == 0);
            CHECK_EQ_INT(size % 16, 0);
            CHECK(r.ok);
            p2l_release(block);
            p2l_fb_destroy(fb);
        }
    }
}

static void test_empty_vectors(void) {
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_ref v = p2l_fb_vector(fb, NULL, 0, 4, 16);
    p2l_fb_ref refs = p2l_fb_ref_vector(fb, NULL, 0);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, v);
    p2l_fb_add_ref(fb, 1, refs);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t t = fb_root(&r), count = 99;
    size_t data = fb_get_vector(&r, t, 0, 4, &count);
    CHECK(data != 0 && count == 0);
    CHECK_EQ_INT(data % 16, 0);
    count = 99;
    CHECK(fb_get_vector(&r, t, 1, 4, &count) != 0 && count == 0);
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* ------------------------------------------------------------ tables in tables */

static void test_vector_of_tables(void) {
    enum { N = 25 };
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_ref items[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "item_%d", i);
        p2l_fb_ref s = p2l_fb_string(fb, name);
        int32_t shape[2] = {i, -i};
        p2l_fb_ref v = p2l_fb_vector(fb, shape, 2, 4, 4);
        p2l_fb_table_start(fb);
        p2l_fb_add_ref(fb, 0, v);
        p2l_fb_add_i8(fb, 1, (int8_t)(i % 3));
        if (i % 2) p2l_fb_add_u32(fb, 2, (uint32_t)i * 1000u); /* some tables lack field 2 */
        p2l_fb_add_ref(fb, 3, s);
        items[i] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref list = p2l_fb_ref_vector(fb, items, N);
    p2l_fb_ref list_reversed_pair = p2l_fb_ref_vector(fb, (p2l_fb_ref[]){items[N - 1], items[0]}, 2);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, list);
    p2l_fb_add_ref(fb, 1, list_reversed_pair);
    p2l_fb_ref root = p2l_fb_table_end(fb);

    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t t = fb_root(&r), count;
    size_t data = fb_get_vector(&r, t, 0, 4, &count);
    CHECK_EQ_INT(count, N);
    for (size_t i = 0; i < count; i++) {
        size_t item = fb_vector_ref(&r, data, count, i), n;
        size_t shape = fb_get_vector(&r, item, 0, 4, &n);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_INT((int32_t)fb_u32(&r, shape), (int)i);
        CHECK_EQ_INT((int32_t)fb_u32(&r, shape + 4), -(int)i);
        CHECK_EQ_INT(fb_get_i8(&r, item, 1, -1), (int)i % 3);
        CHECK_EQ_INT(fb_get_u32(&r, item, 2, 7), i % 2 ? i * 1000 : 7);
        char name[32];
        snprintf(name, sizeof name, "item_%zu", i);
        const char *s = fb_get_string(&r, item, 3);
        CHECK(s && strcmp(s, name) == 0);
    }
    size_t pair = fb_get_vector(&r, t, 1, 4, &count);
    CHECK_EQ_INT(count, 2);
    CHECK(fb_vector_ref(&r, pair, count, 0) == fb_vector_ref(&r, data, N, N - 1));
    CHECK(fb_vector_ref(&r, pair, count, 1) == fb_vector_ref(&r, data, N, 0));
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

static void test_nested_tables(void) {
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_table_start(fb);
    p2l_fb_add_f32(fb, 0, 3.25f);
    p2l_fb_ref inner = p2l_fb_table_end(fb);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 2, inner);
    p2l_fb_add_u64(fb, 0, 77);
    p2l_fb_ref middle = p2l_fb_table_end(fb);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 1, middle);
    p2l_fb_add_ref(fb, 3, inner); /* shared by two parents */
    p2l_fb_ref outer = p2l_fb_table_end(fb);

    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, outer, &block, &size);
    size_t o = fb_root(&r);
    size_t m = fb_get_ref(&r, o, 1);
    CHECK(m != 0);
    CHECK(fb_get_u64(&r, m, 0, 0) == 77);
    size_t i1 = fb_get_ref(&r, m, 2), i2 = fb_get_ref(&r, o, 3);
    CHECK(i1 != 0 && i1 == i2);
    CHECK(fb_get_f32(&r, i1, 0, 0.0f) == 3.25f);
    CHECK(!fb_has(&r, o, 0) && !fb_has(&r, o, 2));
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* ------------------------------------------------------------ vtable sharing */

/* Two tables; with same_shape they have identical vtables. Returns the finished size. */
static size_t build_two_tables(bool same_shape, bool *shared) {
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_ref t[2];
    for (int i = 0; i < 2; i++) {
        p2l_fb_table_start(fb);
        p2l_fb_add_i32(fb, (same_shape || i == 0) ? 0 : 1, 100 + i);
        p2l_fb_add_i8(fb, 2, (int8_t)i);
        t[i] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref list = p2l_fb_ref_vector(fb, t, 2);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, list);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t count, data = fb_get_vector(&r, fb_root(&r), 0, 4, &count);
    size_t a = fb_vector_ref(&r, data, count, 0), b = fb_vector_ref(&r, data, count, 1);
    *shared = fb_vtable(&r, a) == fb_vtable(&r, b);
    CHECK_EQ_INT(fb_get_i32(&r, a, 0, 0), 100);
    CHECK_EQ_INT(fb_get_i32(&r, b, same_shape ? 0 : 1, 0), 101);
    CHECK_EQ_INT(fb_get_i8(&r, b, 2, 0), 1);
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
    return size;
}

static void test_vtable_dedup(void) {
    bool shared_same, shared_different;
    size_t same = build_two_tables(true, &shared_same);
    size_t different = build_two_tables(false, &shared_different);
    CHECK(shared_same);
    CHECK(!shared_different);
    CHECK(same < different);

    /* Many tables of a few shapes: one vtable per shape, so the buffer grows by the tables only. */
    p2l_fb *fb = p2l_fb_create(0);
    enum { N = 300 };
    p2l_fb_ref tables[N];
    for (int i = 0; i < N; i++) {
        p2l_fb_table_start(fb);
        p2l_fb_add_i32(fb, i % 3, i);
        tables[i] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref list = p2l_fb_ref_vector(fb, tables, N);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, list);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    size_t count, data = fb_get_vector(&r, fb_root(&r), 0, 4, &count);
    size_t distinct[N], n_distinct = 0;
    for (size_t i = 0; i < count; i++) {
        size_t t = fb_vector_ref(&r, data, count, i);
        CHECK_EQ_INT(fb_get_i32(&r, t, (int)i % 3, -1), (int)i);
        size_t vt = fb_vtable(&r, t), k = 0;
        while (k < n_distinct && distinct[k] != vt) k++;
        if (k == n_distinct) distinct[n_distinct++] = vt;
    }
    CHECK_EQ_INT(n_distinct, 3);
    /* Each table is 8 bytes (soffset + i32); 3 vtables of at most 10 bytes; root, list, header. */
    CHECK(size <= N * 8 + 3 * 12 + (4 + 4 * N) + 64);
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* ------------------------------------------------------------ growth */

static void test_regrowth_keeps_everything(void) {
    p2l_fb *fb = p2l_fb_create(16); /* far too small: forces many regrowths */
    enum { N = 120 };
    p2l_fb_ref items[N];
    size_t lengths[N];
    uint8_t *scratch = malloc(1 << 20);
    for (int i = 0; i < N; i++) {
        lengths[i] = (size_t)(rng() % (1 << 17)) + (i == 60 ? (1u << 20) - (1u << 17) : 0);
        fill_pattern(scratch, lengths[i], (uint32_t)i);
        p2l_fb_ref data = p2l_fb_vector(fb, scratch, lengths[i], 1, 16);
        p2l_fb_table_start(fb);
        p2l_fb_add_ref(fb, 0, data);
        p2l_fb_add_u64(fb, 2, lengths[i]);
        items[i] = p2l_fb_table_end(fb);
    }
    free(scratch);
    p2l_fb_ref list = p2l_fb_ref_vector(fb, items, N);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 4, list);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    CHECK(size > 4u << 20);
    size_t count, data = fb_get_vector(&r, fb_root(&r), 4, 4, &count);
    CHECK_EQ_INT(count, N);
    for (size_t i = 0; i < count; i++) {
        size_t t = fb_vector_ref(&r, data, count, i), n;
        size_t bytes = fb_get_vector(&r, t, 0, 1, &n);
        CHECK_EQ_INT(n, lengths[i]);
        CHECK_EQ_INT(bytes % 16, 0);
        CHECK(bytes && check_pattern(r.buf + bytes, n, (uint32_t)i));
        CHECK(fb_get_u64(&r, t, 2, 0) == lengths[i]);
    }
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* A writer that knows the size reserves it: the weights are copied once, no doubling. */
static void test_reservation_avoids_regrowth(void) {
    size_t n = 32u << 20;
    uint8_t *weights = malloc(n);
    fill_pattern(weights, n, 9);
    size_t base = p2l_heap_bytes();
    p2l_heap_reset_peak();
    p2l_fb *fb = p2l_fb_create(n + 4096);
    p2l_fb_ref w = p2l_fb_vector(fb, weights, n, 1, 16);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, w);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    CHECK(p2l_heap_peak() - base < n + 8192);
    size_t count, data = fb_get_vector(&r, fb_root(&r), 0, 1, &count);
    CHECK_EQ_INT(count, n);
    CHECK(data && memcmp(r.buf + data, weights, n) == 0);
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
    free(weights);
    CHECK_EQ_INT(p2l_heap_bytes(), base);
}

/* ------------------------------------------------------------ header, determinism, reuse */

static void test_identifier_and_root(void) {
    p2l_fb *fb = p2l_fb_create(0);
    p2l_fb_table_start(fb);
    p2l_fb_add_u32(fb, 0, 3);
    p2l_fb_ref root = p2l_fb_table_end(fb);
    void *block;
    size_t size;
    fb_reader r = finish_and_open(fb, root, &block, &size);
    CHECK(memcmp((const uint8_t *)block + 4, "TFL3", 4) == 0);
    CHECK_EQ_INT(((uintptr_t)block) % 16, 0);
    CHECK_EQ_INT(fb_get_u32(&r, fb_root(&r), 0, 0), 3);
    CHECK(r.ok);
    p2l_release(block);

    /* The builder is empty again and reusable; without an identifier the root follows directly. */
    p2l_fb_table_start(fb);
    p2l_fb_add_u32(fb, 0, 4);
    root = p2l_fb_table_end(fb);
    CHECK_EQ_INT(p2l_fb_finish(fb, root, NULL, &block, &size), P2L_OK);
    r = fb_open(block, size);
    CHECK_EQ_INT(fb_get_u32(&r, fb_root(&r), 0, 0), 4);
    CHECK(r.ok);
    p2l_release(block);
    p2l_fb_destroy(fb);
}

/* The TFLite model of test_tflite_model: out = (a + b) + bias, all float32 [1, 4]. */
enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_DESCRIPTION = 3,
       MODEL_BUFFERS = 4, MODEL_SIGNATURE_DEFS = 7 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3,
       SUBGRAPH_NAME = 4 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3 };
enum { OPERATOR_OPCODE_INDEX = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2, OPERATOR_OPTIONS_TYPE = 3,
       OPERATOR_OPTIONS = 4 };
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_VERSION = 2, OPCODE_BUILTIN = 3 };
enum { BUFFER_DATA = 0 };
enum { SIGNATURE_INPUTS = 0, SIGNATURE_OUTPUTS = 1, SIGNATURE_KEY = 2, SIGNATURE_SUBGRAPH = 4 };
enum { TENSOR_MAP_NAME = 0, TENSOR_MAP_INDEX = 1 };
enum { BUILTIN_ADD = 0, OPTIONS_ADD = 11, TYPE_FLOAT32 = 0 };

static const float BIAS[4] = {10.0f, 20.0f, 30.0f, 40.0f};

static p2l_fb_ref tensor(p2l_fb *fb, const char *name, uint32_t buffer) {
    static const int32_t shape[2] = {1, 4};
    p2l_fb_ref shape_ref = p2l_fb_vector(fb, shape, 2, 4, 4);
    p2l_fb_ref name_ref = p2l_fb_string(fb, name);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, TENSOR_SHAPE, shape_ref);
    p2l_fb_add_i8(fb, TENSOR_TYPE, TYPE_FLOAT32);
    p2l_fb_add_u32(fb, TENSOR_BUFFER, buffer);
    p2l_fb_add_ref(fb, TENSOR_NAME, name_ref);
    return p2l_fb_table_end(fb);
}

static p2l_fb_ref add_operator(p2l_fb *fb, int32_t in0, int32_t in1, int32_t out) {
    int32_t inputs[2] = {in0, in1};
    p2l_fb_ref in_ref = p2l_fb_vector(fb, inputs, 2, 4, 4);
    p2l_fb_ref out_ref = p2l_fb_vector(fb, &out, 1, 4, 4);
    p2l_fb_table_start(fb); /* AddOptions */
    p2l_fb_add_i8(fb, 0, 0);      /* fused_activation_function NONE */
    p2l_fb_add_bool(fb, 1, true); /* pot_scale_int16 (its default) */
    p2l_fb_ref options = p2l_fb_table_end(fb);
    p2l_fb_table_start(fb);
    p2l_fb_add_u32(fb, OPERATOR_OPCODE_INDEX, 0);
    p2l_fb_add_ref(fb, OPERATOR_INPUTS, in_ref);
    p2l_fb_add_ref(fb, OPERATOR_OUTPUTS, out_ref);
    p2l_fb_add_u8(fb, OPERATOR_OPTIONS_TYPE, OPTIONS_ADD);
    p2l_fb_add_ref(fb, OPERATOR_OPTIONS, options);
    return p2l_fb_table_end(fb);
}

static p2l_fb_ref tensor_map(p2l_fb *fb, const char *name, uint32_t index) {
    p2l_fb_ref name_ref = p2l_fb_string(fb, name);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, TENSOR_MAP_NAME, name_ref);
    p2l_fb_add_u32(fb, TENSOR_MAP_INDEX, index);
    return p2l_fb_table_end(fb);
}

static p2l_status build_add_model(size_t initial_capacity, void **out, size_t *size) {
    p2l_fb *fb = p2l_fb_create(initial_capacity);
    if (!fb) return P2L_ERROR_OUT_OF_MEMORY;
    /* Buffers: [0] the empty sentinel (for tensors without data), [1] the bias, 16-byte aligned. */
    p2l_fb_ref buffers[2];
    p2l_fb_table_start(fb);
    buffers[0] = p2l_fb_table_end(fb);
    p2l_fb_ref bias_data = p2l_fb_vector(fb, BIAS, sizeof BIAS, 1, 16);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, BUFFER_DATA, bias_data);
    buffers[1] = p2l_fb_table_end(fb);
    p2l_fb_ref buffers_ref = p2l_fb_ref_vector(fb, buffers, 2);

    /* Tensors: 0 a, 1 b, 2 out, 3 bias (constant), 4 a + b. */
    /* (One statement each: the order of evaluation inside an initializer list is unspecified.) */
    static const char *const tensor_names[5] = {"a", "b", "out", "bias", "a_plus_b"};
    p2l_fb_ref tensors[5];
    for (uint32_t i = 0; i < 5; i++) tensors[i] = tensor(fb, tensor_names[i], i == 3 ? 1 : 0);
    p2l_fb_ref tensors_ref = p2l_fb_ref_vector(fb, tensors, 5);
    p2l_fb_ref ops[2];
    ops[0] = add_operator(fb, 0, 1, 4);
    ops[1] = add_operator(fb, 4, 3, 2);
    p2l_fb_ref ops_ref = p2l_fb_ref_vector(fb, ops, 2);
    int32_t inputs[2] = {0, 1}, outputs[1] = {2};
    p2l_fb_ref inputs_ref = p2l_fb_vector(fb, inputs, 2, 4, 4);
    p2l_fb_ref outputs_ref = p2l_fb_vector(fb, outputs, 1, 4, 4);
    p2l_fb_ref subgraph_name = p2l_fb_string(fb, "main");
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, SUBGRAPH_TENSORS, tensors_ref);
    p2l_fb_add_ref(fb, SUBGRAPH_INPUTS, inputs_ref);
    p2l_fb_add_ref(fb, SUBGRAPH_OUTPUTS, outputs_ref);
    p2l_fb_add_ref(fb, SUBGRAPH_OPERATORS, ops_ref);
    p2l_fb_add_ref(fb, SUBGRAPH_NAME, subgraph_name);
    p2l_fb_ref subgraph = p2l_fb_table_end(fb);
    p2l_fb_ref subgraphs_ref = p2l_fb_ref_vector(fb, &subgraph, 1);

    p2l_fb_table_start(fb);
    p2l_fb_add_i8(fb, OPCODE_DEPRECATED_BUILTIN, BUILTIN_ADD);
    p2l_fb_add_i32(fb, OPCODE_VERSION, 1);
    p2l_fb_add_i32(fb, OPCODE_BUILTIN, BUILTIN_ADD);
    p2l_fb_ref opcode = p2l_fb_table_end(fb);
    p2l_fb_ref opcodes_ref = p2l_fb_ref_vector(fb, &opcode, 1);

    p2l_fb_ref sig_inputs[2];
    sig_inputs[0] = tensor_map(fb, "a", 0);
    sig_inputs[1] = tensor_map(fb, "b", 1);
    p2l_fb_ref sig_inputs_ref = p2l_fb_ref_vector(fb, sig_inputs, 2);
    p2l_fb_ref sig_output = tensor_map(fb, "out", 2);
    p2l_fb_ref sig_outputs_ref = p2l_fb_ref_vector(fb, &sig_output, 1);
    p2l_fb_ref sig_key = p2l_fb_string(fb, "serving_default");
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, SIGNATURE_INPUTS, sig_inputs_ref);
    p2l_fb_add_ref(fb, SIGNATURE_OUTPUTS, sig_outputs_ref);
    p2l_fb_add_ref(fb, SIGNATURE_KEY, sig_key);
    p2l_fb_add_u32(fb, SIGNATURE_SUBGRAPH, 0);
    p2l_fb_ref signature = p2l_fb_table_end(fb);
    p2l_fb_ref signatures_ref = p2l_fb_ref_vector(fb, &signature, 1);

    p2l_fb_ref description = p2l_fb_string(fb, "pt2lite flatbuf test");
    p2l_fb_table_start(fb);
    p2l_fb_add_u32(fb, MODEL_VERSION, 3);
    p2l_fb_add_ref(fb, MODEL_OPERATOR_CODES, opcodes_ref);
    p2l_fb_add_ref(fb, MODEL_SUBGRAPHS, subgraphs_ref);
    p2l_fb_add_ref(fb, MODEL_DESCRIPTION, description);
    p2l_fb_add_ref(fb, MODEL_BUFFERS, buffers_ref);
    p2l_fb_add_ref(fb, MODEL_SIGNATURE_DEFS, signatures_ref);
    p2l_fb_ref model = p2l_fb_table_end(fb);
    p2l_status s = p2l_fb_finish(fb, model, TFL3, out, size);
    p2l_fb_destroy(fb);
    return s;
}

static void test_determinism(void) {
    void *a, *b, *c;
    size_t na, nb, nc;
    CHECK_EQ_INT(build_add_model(0, &a, &na), P2L_OK);
    CHECK_EQ_INT(build_add_model(0, &b, &nb), P2L_OK);
    CHECK_EQ_INT(build_add_model(1 << 16, &c, &nc), P2L_OK); /* another growth history, same bytes */
    CHECK(na == nb && memcmp(a, b, na) == 0);
    CHECK(na == nc && memcmp(a, c, na) == 0);
    p2l_release(a);
    p2l_release(b);
    p2l_release(c);
}

/* ------------------------------------------------------------ misuse and limits */

/* Finishing after misuse fails with `status` and a message that mentions `needle`; then the builder
 * is empty and works again. */
static void expect_failure(p2l_fb *fb, p2l_fb_ref root, p2l_status status, const char *needle) {
    void *block = (void *)1;
    size_t size = 1;
    CHECK_EQ_INT(p2l_fb_finish(fb, root, TFL3, &block, &size), status);
    CHECK(block == NULL && size == 0);
    CHECK_ERROR_MENTIONS(needle);
    CHECK_ERROR_MENTIONS("flatbuffer");
    p2l_fb_table_start(fb);
    p2l_fb_add_i32(fb, 0, 5);
    p2l_fb_ref ok_root = p2l_fb_table_end(fb);
    CHECK_EQ_INT(p2l_fb_finish(fb, ok_root, TFL3, &block, &size), P2L_OK);
    fb_reader r = fb_open(block, size);
    CHECK_EQ_INT(fb_get_i32(&r, fb_root(&r), 0, 0), 5);
    CHECK(r.ok);
    p2l_release(block);
}

static void test_misuse_is_sticky(void) {
    size_t base = p2l_heap_bytes();
    p2l_fb *fb = p2l_fb_create(0);

    p2l_fb_table_start(fb);
    p2l_fb_table_start(fb); /* nested */
    p2l_fb_add_i32(fb, 0, 1);
    CHECK_EQ_INT(p2l_fb_table_end(fb), 0); /* no-op after the error */
    CHECK_EQ_INT(p2l_fb_string(fb, "x"), 0);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "nested");

    p2l_fb_table_start(fb);
    CHECK_EQ_INT(p2l_fb_vector(fb, "abc", 3, 1, 1), 0); /* a vector inside an open table */
    p2l_fb_table_end(fb);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "inside an open table");

    p2l_fb_add_i32(fb, 0, 1);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "outside a table");

    p2l_fb_table_end(fb);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "without p2l_fb_table_start");

    p2l_fb_table_start(fb);
    p2l_fb_add_i32(fb, 3, 1);
    p2l_fb_add_u32(fb, 3, 2);
    p2l_fb_table_end(fb);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "twice");

    p2l_fb_table_start(fb);
    p2l_fb_add_i32(fb, -1, 1);
    p2l_fb_table_end(fb);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "out of range");

    CHECK_EQ_INT(p2l_fb_vector(fb, "abcd", 1, 4, 3), 0); /* alignment not a power of two */
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "alignment");

    p2l_fb_ref s = p2l_fb_string(fb, "s");
    CHECK_EQ_INT(p2l_fb_ref_vector(fb, (p2l_fb_ref[]){s, 0}, 2), 0);
    expect_failure(fb, s, P2L_ERROR_INTERNAL, "element 1");

    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, 12345); /* nothing that large was built */
    p2l_fb_table_end(fb);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "not a built object");

    p2l_fb_table_start(fb);
    expect_failure(fb, 1, P2L_ERROR_INTERNAL, "still open");

    expect_failure(fb, 0, P2L_ERROR_INTERNAL, "root");

    /* Too large for the format: refused before any byte of `data` is read. */
    char tiny[4] = {0};
    CHECK_EQ_INT(p2l_fb_vector(fb, tiny, (size_t)3 << 30, 1, 16), 0);
    expect_failure(fb, 1, P2L_ERROR_LIMIT, "2 GiB");
    CHECK_EQ_INT(p2l_fb_vector(fb, tiny, SIZE_MAX / 2, 8, 16), 0); /* count x size overflows */
    expect_failure(fb, 1, P2L_ERROR_LIMIT, "2 GiB");

    p2l_fb_destroy(fb);
    CHECK_EQ_INT(p2l_heap_bytes(), base); /* nothing leaked, failures included */

    void *block;
    size_t size;
    CHECK_EQ_INT(p2l_fb_finish(NULL, 1, TFL3, &block, &size), P2L_ERROR_INVALID_ARGUMENT);
    p2l_fb_destroy(NULL);
}

/* ------------------------------------------------------------ a real TFLite model */

static const char *model_path;

static void test_tflite_model(void) {
    void *block;
    size_t size;
    CHECK_EQ_INT(build_add_model(0, &block, &size), P2L_OK);
    fb_reader r = fb_open(block, size);
    CHECK(memcmp(r.buf + 4, "TFL3", 4) == 0);
    size_t model = fb_root(&r), count;
    CHECK_EQ_INT(fb_get_u32(&r, model, MODEL_VERSION, 0), 3);
    size_t buffers = fb_get_vector(&r, model, MODEL_BUFFERS, 4, &count);
    CHECK_EQ_INT(count, 2);
    size_t sentinel = fb_vector_ref(&r, buffers, count, 0);
    CHECK(!fb_has(&r, sentinel, BUFFER_DATA));
    size_t bias = fb_vector_ref(&r, buffers, count, 1), n;
    size_t bias_data = fb_get_vector(&r, bias, BUFFER_DATA, 1, &n);
    CHECK_EQ_INT(n, sizeof BIAS);
    CHECK_EQ_INT(bias_data % 16, 0);
    CHECK(bias_data && memcmp(r.buf + bias_data, BIAS, sizeof BIAS) == 0);
    size_t subgraphs = fb_get_vector(&r, model, MODEL_SUBGRAPHS, 4, &count);
    CHECK_EQ_INT(count, 1);
    size_t subgraph = fb_vector_ref(&r, subgraphs, count, 0);
    size_t tensors = fb_get_vector(&r, subgraph, SUBGRAPH_TENSORS, 4, &count);
    CHECK_EQ_INT(count, 5);
    const char *name = fb_get_string(&r, fb_vector_ref(&r, tensors, count, 4), TENSOR_NAME);
    CHECK(name && strcmp(name, "a_plus_b") == 0);
    size_t ops = fb_get_vector(&r, subgraph, SUBGRAPH_OPERATORS, 4, &count);
    CHECK_EQ_INT(count, 2);
    size_t op = fb_vector_ref(&r, ops, count, 1);
    CHECK_EQ_INT(fb_get_u8(&r, op, OPERATOR_OPTIONS_TYPE, 0), OPTIONS_ADD);
    size_t op_inputs = fb_get_vector(&r, op, OPERATOR_INPUTS, 4, &count);
    CHECK(count == 2 && fb_u32(&r, op_inputs) == 4 && fb_u32(&r, op_inputs + 4) == 3);
    CHECK(r.ok);

    if (model_path) {
        FILE *f = fopen(model_path, "wb");
        CHECK(f != NULL);
        if (f) {
            CHECK_EQ_INT(fwrite(block, 1, size, f), size);
            CHECK_EQ_INT(fclose(f), 0);
            fprintf(stderr, "wrote %s (%zu bytes)\n", model_path, size);
        }
    }
    p2l_release(block);
}


/* A graph of `count` inputs, each an output too (no ops: the writer does not care). */
static void build_wide_graph(p2l_model_ir *m, int count) {
    p2l_ir_graph *g;
    p2l_model_ir_init(m);
    CHECK_EQ_INT(p2l_model_ir_add_graph(m, "serving_default", &g), P2L_OK);
    int64_t dims[1] = {2};
    for (int i = 0; i < count; i++) {
        int t = p2l_add_tensor(g, p2l_arena_printf(&m->arena, "x%d", i), P2L_FLOAT32, 1, dims);
        CHECK(t >= 0);
        CHECK_EQ_INT(P2L_VEC_PUSH(&g->inputs, t), P2L_OK);
        CHECK_EQ_INT(P2L_VEC_PUSH(&g->input_names, p2l_arena_printf(&m->arena, "args_%d", i)), P2L_OK);
        CHECK_EQ_INT(P2L_VEC_PUSH(&g->outputs, t), P2L_OK);
        CHECK_EQ_INT(P2L_VEC_PUSH(&g->output_names, p2l_arena_printf(&m->arena, "output_%d", i)), P2L_OK);
    }
}

/* The signature lists every input and output (it stopped at 1024 without a word). */
static void test_writer_signature_over_1024(void) {
    enum { COUNT = 1500 };
    p2l_model_ir m;
    build_wide_graph(&m, COUNT);
    void *out = NULL;
    size_t size = 0;
    CHECK_EQ_INT(p2l_tflite_write(&m, true, &out, &size), P2L_OK);
    fb_reader r = fb_open(out, size);
    size_t count, ins_count = 0, outs_count = 0;
    size_t signatures = fb_get_vector(&r, fb_root(&r), MODEL_SIGNATURE_DEFS, 4, &count);
    CHECK_EQ_INT(count, 1);
    if (count == 1) {
        size_t signature = fb_vector_ref(&r, signatures, count, 0);
        fb_get_vector(&r, signature, SIGNATURE_INPUTS, 4, &ins_count);
        fb_get_vector(&r, signature, SIGNATURE_OUTPUTS, 4, &outs_count);
    }
    CHECK_EQ_INT(ins_count, COUNT);
    CHECK_EQ_INT(outs_count, COUNT);
    p2l_free(out);
    p2l_model_ir_free(&m);
}

/* Dims beyond int32 never reach the file truncated: the IR refuses them, and the writer fails on
 * one that got in anyway. */
static void test_writer_refuses_int64_dims(void) {
    p2l_model_ir m;
    build_wide_graph(&m, 1);
    p2l_ir_graph *g = m.graphs.items[0];
    int64_t big[2] = {3, (int64_t)1 << 33};
    CHECK_EQ_INT(p2l_add_tensor(g, "big", P2L_FLOAT32, 2, big), -1);
    CHECK_ERROR_MENTIONS("8589934592");
    g->tensors.items[0].dims[0] = ((int64_t)1 << 32) + 2; /* would have been written as 2 */
    void *out = NULL;
    size_t size = 0;
    CHECK_EQ_INT(p2l_tflite_write(&m, true, &out, &size), P2L_ERROR_UNSUPPORTED);
    CHECK(out == NULL);
    CHECK_ERROR_MENTIONS("4294967298");
    p2l_model_ir_free(&m);
}

/* Deferred vectors: the same objects built with the data copied and with it deferred give the same
 * bytes once the caller writes each deferred vector's data where p2l_fb_finish_parts says; tables
 * after them share vtables written before them; p2l_fb_finish refuses a buffer with deferred data. */
static void build_with_constants(p2l_fb *fb, bool deferred, uint8_t *const *data, const size_t *sizes, size_t count,
                                 p2l_fb_ref *root) {
    p2l_fb_ref refs[8];
    p2l_fb_table_start(fb);
    p2l_fb_add_i32(fb, 1, 7);
    p2l_fb_ref first = p2l_fb_table_end(fb);
    for (size_t i = 0; i < count; i++) {
        p2l_fb_ref v = deferred && sizes[i] ? p2l_fb_vector_deferred(fb, sizes[i], 16)
                                            : p2l_fb_vector(fb, data[i], sizes[i], 1, 16);
        p2l_fb_table_start(fb);
        p2l_fb_add_ref(fb, 0, v);
        if (i % 2) p2l_fb_add_i32(fb, 1, (int32_t)i);
        refs[i] = p2l_fb_table_end(fb);
    }
    p2l_fb_ref name = p2l_fb_string(fb, "after the constants");
    p2l_fb_ref vec = p2l_fb_ref_vector(fb, refs, count);
    p2l_fb_table_start(fb);
    p2l_fb_add_ref(fb, 0, vec);
    p2l_fb_add_ref(fb, 2, name);
    p2l_fb_add_ref(fb, 3, first);
    p2l_fb_add_i32(fb, 1, 7); /* the same vtable as `first`, written before every deferred vector */
    *root = p2l_fb_table_end(fb);
}

static void test_deferred_vectors(void) {
    enum { COUNT = 6 };
    const size_t sizes[COUNT] = {3, 0, 4096 + 5, 64, 1, 100000};
    uint8_t *data[COUNT];
    for (size_t i = 0; i < COUNT; i++) {
        data[i] = p2l_alloc(sizes[i] + 1);
        fill_pattern(data[i], sizes[i], (uint32_t)i + 1);
    }
    void *copied = NULL, *stored = NULL;
    size_t copied_size = 0, stored_size = 0, hole_count = 0;
    p2l_fb_hole *holes = NULL;
    p2l_fb_ref root;
    p2l_fb *fb = p2l_fb_create(0);
    build_with_constants(fb, false, data, sizes, COUNT, &root);
    CHECK_EQ_INT(p2l_fb_finish(fb, root, TFL3, &copied, &copied_size), P2L_OK);
    build_with_constants(fb, true, data, sizes, COUNT, &root);
    CHECK_EQ_INT(p2l_fb_finish_parts(fb, root, TFL3, &stored, &stored_size, &holes, &hole_count), P2L_OK);
    CHECK_EQ_INT((int)hole_count, COUNT - 1); /* the empty vector is stored, not deferred */
    size_t deferred = 0;
    for (size_t i = 0; i < COUNT; i++) deferred += sizes[i];
    CHECK_EQ_INT((long long)(stored_size + deferred), (long long)copied_size);
    /* reassemble: holes are oldest first, so the file holds them newest first */
    uint8_t *whole = p2l_alloc(copied_size);
    size_t pos = 0, from = 0, source = COUNT;
    for (size_t h = hole_count; h-- > 0;) {
        while (!sizes[--source]) {}
        CHECK_EQ_INT((long long)holes[h].size, (long long)sizes[source]);
        CHECK(holes[h].offset >= pos && holes[h].offset + holes[h].size <= copied_size);
        memcpy(whole + pos, (uint8_t *)stored + from, holes[h].offset - pos);
        from += holes[h].offset - pos;
        memcpy(whole + holes[h].offset, data[source], holes[h].size);
        pos = holes[h].offset + holes[h].size;
    }
    memcpy(whole + pos, (uint8_t *)stored + from, stored_size - from);
    CHECK(memcmp(whole, copied, copied_size) == 0);
    /* plain finish cannot hand back a buffer with deferred data */
    p2l_fb_vector_deferred(fb, 10, 16);
    p2l_fb_table_start(fb);
    void *out = NULL;
    size_t size = 0;
    CHECK_EQ_INT(p2l_fb_finish(fb, p2l_fb_table_end(fb), TFL3, &out, &size), P2L_ERROR_INTERNAL);
    p2l_fb_destroy(fb);
    p2l_release(whole);
    p2l_release(holes);
    p2l_release(stored);
    p2l_release(copied);
    for (size_t i = 0; i < COUNT; i++) p2l_release(data[i]);
}

int main(int argc, char **argv) {
    model_path = argc > 1 ? argv[1] : getenv("P2L_FLATBUF_TEST_MODEL");
    size_t base = p2l_heap_bytes();
    RUN(test_scalars_every_width);
    RUN(test_field_order_does_not_matter);
    RUN(test_empty_table);
    RUN(test_strings);
    RUN(test_vector_alignment);
    RUN(test_empty_vectors);
    RUN(test_vector_of_tables);
    RUN(test_nested_tables);
    RUN(test_vtable_dedup);
    RUN(test_regrowth_keeps_everything);
    RUN(test_reservation_avoids_regrowth);
    RUN(test_identifier_and_root);
    RUN(test_determinism);
    RUN(test_misuse_is_sticky);
    RUN(test_tflite_model);
    RUN(test_writer_signature_over_1024);
    RUN(test_writer_refuses_int64_dims);
    RUN(test_deferred_vectors);
    CHECK_EQ_INT(p2l_heap_bytes(), base);
    return check_summary();
}
