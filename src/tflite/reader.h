/* TFLite model reader: a bounds-checked FlatBuffers walker and a verifier.
 *
 * p2l_tfl_read() checks the whole file before anything uses it (every offset, vtable, vector and
 * string inside the bytes, overflow-safe; every tensor/buffer/opcode/subgraph index in range;
 * constant shapes times element size equal to buffer sizes; ops known to pt2lite) and decodes it
 * into the plain structs below. After a successful read nothing downstream touches raw offsets.
 * Constant data stays in the caller's bytes (zero-copy) unless it is misaligned, in which case it is
 * copied once into the model's arena. */
#ifndef P2L_TFLITE_READER_H
#define P2L_TFLITE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "pt2lite.h"
#include "tflite/schema.h"

typedef struct p2l_tfl_tensor {
    const char *name;                        /* never NULL ("" when the file has none) */
    p2l_dtype dtype;
    int rank;
    int32_t shape[P2L_MAX_DIMS];
    int32_t shape_signature[P2L_MAX_DIMS];   /* -1 marks a dynamic dim; equals shape otherwise */
    uint32_t buffer;
    const uint8_t *data;                     /* constant data (16-byte aligned); NULL if none */
    size_t data_size;
    bool is_variable;
    /* Quantization (per-tensor view: the first scale / zero point; count > 1 is per-channel). */
    int32_t quant_count;
    int32_t quantized_dimension;
    float scale;
    int64_t zero_point;
    /* All quant_count scales (positive, finite) and zero points (zeros when the file has none; within
     * the dtype's range for integer tensors), verified; NULL when quant_count is 0. */
    const float *scales;
    const int64_t *zero_points;
    /* Block-wise quantization (QuantizationDetails BlockwiseQuantization), verified: an int4 constant
     * [units, depth] whose every `block_size` consecutive values of a row share one scale, the float16
     * constant tensor `block_scales` [units, depth / block_size]. block_size 0: none. Zero points are
     * not read (LiteRT ignores them too: the values are symmetric). */
    int32_t block_size;
    int32_t block_scales;
} p2l_tfl_tensor;

typedef struct p2l_tfl_operator {
    p2l_op op;
    int version;
    int input_count, output_count;
    const int32_t *inputs;                   /* -1 = omitted optional input */
    const int32_t *outputs;
    int64_t options[P2L_MAX_OPTION_FIELDS];  /* options.def fields by id, defaults filled in */
    /* The one int vector some options carry (RESHAPE new_shape, SQUEEZE squeeze_dims). */
    bool has_option_ints;
    int option_int_count;
    const int32_t *option_ints;
} p2l_tfl_operator;

typedef struct p2l_tfl_subgraph {
    const char *name;
    int tensor_count, input_count, output_count, op_count;
    p2l_tfl_tensor *tensors;
    const int32_t *inputs, *outputs;
    p2l_tfl_operator *ops;
} p2l_tfl_subgraph;

typedef struct p2l_tfl_tensor_map {
    const char *name;
    int32_t tensor;
} p2l_tfl_tensor_map;

typedef struct p2l_tfl_signature {
    const char *key;
    int subgraph;
    int input_count, output_count;
    p2l_tfl_tensor_map *inputs, *outputs;
} p2l_tfl_signature;

/* A Model.metadata entry: a name and the bytes of the buffer it names (NULL, 0 when empty). */
typedef struct p2l_tfl_metadata {
    const char *name;
    const uint8_t *data;
    size_t size;
} p2l_tfl_metadata;

typedef struct p2l_tfl_model {
    uint32_t version;
    const char *description;
    int subgraph_count, signature_count, metadata_count;
    p2l_tfl_subgraph *subgraphs;
    p2l_tfl_signature *signatures;
    p2l_tfl_metadata *metadata;
    p2l_arena arena; /* owns every decoded array */
} p2l_tfl_model;

/* Verifies and decodes `size` bytes. The bytes must outlive the model (names and constant data
 * point into them). On failure the message names what is wrong and where (byte offset, subgraph,
 * op index and name, tensor index and name) and *model is left empty. */
p2l_status p2l_tfl_read(const void *data, size_t size, p2l_tfl_model *model);
/* Same, within resource limits (NULL: the defaults): file size, subgraphs / buffers / operator codes
 * and tensors per subgraph (max_tensors), ops per subgraph (max_nodes), the bytes of all tensors of a
 * subgraph at their declared shapes (max_tensor_bytes). Counts are checked before anything is
 * allocated for them. */
p2l_status p2l_tfl_read_limited(const void *data, size_t size, const p2l_limits *limits, p2l_tfl_model *model);
void p2l_tfl_free(p2l_tfl_model *model);

/* "tensor 3 'conv/weights'" into buf (for error messages). */
const char *p2l_tfl_tensor_label(const p2l_tfl_subgraph *sg, int tensor, char *buf, size_t cap);

#endif
