#include "tflite/schema.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const p2l_op_info op_table[P2L_OP_COUNT] = {
#define X(name, code, options) [P2L_OP_##name] = {#name, code, P2L_OPTIONS_##options},
#include "tflite/ops.def"
#undef X
};

/* options.def as data; float defaults become bit patterns once, in build_options_table. */
typedef struct field_spec {
    const char *name;
    p2l_field_type type;
    double default_value;
} field_spec;

#define FIELD(type, name) {#name, P2L_OPTION_STORAGE_##type, 0},
#define FIELD_DEFAULT(type, name, value) {#name, P2L_OPTION_STORAGE_##type, value},
#define DEPRECATED_FIELD(name) {NULL, P2L_FIELD_NONE, 0},
static const struct {
    const char *name;
    int union_code;
    field_spec fields[P2L_MAX_OPTION_FIELDS];
} options_spec[P2L_OPTIONS_COUNT] = {
#define X(NAME, member, code, fields) [P2L_OPTIONS_##NAME] = {#NAME, code, {fields}},
#define NO_FIELDS(NAME, code) [P2L_OPTIONS_##NAME] = {#NAME, code, {{0}}},
#include "tflite/options.def"
#undef X
#undef NO_FIELDS
};
#undef FIELD
#undef FIELD_DEFAULT
#undef DEPRECATED_FIELD

/* Field ids per table: each field adds one. */
#define FIELD(type, name) +1
#define FIELD_DEFAULT(type, name, value) +1
#define DEPRECATED_FIELD(name) +1
static const int8_t options_field_count[P2L_OPTIONS_COUNT] = {
#define X(NAME, member, code, fields) [P2L_OPTIONS_##NAME] = 0 fields,
#define NO_FIELDS(NAME, code) [P2L_OPTIONS_##NAME] = 0,
#include "tflite/options.def"
#undef X
#undef NO_FIELDS
};
#undef FIELD
#undef FIELD_DEFAULT
#undef DEPRECATED_FIELD

static p2l_options_info options_table[P2L_OPTIONS_COUNT];

static void build_options_table(void) {
    for (int k = 0; k < P2L_OPTIONS_COUNT; k++) {
        p2l_options_info *info = &options_table[k];
        info->name = options_spec[k].name;
        info->union_code = options_spec[k].union_code;
        info->field_count = options_field_count[k];
        for (int id = 0; id < info->field_count; id++) {
            const field_spec *spec = &options_spec[k].fields[id];
            p2l_field *f = &info->fields[id];
            f->name = spec->name;
            f->type = spec->type;
            f->default_value = f->type == P2L_FIELD_F32 ? p2l_f32_bits((float)spec->default_value)
                                                        : (int64_t)spec->default_value;
        }
    }
}

static void ensure_tables(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_options_table);
}

const p2l_op_info *p2l_op_info_of(p2l_op op) {
    return (unsigned)op < P2L_OP_COUNT ? &op_table[op] : NULL;
}

const p2l_options_info *p2l_options_info_of(p2l_options_kind kind) {
    ensure_tables();
    return (unsigned)kind < P2L_OPTIONS_COUNT ? &options_table[kind] : NULL;
}

int p2l_op_from_builtin(int code) {
    for (int i = 0; i < P2L_OP_COUNT; i++)
        if (op_table[i].builtin_code == code) return i;
    return -1;
}

int p2l_option_field(p2l_op op, const char *name) {
    const p2l_op_info *info = p2l_op_info_of(op);
    if (!info) return -1;
    const p2l_options_info *opts = p2l_options_info_of(info->options);
    for (int i = 0; i < opts->field_count; i++)
        if (opts->fields[i].name && strcmp(opts->fields[i].name, name) == 0) return i;
    return -1;
}

size_t p2l_dtype_size(p2l_dtype dtype) {
    switch (dtype) {
    case P2L_FLOAT32: case P2L_INT32: return 4;
    case P2L_RESOURCE: return 4; /* the runtime stores the variable's index (runtime/variables.h) */
    case P2L_FLOAT16: case P2L_INT16: return 2;
    case P2L_UINT8: case P2L_INT8: case P2L_BOOL: return 1;
    case P2L_INT64: case P2L_FLOAT64: return 8;
    default: return 0;
    }
}

const char *p2l_dtype_name(p2l_dtype dtype) {
    switch (dtype) {
    case P2L_FLOAT32: return "float32";
    case P2L_FLOAT16: return "float16";
    case P2L_INT32: return "int32";
    case P2L_UINT8: return "uint8";
    case P2L_INT64: return "int64";
    case P2L_STRING: return "string";
    case P2L_BOOL: return "bool";
    case P2L_INT16: return "int16";
    case P2L_INT8: return "int8";
    case P2L_FLOAT64: return "float64";
    case P2L_RESOURCE: return "resource";
    case P2L_INT4: return "int4";
    default: return "unknown";
    }
}
