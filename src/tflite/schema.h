/* TFLite schema facts used by the converter's writer and the runtime's reader:
 * builtin operators (ops.def), builtin options tables (options.def), tensor types. */
#ifndef P2L_TFLITE_SCHEMA_H
#define P2L_TFLITE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt2lite.h"

typedef enum p2l_op {
#define X(name, code, options) P2L_OP_##name,
#include "tflite/ops.def"
#undef X
    P2L_OP_COUNT
} p2l_op;

typedef enum p2l_options_kind {
#define X(NAME, member, code, fields) P2L_OPTIONS_##NAME,
#define NO_FIELDS(NAME, code) P2L_OPTIONS_##NAME,
#include "tflite/options.def"
#undef X
#undef NO_FIELDS
    P2L_OPTIONS_COUNT
} p2l_options_kind;

enum { P2L_MAX_OPTION_FIELDS = 8 };

/* How a field is stored in the file. */
typedef enum p2l_field_type {
    P2L_FIELD_NONE = 0, /* a deprecated id, never written */
    P2L_FIELD_I8,
    P2L_FIELD_I32,
    P2L_FIELD_BOOL,
    P2L_FIELD_F32,
    P2L_FIELD_I64,
    P2L_FIELD_I32S,     /* an int32 vector: read, never written (the converter passes shapes as inputs) */
    P2L_FIELD_STRING,   /* a string; the int64 slot holds its address (intptr_t), 0 for none */
} p2l_field_type;

typedef struct p2l_field {
    const char *name; /* NULL for a deprecated id */
    p2l_field_type type;
    int64_t default_value; /* floats as their bit pattern (see p2l_f32_bits) */
} p2l_field;

typedef struct p2l_options_info {
    const char *name;
    int union_code;     /* BuiltinOptions union type */
    int field_count;    /* field ids 0 .. field_count-1 */
    p2l_field fields[P2L_MAX_OPTION_FIELDS];
} p2l_options_info;

typedef struct p2l_op_info {
    const char *name;   /* "CONV_2D" */
    int builtin_code;
    p2l_options_kind options;
} p2l_op_info;

const p2l_op_info *p2l_op_info_of(p2l_op op);
const p2l_options_info *p2l_options_info_of(p2l_options_kind kind);
/* The op with this builtin code, or -1. */
int p2l_op_from_builtin(int builtin_code);
/* Field id of `name` in the op's options, or -1. */
int p2l_option_field(p2l_op op, const char *name);

static inline int64_t p2l_f32_bits(float f) {
    union { float f; uint32_t u; } v = {f};
    return (int64_t)v.u;
}
static inline float p2l_bits_f32(int64_t bits) {
    union { uint32_t u; float f; } v = {(uint32_t)bits};
    return v.f;
}

/* Enums of the schema that options carry. A file may hold values outside them: kernels check. */
typedef enum p2l_activation {
    P2L_ACT_NONE = 0, P2L_ACT_RELU = 1, P2L_ACT_RELU_N1_TO_1 = 2, P2L_ACT_RELU6 = 3, P2L_ACT_TANH = 4
} p2l_activation;
typedef enum p2l_padding { P2L_PAD_SAME = 0, P2L_PAD_VALID = 1 } p2l_padding;
typedef enum p2l_mirror_pad_mode { P2L_MIRROR_REFLECT = 0, P2L_MIRROR_SYMMETRIC = 1 } p2l_mirror_pad_mode;

/* ------------------------------------------------------------ typed options
 *
 * One struct per options.def table (p2l_conv2d_options, ...) with a C type per field, and their union,
 * which kernels read (node->opts.conv2d.stride_w): a misspelled option does not compile. The
 * field types of options.def map to a storage in the file and a C type here. */
#define P2L_OPTION_STORAGE_I8 P2L_FIELD_I8
#define P2L_OPTION_STORAGE_I32 P2L_FIELD_I32
#define P2L_OPTION_STORAGE_BOOL P2L_FIELD_BOOL
#define P2L_OPTION_STORAGE_F32 P2L_FIELD_F32
#define P2L_OPTION_STORAGE_I64 P2L_FIELD_I64
#define P2L_OPTION_STORAGE_I32S P2L_FIELD_I32S
#define P2L_OPTION_STORAGE_STRING P2L_FIELD_STRING
#define P2L_OPTION_STORAGE_ACTIVATION P2L_FIELD_I8
#define P2L_OPTION_STORAGE_PADDING P2L_FIELD_I8
#define P2L_OPTION_STORAGE_MIRROR_PAD_MODE P2L_FIELD_I8
#define P2L_OPTION_STORAGE_TENSOR_TYPE P2L_FIELD_I8

#define P2L_OPTION_CTYPE_I8 int8_t
#define P2L_OPTION_CTYPE_I32 int32_t
#define P2L_OPTION_CTYPE_BOOL bool
#define P2L_OPTION_CTYPE_F32 float
#define P2L_OPTION_CTYPE_I64 int64_t
#define P2L_OPTION_CTYPE_I32S p2l_option_ints
#define P2L_OPTION_CTYPE_STRING const char *
#define P2L_OPTION_CTYPE_ACTIVATION p2l_activation
#define P2L_OPTION_CTYPE_PADDING p2l_padding
#define P2L_OPTION_CTYPE_MIRROR_PAD_MODE p2l_mirror_pad_mode
#define P2L_OPTION_CTYPE_TENSOR_TYPE p2l_dtype

typedef struct p2l_option_ints {
    const int32_t *values;
    int count;
    bool present; /* the file has the vector (it may be empty: a scalar's new_shape) */
} p2l_option_ints;

#define FIELD(type, name) P2L_OPTION_CTYPE_##type name;
#define FIELD_DEFAULT(type, name, value) P2L_OPTION_CTYPE_##type name;
#define DEPRECATED_FIELD(name)
#define X(NAME, member, code, fields) typedef struct p2l_##member##_options { fields } p2l_##member##_options;
#define NO_FIELDS(NAME, code)
#include "tflite/options.def"
#undef X

typedef union p2l_op_options {
#define X(NAME, member, code, fields) p2l_##member##_options member;
#include "tflite/options.def"
#undef X
} p2l_op_options;
#undef FIELD
#undef FIELD_DEFAULT
#undef DEPRECATED_FIELD
#undef NO_FIELDS

/* Tensor types (p2l_dtype values are the schema's codes; p2l_dtype_name is in pt2lite.h). */
size_t p2l_dtype_size(p2l_dtype dtype);      /* 0 for unknown or STRING */

/* The metadata entry holding torch.export's range constraints of dynamic input sizes (written by the
 * converter, checked by the runtime on resize): {"ranges": [[subgraph, input position, dim, min,
 * max (-1: unbounded), multiple], ...]}; several entries of this name may each hold some rows. */
#define P2L_DYNAMIC_RANGES_METADATA "pt2lite_dynamic_ranges"

#endif
