/* Read-only, zero-copy reader for the zip archives torch.export.save writes (.pt2).
 *
 * Supports stored entries (method 0) and zip64. Compressed entries are listed but have
 * data == NULL and compressed == true; reading one is the caller's error to report. Every offset
 * and size is checked against the buffer; a malformed archive gives P2L_ERROR_MALFORMED with a
 * message naming the entry and the byte offset. */
#ifndef P2L_BASE_ZIP_H
#define P2L_BASE_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

typedef struct p2l_zip_entry {
    const char *name;       /* NUL-terminated copy in the arena */
    const uint8_t *data;    /* points into the archive buffer; NULL if compressed */
    uint64_t size;          /* uncompressed size */
    uint64_t offset;        /* offset of the data in the archive */
    bool compressed;
} p2l_zip_entry;

typedef struct p2l_zip {
    p2l_zip_entry *entries;
    size_t count;
} p2l_zip;

/* Parses the central directory. The buffer must outlive the p2l_zip. */
p2l_status p2l_zip_open(const uint8_t *data, size_t size, p2l_arena *arena, p2l_zip *out);
/* Entry with exactly this name, or NULL. */
const p2l_zip_entry *p2l_zip_find(const p2l_zip *zip, const char *name);

#endif
