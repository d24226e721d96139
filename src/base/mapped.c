#include "base/mapped.h"

#include <stdint.h>
#include <sys/mman.h>

static _Thread_local const p2l_mapped_range *thread_ranges;
static _Thread_local size_t thread_count;

void p2l_drop_mapped_pages(const p2l_mapped_range *ranges, size_t count, const void *data, size_t nbytes) {
    if (!ranges || !data) return;
    const uintptr_t page = 4096;
    uintptr_t start = (uintptr_t)data, end = start + nbytes;
    for (size_t i = 0; i < count; i++) {
        uintptr_t lo = (uintptr_t)ranges[i].start, hi = lo + ranges[i].size;
        if (start < lo || end > hi) continue;
        /* only whole pages inside the range: a neighbour's bytes on a shared page stay */
        uintptr_t first = (start + page - 1) & ~(page - 1), last = end & ~(page - 1);
        if (last > first) madvise((void *)first, last - first, MADV_DONTNEED);
        return;
    }
}

void p2l_mapped_set_thread(const p2l_mapped_range *ranges, size_t count) {
    thread_ranges = ranges;
    thread_count = ranges ? count : 0;
}

void p2l_drop_mapped(const void *data, size_t nbytes) { p2l_drop_mapped_pages(thread_ranges, thread_count, data, nbytes); }
