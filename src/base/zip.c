/* Zero-copy zip reader for .pt2 archives (see zip.h).
 *
 * The central directory is the truth: torch.export.save writes local headers with zero sizes and a
 * data descriptor after the data (flag bit 3), so sizes come from the central directory and the
 * local header only tells where the data starts (its extra field, used for 64-byte alignment
 * padding, differs from the central one).
 *
 * Every offset and size read from the file is checked against the buffer before use. Offsets are
 * uint64_t from the file; in_bounds() compares without ever forming offset + length. */
#include "base/zip.h"

#include <string.h>

enum {
    LOCAL_HEADER_SIZE = 30,
    CENTRAL_HEADER_SIZE = 46,
    END_RECORD_SIZE = 22,
    ZIP64_LOCATOR_SIZE = 20,
    ZIP64_END_RECORD_SIZE = 56,
    MAX_COMMENT = 65535,
    ZIP64_EXTRA_ID = 0x0001,
};

#define LOCAL_HEADER_SIGNATURE 0x04034b50u
#define CENTRAL_HEADER_SIGNATURE 0x02014b50u
#define END_RECORD_SIGNATURE 0x06054b50u
#define ZIP64_LOCATOR_SIGNATURE 0x07064b50u
#define ZIP64_END_RECORD_SIGNATURE 0x06064b50u
#define FLAG_ENCRYPTED 0x0001u

static uint16_t read16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t read32(const uint8_t *p) { return (uint32_t)read16(p) | (uint32_t)read16(p + 2) << 16; }
static uint64_t read64(const uint8_t *p) { return (uint64_t)read32(p) | (uint64_t)read32(p + 4) << 32; }

/* Whether [offset, offset + length) lies within [0, limit). */
static bool in_bounds(uint64_t limit, uint64_t offset, uint64_t length) {
    return offset <= limit && length <= limit - offset;
}

/* The end of central directory record ends the archive, followed only by its comment (up to 64 KiB).
 * Scanning back, the first signature whose comment length reaches exactly the end of the buffer
 * wins, so a comment that happens to contain the signature bytes does not confuse the search. */
static p2l_status find_end_record(const uint8_t *data, size_t size, size_t *out) {
    if (size < END_RECORD_SIZE) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: %zu bytes is too small for a zip archive (no end of central "
                                             "directory record)", size);
    }
    size_t last = size - END_RECORD_SIZE;
    size_t lowest = last > MAX_COMMENT ? last - MAX_COMMENT : 0;
    for (size_t pos = last + 1; pos-- > lowest;) {
        if (read32(data + pos) == END_RECORD_SIGNATURE && read16(data + pos + 20) == last - pos) {
            *out = pos;
            return P2L_OK;
        }
    }
    return p2l_fail(P2L_ERROR_MALFORMED, "zip: no end of central directory record in the last %zu bytes of %zu "
                                         "(not a zip archive, or truncated)", size - lowest, size);
}

typedef struct directory {
    uint64_t count;
    uint64_t offset, size; /* of the central directory */
    uint64_t limit;        /* the central directory must end here (where the end records start) */
} directory;

/* Reads the end of central directory record at `end`, and the zip64 one if a locator precedes it. */
static p2l_status read_end_records(const uint8_t *data, size_t end, directory *dir) {
    const uint8_t *record = data + end;
    uint32_t disk = read16(record + 4), directory_disk = read16(record + 6);
    uint64_t entries_on_disk = read16(record + 8);
    dir->count = read16(record + 10);
    dir->size = read32(record + 12);
    dir->offset = read32(record + 16);
    dir->limit = end;
    if (end >= ZIP64_LOCATOR_SIZE && read32(data + end - ZIP64_LOCATOR_SIZE) == ZIP64_LOCATOR_SIGNATURE) {
        size_t locator = end - ZIP64_LOCATOR_SIZE;
        uint64_t offset = read64(data + locator + 8);
        if (read32(data + locator + 4) != 0 || read32(data + locator + 16) > 1) {
            return p2l_fail(P2L_ERROR_UNSUPPORTED, "zip: zip64 locator at byte offset %zu describes a multi-disk "
                                                   "(split) archive, which is not supported", locator);
        }
        if (!in_bounds(locator, offset, ZIP64_END_RECORD_SIZE)) {
            return p2l_fail(P2L_ERROR_MALFORMED, "zip: zip64 locator at byte offset %zu points to offset %llu, "
                                                 "outside the archive before it", locator, (unsigned long long)offset);
        }
        const uint8_t *record64 = data + offset;
        if (read32(record64) != ZIP64_END_RECORD_SIGNATURE) {
            return p2l_fail(P2L_ERROR_MALFORMED, "zip: no zip64 end of central directory record at byte offset %llu "
                                                 "(where the locator at %zu points)", (unsigned long long)offset, locator);
        }
        disk = read32(record64 + 16);
        directory_disk = read32(record64 + 20);
        entries_on_disk = read64(record64 + 24);
        dir->count = read64(record64 + 32);
        dir->size = read64(record64 + 40);
        dir->offset = read64(record64 + 48);
        dir->limit = offset;
    }
    if (disk != 0 || directory_disk != 0 || entries_on_disk != dir->count) {
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "zip: the end of central directory record at byte offset %zu describes "
                                               "a multi-disk (split) archive, which is not supported", end);
    }
    if (!in_bounds(dir->limit, dir->offset, dir->size)) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: central directory (byte offset %llu, %llu bytes) does not fit "
                                             "before the end records at byte offset %llu",
                        (unsigned long long)dir->offset, (unsigned long long)dir->size, (unsigned long long)dir->limit);
    }
    if (dir->count > dir->size / CENTRAL_HEADER_SIZE) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: %llu entries cannot fit in a central directory of %llu bytes "
                                             "(byte offset %llu)", (unsigned long long)dir->count,
                        (unsigned long long)dir->size, (unsigned long long)dir->offset);
    }
    return P2L_OK;
}

typedef struct central_header {
    size_t at; /* byte offset, for messages */
    const char *name;
    uint16_t flags, method;
    uint64_t size, compressed_size, local_offset;
    uint32_t disk;
} central_header;

/* Fields that are 0xFFFFFFFF (0xFFFF for the disk) in the central header are in the zip64 extra
 * field, in this order: size, compressed size, local header offset, disk. */
static p2l_status read_zip64_extra(const uint8_t *extra, size_t length, central_header *h) {
    bool need_size = h->size == 0xFFFFFFFFu, need_compressed = h->compressed_size == 0xFFFFFFFFu;
    bool need_offset = h->local_offset == 0xFFFFFFFFu, need_disk = h->disk == 0xFFFFu;
    if (!need_size && !need_compressed && !need_offset && !need_disk) return P2L_OK;
    for (size_t at = 0; length - at >= 4;) {
        uint16_t id = read16(extra + at), field_length = read16(extra + at + 2);
        if (field_length > length - at - 4) break; /* reported below: the zip64 field is missing */
        if (id == ZIP64_EXTRA_ID) {
            const uint8_t *field = extra + at + 4;
            size_t needed = 8 * (size_t)(need_size + need_compressed + need_offset) + 4 * (size_t)need_disk;
            if (field_length < needed) {
                return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s' (central directory header at byte offset %zu): "
                                                     "zip64 extra field has %u bytes, needs %zu",
                                h->name, h->at, field_length, needed);
            }
            if (need_size) h->size = read64(field), field += 8;
            if (need_compressed) h->compressed_size = read64(field), field += 8;
            if (need_offset) h->local_offset = read64(field), field += 8;
            if (need_disk) h->disk = read32(field);
            return P2L_OK;
        }
        at += 4 + (size_t)field_length;
    }
    return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s' (central directory header at byte offset %zu): sizes or "
                                         "offset are 0xFFFFFFFF but there is no valid zip64 extra field",
                    h->name, h->at);
}

/* Reads the central directory header at *pos (advancing it) and locates the entry's data. */
static p2l_status read_entry(const uint8_t *data, size_t size, uint64_t directory_end, uint64_t *pos, size_t index,
                             p2l_arena *arena, p2l_zip_entry *entry) {
    central_header h = {.at = (size_t)*pos};
    if (!in_bounds(directory_end, *pos, CENTRAL_HEADER_SIZE)) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: central directory entry %zu at byte offset %zu is cut off by the "
                                             "end of the central directory (byte offset %llu)",
                        index, h.at, (unsigned long long)directory_end);
    }
    const uint8_t *p = data + h.at;
    if (read32(p) != CENTRAL_HEADER_SIGNATURE) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: central directory entry %zu at byte offset %zu has a bad "
                                             "signature", index, h.at);
    }
    h.flags = read16(p + 8);
    h.method = read16(p + 10);
    h.compressed_size = read32(p + 20);
    h.size = read32(p + 24);
    size_t name_length = read16(p + 28), extra_length = read16(p + 30), comment_length = read16(p + 32);
    h.disk = read16(p + 34);
    h.local_offset = read32(p + 42);
    uint64_t header_length = CENTRAL_HEADER_SIZE + name_length + extra_length + comment_length;
    if (!in_bounds(directory_end, *pos, header_length)) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: central directory entry %zu at byte offset %zu: its name, extra "
                                             "field and comment run past the end of the central directory",
                        index, h.at);
    }
    const char *name = (const char *)p + CENTRAL_HEADER_SIZE;
    if (memchr(name, 0, name_length)) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: central directory entry %zu at byte offset %zu: the name '%s' "
                                             "contains a NUL byte", index, h.at, name);
    }
    if (!(h.name = entry->name = p2l_arena_strndup(arena, name, name_length))) {
        return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "zip: out of memory copying entry names");
    }
    P2L_TRY(read_zip64_extra(p + CENTRAL_HEADER_SIZE + name_length, extra_length, &h));
    if (h.flags & FLAG_ENCRYPTED) {
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "zip: entry '%s' (central directory header at byte offset %zu) is "
                                               "encrypted, which is not supported", h.name, h.at);
    }
    if (h.disk != 0) {
        return p2l_fail(P2L_ERROR_UNSUPPORTED, "zip: entry '%s' (central directory header at byte offset %zu) starts "
                                               "on disk %u of a multi-disk archive", h.name, h.at, (unsigned)h.disk);
    }

    if (!in_bounds(size, h.local_offset, LOCAL_HEADER_SIZE)) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s': local header offset %llu is past the end of the "
                                             "archive (%zu bytes)", h.name, (unsigned long long)h.local_offset, size);
    }
    const uint8_t *local = data + h.local_offset;
    if (read32(local) != LOCAL_HEADER_SIGNATURE) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s': no local file header at byte offset %llu",
                        h.name, (unsigned long long)h.local_offset);
    }
    uint64_t local_name_length = read16(local + 26), local_extra_length = read16(local + 28);
    uint64_t name_at = h.local_offset + LOCAL_HEADER_SIZE; /* <= size, so these sums cannot overflow */
    if (local_name_length != name_length || !in_bounds(size, name_at, name_length) ||
        memcmp(data + name_at, name, name_length) != 0) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s': the local header at byte offset %llu names a "
                                             "different entry", h.name, (unsigned long long)h.local_offset);
    }
    uint64_t data_offset = name_at + local_name_length + local_extra_length;
    if (!in_bounds(size, data_offset, h.compressed_size)) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s': its data (byte offset %llu, %llu bytes) runs past the "
                                             "end of the archive (%zu bytes)", h.name, (unsigned long long)data_offset,
                        (unsigned long long)h.compressed_size, size);
    }
    if (h.method == 0 && h.compressed_size != h.size) {
        return p2l_fail(P2L_ERROR_MALFORMED, "zip: entry '%s' (byte offset %llu) is stored uncompressed but its "
                                             "sizes differ (%llu stored, %llu uncompressed)", h.name,
                        (unsigned long long)data_offset, (unsigned long long)h.compressed_size,
                        (unsigned long long)h.size);
    }
    entry->size = h.size;
    entry->offset = data_offset;
    entry->compressed = h.method != 0;
    entry->data = h.method == 0 ? data + data_offset : NULL;
    *pos += header_length;
    return P2L_OK;
}

p2l_status p2l_zip_open(const uint8_t *data, size_t size, p2l_arena *arena, p2l_zip *out) {
    if (!out || !arena || (!data && size)) return p2l_fail(P2L_ERROR_INVALID_ARGUMENT, "zip: NULL argument");
    memset(out, 0, sizeof *out);
    size_t end = 0;
    directory dir = {0};
    P2L_TRY(find_end_record(data, size, &end));
    P2L_TRY(read_end_records(data, end, &dir));
    /* count <= directory size / 46 <= size, so the array size cannot overflow. */
    p2l_zip_entry *entries = NULL;
    if (dir.count) {
        entries = p2l_arena_alloc(arena, (size_t)dir.count * sizeof *entries);
        if (!entries) return p2l_fail(P2L_ERROR_OUT_OF_MEMORY, "zip: out of memory for %llu entries",
                                      (unsigned long long)dir.count);
    }
    uint64_t pos = dir.offset;
    for (size_t i = 0; i < dir.count; i++) P2L_TRY(read_entry(data, size, dir.offset + dir.size, &pos, i, arena, &entries[i]));
    out->entries = entries;
    out->count = (size_t)dir.count;
    return P2L_OK;
}

const p2l_zip_entry *p2l_zip_find(const p2l_zip *zip, const char *name) {
    if (!zip || !name) return NULL;
    for (size_t i = 0; i < zip->count; i++) {
        if (strcmp(zip->entries[i].name, name) == 0) return &zip->entries[i];
    }
    return NULL;
}
