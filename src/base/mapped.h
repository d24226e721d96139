/* Read-only file mappings that a conversion borrows constants from (the .pt2 archives): pages of them
 * that were read can be dropped (they were never written, so the kernel rereads them from the file if
 * they are touched again), which keeps a big model's weights out of the process's RSS once used. */
#ifndef P2L_BASE_MAPPED_H
#define P2L_BASE_MAPPED_H

#include <stddef.h>

typedef struct p2l_mapped_range {
    const void *start;
    size_t size;
} p2l_mapped_range;

/* Drops the whole pages of [data, data + nbytes) when the range lies in one of `ranges` (else nothing). */
void p2l_drop_mapped_pages(const p2l_mapped_range *ranges, size_t count, const void *data, size_t nbytes);

/* The mappings of the conversion running on this thread (NULL, 0: none), for p2l_drop_mapped. */
void p2l_mapped_set_thread(const p2l_mapped_range *ranges, size_t count);
/* p2l_drop_mapped_pages over this thread's mappings: for a constant whose borrowed bytes are done with. */
void p2l_drop_mapped(const void *data, size_t nbytes);

#endif
