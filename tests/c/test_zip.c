/* Tests for the zip reader (src/base/zip.c). Archives are built here by a small writer, so each
 * test controls every field; one fixture written by Python's zipfile checks against another writer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/zip.h"
#include "check.h"

static p2l_arena arena;

/* ------------------------------------------------------------------ an in-memory zip writer */

typedef struct test_entry {
    const char *name;
    size_t name_length;  /* 0: strlen(name) */
    const char *data;
    size_t size;         /* bytes of data, as stored */
    uint16_t method;     /* 0 stored, 8 deflate (data is then opaque bytes) */
    uint16_t flags;
    uint64_t uncompressed_size; /* for method != 0 */
} test_entry;

typedef struct zip_options {
    bool zip64;          /* zip64 end records, and all sizes/offsets in zip64 extra fields */
    bool torch_style;    /* like torch.export.save: zero sizes in local headers + data descriptors, and
                            zip64 end records even when not needed */
    size_t align;        /* data alignment via padding in the local extra field (0: none) */
    const char *comment;
    size_t comment_length;
} zip_options;

enum { MAX_TEST_ENTRIES = 8 };
typedef struct layout {  /* where the writer put things, for tests that corrupt them */
    size_t local[MAX_TEST_ENTRIES], central[MAX_TEST_ENTRIES], data[MAX_TEST_ENTRIES];
    size_t directory, zip64_record, zip64_locator, end_record;
} layout;

static void put16(p2l_buf *b, uint16_t v) {
    uint8_t bytes[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    p2l_buf_append(b, bytes, 2);
}
static void put32(p2l_buf *b, uint32_t v) {
    put16(b, (uint16_t)v);
    put16(b, (uint16_t)(v >> 16));
}
static void put64(p2l_buf *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}
static void patch16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void patch32(uint8_t *p, uint32_t v) { patch16(p, (uint16_t)v), patch16(p + 2, (uint16_t)(v >> 16)); }
static void patch64(uint8_t *p, uint64_t v) { patch32(p, (uint32_t)v), patch32(p + 4, (uint32_t)(v >> 32)); }

static uint32_t crc32_of(const char *data, size_t size) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) {
        crc ^= (uint8_t)data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void write_zip(p2l_buf *out, const test_entry *entries, size_t count, const zip_options *options, layout *where) {
    layout unused;
    if (!where) where = &unused;
    out->len = 0;
    bool zip64_records = options->zip64 || options->torch_style;
    for (size_t i = 0; i < count; i++) {
        const test_entry *e = &entries[i];
        size_t name_length = e->name_length ? e->name_length : strlen(e->name);
        uint64_t full_size = e->method ? e->uncompressed_size : e->size;
        where->local[i] = out->len;
        put32(out, 0x04034b50);
        put16(out, 45);
        put16(out, (uint16_t)(e->flags | (options->torch_style ? 0x0808 : 0)));
        put16(out, e->method);
        put32(out, 0); /* time and date */
        put32(out, options->torch_style ? 0 : crc32_of(e->data, e->size));
        uint32_t local_size = options->torch_style ? 0 : options->zip64 ? 0xFFFFFFFFu : (uint32_t)e->size;
        uint32_t local_full = options->torch_style ? 0 : options->zip64 ? 0xFFFFFFFFu : (uint32_t)full_size;
        put32(out, local_size);
        put32(out, local_full);
        put16(out, (uint16_t)name_length);
        size_t extra = options->zip64 ? 20 : 0, padding = 0;
        if (options->align) {
            size_t unpadded = out->len + 2 + name_length + extra + 4; /* with an empty padding field */
            padding = (options->align - unpadded % options->align) % options->align;
            extra += 4 + padding;
        }
        put16(out, (uint16_t)extra);
        p2l_buf_append(out, e->name, name_length);
        if (options->zip64) {
            put16(out, 0x0001);
            put16(out, 16);
            put64(out, full_size);
            put64(out, e->size);
        }
        if (options->align) {
            put16(out, 0x4246); /* "FB", the id torch uses for its padding */
            put16(out, (uint16_t)padding);
            for (size_t k = 0; k < padding; k++) put16(out, 0), out->len--;
        }
        where->data[i] = out->len;
        p2l_buf_append(out, e->data, e->size);
        if (options->torch_style) { /* data descriptor */
            put32(out, 0x08074b50);
            put32(out, crc32_of(e->data, e->size));
            put32(out, (uint32_t)e->size);
            put32(out, (uint32_t)full_size);
        }
    }
    where->directory = out->len;
    for (size_t i = 0; i < count; i++) {
        const test_entry *e = &entries[i];
        size_t name_length = e->name_length ? e->name_length : strlen(e->name);
        uint64_t full_size = e->method ? e->uncompressed_size : e->size;
        where->central[i] = out->len;
        put32(out, 0x02014b50);
        put16(out, 45);
        put16(out, 45);
        put16(out, (uint16_t)(e->flags | (options->torch_style ? 0x0808 : 0)));
        put16(out, e->method);
        put32(out, 0);
        put32(out, crc32_of(e->data, e->size));
        put32(out, options->zip64 ? 0xFFFFFFFFu : (uint32_t)e->size);
        put32(out, options->zip64 ? 0xFFFFFFFFu : (uint32_t)full_size);
        put16(out, (uint16_t)name_length);
        put16(out, options->zip64 ? 28 : 0);
        put16(out, 0); /* comment */
        put16(out, 0); /* disk */
        put16(out, 0);
        put32(out, 0);
        put32(out, options->zip64 ? 0xFFFFFFFFu : (uint32_t)where->local[i]);
        p2l_buf_append(out, e->name, name_length);
        if (options->zip64) {
            put16(out, 0x0001);
            put16(out, 24);
            put64(out, full_size);
            put64(out, e->size);
            put64(out, where->local[i]);
        }
    }
    size_t directory_size = out->len - where->directory;
    where->zip64_record = where->zip64_locator = 0;
    if (zip64_records) {
        where->zip64_record = out->len;
        put32(out, 0x06064b50);
        put64(out, 44);
        put16(out, 45);
        put16(out, 45);
        put32(out, 0);
        put32(out, 0);
        put64(out, count);
        put64(out, count);
        put64(out, directory_size);
        put64(out, where->directory);
        where->zip64_locator = out->len;
        put32(out, 0x07064b50);
        put32(out, 0);
        put64(out, where->zip64_record);
        put32(out, 1);
    }
    where->end_record = out->len;
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, options->zip64 ? 0xFFFF : (uint16_t)count);
    put16(out, options->zip64 ? 0xFFFF : (uint16_t)count);
    put32(out, options->zip64 ? 0xFFFFFFFFu : (uint32_t)directory_size);
    put32(out, options->zip64 ? 0xFFFFFFFFu : (uint32_t)where->directory);
    put16(out, (uint16_t)options->comment_length);
    if (options->comment_length) p2l_buf_append(out, options->comment, options->comment_length);
}

/* Opens a copy of data[0..size) in a buffer of exactly that size, so ASan flags any read past it.
 * The copy lives until the next call (entries point into it). */
static uint8_t *archive_copy;
static p2l_status open_bytes(const uint8_t *data, size_t size, p2l_zip *zip) {
    free(archive_copy);
    archive_copy = malloc(size ? size : 1);
    if (size) memcpy(archive_copy, data, size);
    return p2l_zip_open(archive_copy, size, &arena, zip);
}

static const test_entry three_entries[] = {
    {.name = "model/data/weights/weight_0", .data = "\x01\x02\x03\x04\x05\x06\x07\x08", .size = 8},
    {.name = "model/archive_format", .data = "pt2", .size = 3},
    {.name = "model/empty", .data = "", .size = 0},
};

/* The three entries above read back exactly, from wherever the archive put them. */
static void check_three_entries(const p2l_zip *zip, size_t align) {
    CHECK_EQ_INT(zip->count, 3);
    if (zip->count != 3) return;
    for (size_t i = 0; i < 3; i++) {
        const p2l_zip_entry *e = &zip->entries[i];
        CHECK(strcmp(e->name, three_entries[i].name) == 0);
        CHECK_EQ_INT(e->size, three_entries[i].size);
        CHECK(!e->compressed);
        CHECK(e->data != NULL && e->data == archive_copy + e->offset);
        CHECK(e->data && memcmp(e->data, three_entries[i].data, three_entries[i].size) == 0);
        if (align) CHECK_EQ_INT(e->offset % align, 0);
    }
    const p2l_zip_entry *format = p2l_zip_find(zip, "model/archive_format");
    CHECK(format == &zip->entries[1]);
    CHECK(p2l_zip_find(zip, "model/archive_forma") == NULL); /* exact match only */
    CHECK(p2l_zip_find(zip, "model/archive_format/") == NULL);
    CHECK(p2l_zip_find(zip, "archive_format") == NULL);
    CHECK(p2l_zip_find(zip, "") == NULL);
    CHECK(p2l_zip_find(NULL, "model/empty") == NULL);
}

static void test_normal_archive(void) {
    p2l_buf buf = {0};
    zip_options options = {0};
    write_zip(&buf, three_entries, 3, &options, NULL);
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    check_three_entries(&zip, 0);

    /* 64-byte-aligned data via local extra fields the central directory does not have. */
    options.align = 64;
    write_zip(&buf, three_entries, 3, &options, NULL);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    check_three_entries(&zip, 64);

    /* An empty archive is just an end record. */
    write_zip(&buf, three_entries, 0, &options, NULL);
    CHECK_EQ_INT(buf.len, 22);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    CHECK_EQ_INT(zip.count, 0);
    CHECK(p2l_zip_find(&zip, "x") == NULL);
    p2l_buf_free(&buf);
}

static void test_zip64_archive(void) {
    p2l_buf buf = {0};
    zip_options options = {.zip64 = true, .align = 64};
    layout where;
    write_zip(&buf, three_entries, 3, &options, &where);
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    check_three_entries(&zip, 64);

    /* The zip64 record, not the 0xFFFFFFFF placeholders, says where the directory is: moving the
     * record's directory offset must break the archive. */
    patch64(buf.data + where.zip64_record + 48, where.directory - 1);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("bad signature");
    p2l_buf_free(&buf);
}

static void test_torch_style_archive(void) {
    /* Zero sizes in the local headers, data descriptors after the data, zip64 end records. */
    p2l_buf buf = {0};
    zip_options options = {.torch_style = true, .align = 64};
    write_zip(&buf, three_entries, 3, &options, NULL);
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    check_three_entries(&zip, 64);
    p2l_buf_free(&buf);
}

/* Written by Python's zipfile: a stored entry, a deflated one, one whose local header (only) has a
 * zip64 extra field, an empty one, and an archive comment "made by python zipfile". */
static const uint8_t python_archive[] = {
    0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0xa7, 0x79, 0x5d, 0x1b, 0x38,
    0x72, 0xcb, 0x0b, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x66, 0x69,
    0x78, 0x74, 0x75, 0x72, 0x65, 0x2f, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x68,
    0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x7a, 0x69, 0x70, 0x0a, 0x50, 0x4b, 0x03, 0x04, 0x14, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x12, 0xa7, 0x79, 0x5d, 0x02, 0xf0, 0xae, 0x9c, 0x08, 0x00, 0x00, 0x00,
    0x78, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x2f,
    0x70, 0x61, 0x63, 0x6b, 0x65, 0x64, 0x2e, 0x74, 0x78, 0x74, 0x4b, 0x4c, 0x4a, 0x4e, 0x1c, 0x08,
    0x04, 0x00, 0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00,
    0x88, 0xe2, 0xce, 0xce, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x11, 0x00, 0x14, 0x00,
    0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x2f, 0x7a, 0x69, 0x70, 0x36, 0x34, 0x2e, 0x62, 0x69,
    0x6e, 0x01, 0x00, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12,
    0xa7, 0x79, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d,
    0x00, 0x00, 0x00, 0x66, 0x69, 0x78, 0x74, 0x75, 0x72, 0x65, 0x2f, 0x65, 0x6d, 0x70, 0x74, 0x79,
    0x50, 0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0xa7, 0x79, 0x5d,
    0x1b, 0x38, 0x72, 0xcb, 0x0b, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x66, 0x69,
    0x78, 0x74, 0x75, 0x72, 0x65, 0x2f, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x50,
    0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x12, 0xa7, 0x79, 0x5d, 0x02,
    0xf0, 0xae, 0x9c, 0x08, 0x00, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x3a, 0x00, 0x00, 0x00, 0x66, 0x69, 0x78,
    0x74, 0x75, 0x72, 0x65, 0x2f, 0x70, 0x61, 0x63, 0x6b, 0x65, 0x64, 0x2e, 0x74, 0x78, 0x74, 0x50,
    0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x88,
    0xe2, 0xce, 0xce, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x72, 0x00, 0x00, 0x00, 0x66, 0x69, 0x78,
    0x74, 0x75, 0x72, 0x65, 0x2f, 0x7a, 0x69, 0x70, 0x36, 0x34, 0x2e, 0x62, 0x69, 0x6e, 0x50, 0x4b,
    0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0xa7, 0x79, 0x5d, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0xc5, 0x00, 0x00, 0x00, 0x66, 0x69, 0x78, 0x74,
    0x75, 0x72, 0x65, 0x2f, 0x65, 0x6d, 0x70, 0x74, 0x79, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00,
    0x00, 0x04, 0x00, 0x04, 0x00, 0xf9, 0x00, 0x00, 0x00, 0xf0, 0x00, 0x00, 0x00, 0x16, 0x00, 0x6d,
    0x61, 0x64, 0x65, 0x20, 0x62, 0x79, 0x20, 0x70, 0x79, 0x74, 0x68, 0x6f, 0x6e, 0x20, 0x7a, 0x69,
    0x70, 0x66, 0x69, 0x6c, 0x65,
};

static void test_python_archive(void) {
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(python_archive, sizeof python_archive, &zip), P2L_OK);
    CHECK_EQ_INT(zip.count, 4);
    const p2l_zip_entry *hello = p2l_zip_find(&zip, "fixture/hello.txt");
    CHECK(hello && hello->size == 11 && !hello->compressed && memcmp(hello->data, "hello, zip\n", 11) == 0);
    const p2l_zip_entry *packed = p2l_zip_find(&zip, "fixture/packed.txt");
    CHECK(packed && packed->compressed && packed->data == NULL && packed->size == 120);
    const p2l_zip_entry *wide = p2l_zip_find(&zip, "fixture/zip64.bin");
    static const uint8_t counting[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    CHECK(wide && wide->size == 16 && wide->data && memcmp(wide->data, counting, 16) == 0);
    const p2l_zip_entry *empty = p2l_zip_find(&zip, "fixture/empty");
    CHECK(empty && empty->size == 0 && !empty->compressed && empty->data != NULL);
}

static void test_compressed_and_encrypted(void) {
    test_entry entries[] = {
        {.name = "a/stored", .data = "xyz", .size = 3},
        {.name = "a/deflated", .data = "\x4b\x4c\x4a\x06\x00", .size = 5, .method = 8, .uncompressed_size = 300},
    };
    p2l_buf buf = {0};
    zip_options options = {0};
    write_zip(&buf, entries, 2, &options, NULL);
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    const p2l_zip_entry *deflated = p2l_zip_find(&zip, "a/deflated");
    CHECK(deflated && deflated->compressed && deflated->data == NULL && deflated->size == 300);
    const p2l_zip_entry *stored = p2l_zip_find(&zip, "a/stored");
    CHECK(stored && !stored->compressed && stored->data && memcmp(stored->data, "xyz", 3) == 0);

    entries[1].flags = 1; /* encrypted */
    write_zip(&buf, entries, 2, &options, NULL);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_ERROR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("'a/deflated'");
    CHECK_ERROR_MENTIONS("encrypted");
    p2l_buf_free(&buf);
}

static void test_comments(void) {
    p2l_buf buf = {0};
    p2l_zip zip;
    /* A comment containing the end record's signature and a fake end record must not fool the search. */
    static const char tricky[] = "PK\x05\x06 looks like an end record PK\x05\x06\0\0\0\0\x01\0\x01\0\xff\xff\0\0\0\0\0\0\0";
    zip_options options = {.align = 64, .comment = tricky, .comment_length = sizeof tricky - 1};
    write_zip(&buf, three_entries, 3, &options, NULL);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    check_three_entries(&zip, 64);

    /* The longest comment allowed, with zip64 records. */
    char *longest = malloc(65535);
    memset(longest, 'c', 65535);
    memcpy(longest + 1000, "PK\x05\x06", 4);
    options = (zip_options){.zip64 = true, .comment = longest, .comment_length = 65535};
    write_zip(&buf, three_entries, 3, &options, NULL);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    check_three_entries(&zip, 0);

    /* One byte after the comment: the end record is no longer where its comment length says. */
    p2l_buf_append(&buf, "x", 1);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("no end of central directory record");
    free(longest);

    /* A comment length that claims more bytes than there are. */
    options = (zip_options){.comment = "abc", .comment_length = 3};
    write_zip(&buf, three_entries, 3, &options, NULL);
    patch16(buf.data + buf.len - 5, 4);
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("no end of central directory record");
    p2l_buf_free(&buf);
}

/* Every prefix of an archive is not an archive: each must fail cleanly (ASan checks the reads). */
static void check_every_prefix_fails(const zip_options *options) {
    p2l_buf buf = {0};
    write_zip(&buf, three_entries, 3, options, NULL);
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(buf.data, buf.len, &zip), P2L_OK);
    int wrong = 0;
    for (size_t n = 0; n < buf.len; n++) {
        p2l_status status = open_bytes(buf.data, n, &zip);
        if (status != P2L_ERROR_MALFORMED || strncmp(p2l_last_error(), "zip: ", 5) != 0) {
            if (wrong++ < 5) fprintf(stderr, "  prefix of %zu bytes: status %d: %s\n", n, status, p2l_last_error());
        }
    }
    CHECK_EQ_INT(wrong, 0);
    /* Dropping bytes from the front shifts every offset: also clean failures. */
    for (size_t n = 1; n < buf.len; n++) {
        if (open_bytes(buf.data + n, buf.len - n, &zip) == P2L_OK) wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    p2l_buf_free(&buf);
}

static void test_truncated(void) {
    check_every_prefix_fails(&(zip_options){0});
    check_every_prefix_fails(&(zip_options){.align = 64, .comment = "a comment", .comment_length = 9});
    check_every_prefix_fails(&(zip_options){.zip64 = true, .align = 64});
    check_every_prefix_fails(&(zip_options){.torch_style = true});
}

/* Builds the three-entry archive, lets `corrupt` patch it, and expects `status` mentioning `needle`. */
typedef void (*corruption)(uint8_t *archive, const layout *where);
static void expect_corrupt(const zip_options *options, corruption corrupt, p2l_status status, const char *needle) {
    p2l_buf buf = {0};
    layout where;
    write_zip(&buf, three_entries, 3, options, &where);
    corrupt(buf.data, &where);
    p2l_zip zip;
    p2l_status got = open_bytes(buf.data, buf.len, &zip);
    CHECK_EQ_INT(got, status);
    if (got != status || !strstr(p2l_last_error(), needle)) {
        fprintf(stderr, "  message: %s\n  expected mention: %s\n", p2l_last_error(), needle);
    }
    CHECK_ERROR_MENTIONS(needle);
    p2l_buf_free(&buf);
}

static void directory_offset_past_end(uint8_t *a, const layout *w) { patch32(a + w->end_record + 16, 0x7FFFFFF0u); }
static void directory_size_huge(uint8_t *a, const layout *w) { patch32(a + w->end_record + 12, 0xFFFFFFF0u); }
static void too_many_entries(uint8_t *a, const layout *w) {
    patch16(a + w->end_record + 8, 9);
    patch16(a + w->end_record + 10, 9);
}
static void split_archive(uint8_t *a, const layout *w) { patch16(a + w->end_record + 4, 1); }
static void bad_central_signature(uint8_t *a, const layout *w) { a[w->central[1]] = 'X'; }
static void local_offset_past_end(uint8_t *a, const layout *w) { patch32(a + w->central[0] + 42, 0xFFFFFFF0u); }
static void local_offset_into_data(uint8_t *a, const layout *w) { patch32(a + w->central[0] + 42, (uint32_t)w->data[0]); }
static void local_offset_at_last_byte(uint8_t *a, const layout *w) { patch32(a + w->central[2] + 42, (uint32_t)w->end_record + 21); }
static void entry_size_huge(uint8_t *a, const layout *w) {
    patch32(a + w->central[0] + 20, 0xFFFFFFFEu);
    patch32(a + w->central[0] + 24, 0xFFFFFFFEu);
}
static void sizes_differ(uint8_t *a, const layout *w) { patch32(a + w->central[1] + 24, 2); }
static void name_runs_past_directory(uint8_t *a, const layout *w) { patch16(a + w->central[2] + 28, 0x8000); }
static void extra_runs_past_directory(uint8_t *a, const layout *w) { patch16(a + w->central[2] + 30, 0xFFFF); }
static void local_name_length_differs(uint8_t *a, const layout *w) { patch16(a + w->local[1] + 26, 4); }
static void local_name_differs(uint8_t *a, const layout *w) { a[w->local[1] + 30] = 'M'; }
static void local_extra_huge(uint8_t *a, const layout *w) { patch16(a + w->local[2] + 28, 0xFFFF); }
static void name_with_nul(uint8_t *a, const layout *w) { a[w->central[1] + 46 + 5] = 0; }
static void zip64_size_huge(uint8_t *a, const layout *w) {
    patch64(a + w->central[0] + 46 + 27 + 4, UINT64_MAX - 10); /* uncompressed */
    patch64(a + w->central[0] + 46 + 27 + 12, UINT64_MAX - 10); /* compressed */
}
static void zip64_offset_max(uint8_t *a, const layout *w) { patch64(a + w->central[1] + 46 + 20 + 20, UINT64_MAX); }
static void zip64_directory_offset_max(uint8_t *a, const layout *w) { patch64(a + w->zip64_record + 48, UINT64_MAX - 4); }
static void zip64_directory_size_max(uint8_t *a, const layout *w) { patch64(a + w->zip64_record + 40, UINT64_MAX); }
static void zip64_count_huge(uint8_t *a, const layout *w) {
    patch64(a + w->zip64_record + 24, UINT64_C(1) << 60);
    patch64(a + w->zip64_record + 32, UINT64_C(1) << 60);
}
static void zip64_locator_offset_max(uint8_t *a, const layout *w) { patch64(a + w->zip64_locator + 8, UINT64_MAX - 30); }
static void zip64_locator_to_wrong_place(uint8_t *a, const layout *w) { patch64(a + w->zip64_locator + 8, w->directory); }
static void zip64_extra_missing(uint8_t *a, const layout *w) { patch16(a + w->central[0] + 46 + 27, 0x0002); }
static void zip64_extra_too_short(uint8_t *a, const layout *w) { patch16(a + w->central[0] + 46 + 27 + 2, 16); }
static void zip64_extra_length_overruns(uint8_t *a, const layout *w) { patch16(a + w->central[0] + 46 + 27 + 2, 200); }

static void test_corrupted_fields(void) {
    zip_options plain = {.align = 64}, wide = {.zip64 = true};
    expect_corrupt(&plain, directory_offset_past_end, P2L_ERROR_MALFORMED, "central directory (byte offset 2147483632");
    expect_corrupt(&plain, directory_size_huge, P2L_ERROR_MALFORMED, "does not fit before the end records");
    expect_corrupt(&plain, too_many_entries, P2L_ERROR_MALFORMED, "9 entries cannot fit");
    expect_corrupt(&plain, split_archive, P2L_ERROR_UNSUPPORTED, "multi-disk");
    expect_corrupt(&plain, bad_central_signature, P2L_ERROR_MALFORMED, "entry 1 at byte offset");
    expect_corrupt(&plain, local_offset_past_end, P2L_ERROR_MALFORMED,
                   "'model/data/weights/weight_0': local header offset 4294967280 is past the end");
    expect_corrupt(&plain, local_offset_into_data, P2L_ERROR_MALFORMED, "no local file header at byte offset 64");
    expect_corrupt(&plain, local_offset_at_last_byte, P2L_ERROR_MALFORMED, "'model/empty': local header offset");
    expect_corrupt(&plain, entry_size_huge, P2L_ERROR_MALFORMED, "4294967294 bytes) runs past the end");
    expect_corrupt(&plain, sizes_differ, P2L_ERROR_MALFORMED, "'model/archive_format' (byte offset 128) is stored");
    expect_corrupt(&plain, name_runs_past_directory, P2L_ERROR_MALFORMED, "entry 2 at byte offset");
    expect_corrupt(&plain, extra_runs_past_directory, P2L_ERROR_MALFORMED, "run past the end of the central directory");
    expect_corrupt(&plain, local_name_length_differs, P2L_ERROR_MALFORMED, "names a different entry");
    expect_corrupt(&plain, local_name_differs, P2L_ERROR_MALFORMED, "'model/archive_format': the local header");
    expect_corrupt(&plain, local_extra_huge, P2L_ERROR_MALFORMED, "'model/empty': its data");
    expect_corrupt(&plain, name_with_nul, P2L_ERROR_MALFORMED, "NUL");
    expect_corrupt(&wide, zip64_size_huge, P2L_ERROR_MALFORMED, "18446744073709551605 bytes) runs past the end");
    expect_corrupt(&wide, zip64_offset_max, P2L_ERROR_MALFORMED, "local header offset 18446744073709551615");
    expect_corrupt(&wide, zip64_directory_offset_max, P2L_ERROR_MALFORMED, "central directory (byte offset");
    expect_corrupt(&wide, zip64_directory_size_max, P2L_ERROR_MALFORMED, "does not fit");
    expect_corrupt(&wide, zip64_count_huge, P2L_ERROR_MALFORMED, "1152921504606846976 entries cannot fit");
    expect_corrupt(&wide, zip64_locator_offset_max, P2L_ERROR_MALFORMED, "zip64 locator at byte offset");
    expect_corrupt(&wide, zip64_locator_to_wrong_place, P2L_ERROR_MALFORMED, "no zip64 end of central directory record");
    expect_corrupt(&wide, zip64_extra_missing, P2L_ERROR_MALFORMED, "no valid zip64 extra field");
    expect_corrupt(&wide, zip64_extra_too_short, P2L_ERROR_MALFORMED, "zip64 extra field has 16 bytes, needs 24");
    expect_corrupt(&wide, zip64_extra_length_overruns, P2L_ERROR_MALFORMED, "no valid zip64 extra field");
}

static void test_not_a_zip(void) {
    p2l_zip zip;
    CHECK_EQ_INT(open_bytes(NULL, 0, &zip), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("too small");
    CHECK_EQ_INT(open_bytes((const uint8_t *)"PK\x05\x06 not quite", 14, &zip), P2L_ERROR_MALFORMED);
    char text[300];
    memset(text, 'z', sizeof text);
    CHECK_EQ_INT(open_bytes((const uint8_t *)text, sizeof text, &zip), P2L_ERROR_MALFORMED);
    CHECK_ERROR_MENTIONS("no end of central directory record in the last 300 bytes");
    CHECK_EQ_INT(p2l_zip_open(NULL, 5, &arena, &zip), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2l_zip_open((const uint8_t *)text, 5, NULL, &zip), P2L_ERROR_INVALID_ARGUMENT);
}

/* Random byte corruption: never an out-of-bounds read, and whatever opens has its data inside the buffer. */
static void test_random_corruption(void) {
    p2l_buf buf = {0};
    uint64_t state = 12345;
    int outside = 0, opened = 0;
    for (int round = 0; round < 4000; round++) {
        zip_options options = {.zip64 = round % 2 == 0, .align = round % 3 ? 64 : 0, .torch_style = round % 5 == 0};
        write_zip(&buf, three_entries, 3, &options, NULL);
        for (int flips = 0; flips < 1 + round % 4; flips++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            buf.data[(state >> 33) % buf.len] ^= (uint8_t)(1u << ((state >> 20) % 8));
        }
        p2l_zip zip;
        if (open_bytes(buf.data, buf.len, &zip) != P2L_OK) continue;
        opened++;
        for (size_t i = 0; i < zip.count; i++) {
            const p2l_zip_entry *e = &zip.entries[i];
            if (e->offset > buf.len || e->size > buf.len - e->offset) outside += !e->compressed;
            if (e->data && e->data != archive_copy + e->offset) outside++;
        }
    }
    CHECK_EQ_INT(outside, 0);
    CHECK(opened > 0); /* flips in data bytes leave the archive valid */
    p2l_buf_free(&buf);
}

int main(void) {
    RUN(test_normal_archive);
    RUN(test_zip64_archive);
    RUN(test_torch_style_archive);
    RUN(test_python_archive);
    RUN(test_compressed_and_encrypted);
    RUN(test_comments);
    RUN(test_truncated);
    RUN(test_corrupted_fields);
    RUN(test_not_a_zip);
    RUN(test_random_corruption);
    free(archive_copy);
    p2l_arena_free(&arena);
    return check_summary();
}
