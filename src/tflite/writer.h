/* IR -> .tflite flatbuffer bytes (schema version 3). */
#ifndef P2L_TFLITE_WRITER_H
#define P2L_TFLITE_WRITER_H

#include "ir/graph.h"

/* Serializes the model. Deterministic: the same IR gives the same bytes. When
 * `release_constants` is set, each constant's owned bytes are released as soon as they are copied
 * into the file, which keeps the converter's peak memory near one copy of the weights. */
p2l_status p2l_tflite_write(p2l_model_ir *m, bool release_constants, void **out, size_t *size);

/* The operator version to record for a node (depends on its options and types). */
int p2l_tflite_op_version(const p2l_ir_graph *g, const p2l_ir_node *node);

#endif
