/* What a second interpreter on the same model costs (docs/embedding.md, "Memory: sharing a model
 * between interpreters"): the process's memory after loading a model, after a first interpreter has
 * prepared and run once, after a second one has. Built and run by bench/shared_weights_memory.sh;
 * uses the public API only, so the same source measures any build of the library.
 *
 *   shared_weights_memory MODEL.tflite [THREADS]
 *
 * Memory: the heap in use (glibc mallinfo2: bytes in allocated chunks, including mmap()ed ones),
 * RSS and its anonymous part (/proc/self/status: RssAnon is the heap and stacks; RssFile counts the
 * mapped model's pages that were read). Each interpreter is created, allocated and invoked once on
 * zero inputs, so its arena pages have been touched. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt2lite.h"

typedef struct usage {
    double heap_mb, rss_mb, anon_mb, file_mb;
} usage;

static double status_mb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0;
    const size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') kib = atof(line + n + 1);
    if (f) fclose(f);
    return kib / 1024.0;
}

static usage measure(void) {
    struct mallinfo2 mi = mallinfo2();
    return (usage){(double)(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0), status_mb("VmRSS"), status_mb("RssAnon"),
                   status_mb("RssFile")};
}

static void print_row(const char *stage, usage now, usage before) {
    printf("%-22s heap %8.1f MB (%+7.1f)  rss %8.1f MB (%+7.1f)  anon %8.1f MB (%+7.1f)  file %7.1f MB\n", stage,
           now.heap_mb, now.heap_mb - before.heap_mb, now.rss_mb, now.rss_mb - before.rss_mb, now.anon_mb,
           now.anon_mb - before.anon_mb, now.file_mb);
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, p2l_last_error());
    return 1;
}

/* Creates, allocates and runs an interpreter once on zero inputs. */
static int start_interpreter(p2l_model *model, int threads, p2l_interpreter **it) {
    p2l_interpreter_options options = {.size = sizeof options, .num_threads = threads};
    if (p2l_interpreter_create(model, &options, it) || p2l_interpreter_allocate(*it)) return fail("interpreter");
    const int inputs = p2l_model_subgraph_input_count(model, 0);
    for (int i = 0; i < inputs; i++) {
        p2l_tensor_info info;
        if (p2l_interpreter_input_info(*it, i, &info)) return fail("input info");
        void *zeros = calloc(1, info.bytes ? info.bytes : 1);
        const p2l_status s = p2l_interpreter_set_input(*it, i, zeros, info.bytes);
        free(zeros);
        if (s) return fail("set input");
    }
    return p2l_interpreter_invoke(*it) ? fail("invoke") : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.tflite [THREADS]\n", argv[0]);
        return 2;
    }
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    const usage start = measure();
    p2l_model *model;
    if (p2l_model_load_file(argv[1], &model)) return fail("load");
    const usage loaded = measure();
    p2l_interpreter *first, *second;
    if (start_interpreter(model, threads, &first)) return 1;
    const usage one = measure();
    if (start_interpreter(model, threads, &second)) return 1;
    const usage two = measure();
    print_row("model loaded", loaded, start);
    print_row("+ interpreter 1", one, loaded);
    print_row("+ interpreter 2", two, one);
    printf("arena of one interpreter: %.1f MB; interpreter 2 / interpreter 1 (heap): %.2f\n",
           (double)p2l_interpreter_arena_bytes(first, 0) / (1024.0 * 1024.0),
           (two.heap_mb - one.heap_mb) / (one.heap_mb - loaded.heap_mb));
    p2l_interpreter_free(first);
    p2l_interpreter_free(second);
    p2l_model_free(model);
    return 0;
}
