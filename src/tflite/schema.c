#include "tflite/schema.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const p2l_op_info op_table[P2L_OP_COUNT] = {
#define X(name, code, options) [P2L_OP_##name] = {#name, code, P2L_OPTIONS_##options},
#include "tflite/ops.def"
#undef X
};

static const struct {
    const char *name;
    int union_code;
    const char *fields;
} options_spec[P2L_OPTIONS_COUNT] = {
#define X(name, code, fields) [P2L_OPTIONS_##name] = {#name, code, fields},
#include "tflite/options.def"
#undef X
};

static p2l_options_info options_table[P2L_OPTIONS_COUNT];

/* Parses the field strings of options.def once ("i:stride_w b:padding f:beta=1 _"). The table is
 * a compile-time constant, so a malformed row is a programming error caught by the unit tests. */
static void parse_options_table(void) {
    static char names[P2L_OPTIONS_COUNT][P2L_MAX_OPTION_FIELDS][48];
    for (int k = 0; k < P2L_OPTIONS_COUNT; k++) {
        p2l_options_info *info = &options_table[k];
        info->name = options_spec[k].name;
        info->union_code = options_spec[k].union_code;
        const char *s = options_spec[k].fields;
        int id = 0;
        while (*s && id < P2L_MAX_OPTION_FIELDS) {
            while (*s == ' ') s++;
            if (!*s) break;
            size_t len = strcspn(s, " ");
            p2l_field *f = &info->fields[id];
            if (s[0] != '_') {
                static const char codes[] = "biBfl";
                static const p2l_field_type types[] = {P2L_FIELD_I8, P2L_FIELD_I32, P2L_FIELD_BOOL,
                                                       P2L_FIELD_F32, P2L_FIELD_I64};
                f->type = types[strchr(codes, s[0]) - codes];
                size_t name_len = strcspn(s + 2, " =");
                memcpy(names[k][id], s + 2, name_len < 47 ? name_len : 47);
                f->name = names[k][id];
                if (s[2 + name_len] == '=') {
                    double v = strtod(s + 3 + name_len, NULL);
                    f->default_value = f->type == P2L_FIELD_F32 ? p2l_f32_bits((float)v) : (int64_t)v;
                }
            }
            id++;
            s += len;
        }
        info->field_count = id;
    }
}

static void ensure_tables(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, parse_options_table);
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
    default: return "unknown";
    }
}
