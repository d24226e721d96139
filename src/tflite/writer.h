/* IR -> .tflite flatbuffer bytes (schema version 3). */
#ifndef P2L_TFLITE_WRITER_H
#define P2L_TFLITE_WRITER_H

#include <stdio.h>

#include "base/mapped.h"
#include "ir/graph.h"

/* Serializes the model. Deterministic: the same IR gives the same bytes. When
 * `release_constants` is set, each constant's owned bytes are released as soon as they are copied
 * into the file, which keeps the converter's peak memory near one copy of the weights. */
p2l_status p2l_tflite_write(p2l_model_ir *m, bool release_constants, void **out, size_t *size);


/* Where p2l_tflite_write_to puts the model: streamed to `file`, or, when file is NULL, returned in
 * *out / *size (p2l_release()-able). Pages of `mapped` that the writer has read are dropped (madvise),
 * so a model read from mapped archives does not keep them all in memory. */
typedef struct p2l_tflite_destination {
    FILE *file;
    void **out;
    size_t *size;
    const p2l_mapped_range *mapped;
    size_t mapped_count;
} p2l_tflite_destination;

/* p2l_tflite_write to a destination. Constants too large for one flatbuffer (FlatBuffers' 2 GiB) are
 * written after it (Buffer.offset / Buffer.size, each 64-byte aligned, offsets from the file start),
 * as TFLite's own converter does for large models; P2L_EXTERNAL_BUFFERS=1 forces that layout (tests). */
p2l_status p2l_tflite_write_to(p2l_model_ir *m, bool release_constants, const p2l_tflite_destination *dest);

/* The operator version to record for a node (depends on its options and types). */
int p2l_tflite_op_version(const p2l_ir_graph *g, const p2l_ir_node *node);

#endif
