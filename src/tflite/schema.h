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
#define X(name, code, fields) P2L_OPTIONS_##name,
#include "tflite/options.def"
#undef X
    P2L_OPTIONS_COUNT
} p2l_options_kind;

enum { P2L_MAX_OPTION_FIELDS = 8 };

typedef enum p2l_field_type {
    P2L_FIELD_NONE = 0, /* a deprecated id, never written */
    P2L_FIELD_I8,
    P2L_FIELD_I32,
    P2L_FIELD_BOOL,
    P2L_FIELD_F32,
    P2L_FIELD_I64,
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

/* Fused activation and padding enums of the schema. */
enum { P2L_ACT_NONE = 0, P2L_ACT_RELU = 1, P2L_ACT_RELU_N1_TO_1 = 2, P2L_ACT_RELU6 = 3, P2L_ACT_TANH = 4 };
enum { P2L_PAD_SAME = 0, P2L_PAD_VALID = 1 };
enum { P2L_MIRROR_REFLECT = 0, P2L_MIRROR_SYMMETRIC = 1 };

/* Tensor types (p2l_dtype values are the schema's codes; p2l_dtype_name is in pt2lite.h). */
size_t p2l_dtype_size(p2l_dtype dtype);      /* 0 for unknown or STRING */

#endif
