/* Typed options: node->opts from the field values the file holds, both laid out by options.def. */
#include <string.h>

#include "kernels/kernels.h"

/* One field from its raw value: floats are bit patterns, int vectors come beside the fields. */
#define DECODE(field, raw) \
    field = _Generic(field, float: p2l_bits_f32(raw), p2l_option_ints: ints, const char *: (const char *)(intptr_t)(raw), \
                     default: (raw))
#define FIELD(type, name) DECODE(t->name, raw[id]); id++;
#define FIELD_DEFAULT(type, name, value) FIELD(type, name)
#define DEPRECATED_FIELD(name) id++;
#define X(NAME, member, code, fields)                 \
    case P2L_OPTIONS_##NAME: {                        \
        p2l_##member##_options *t = &node->opts.member; \
        int id = 0;                                   \
        fields                                        \
        break;                                        \
    }
#define NO_FIELDS(NAME, code)

void p2l_parse_options(p2l_node *node) {
    memset(&node->opts, 0, sizeof node->opts);
    const p2l_op_info *op = p2l_op_info_of(node->op);
    if (!op) return;
    const p2l_options_kind kind = op->options;
    int64_t defaults[P2L_MAX_OPTION_FIELDS];
    const int64_t *raw = node->options;
    if (!raw) {
        const p2l_options_info *info = p2l_options_info_of(kind);
        for (int i = 0; i < info->field_count; i++) defaults[i] = info->fields[i].default_value;
        raw = defaults;
    }
    const p2l_option_ints ints = {node->option_ints, node->option_int_count, node->has_option_ints};
    switch (kind) {
#include "tflite/options.def"
    default: break;
    }
}

#undef FIELD
#undef DEPRECATED_FIELD
#undef X
#define DEPRECATED_FIELD(name)
/* The one field of type ACTIVATION a table may have. */
#define ACTIVATION_OF_ACTIVATION(field) return field;
#define ACTIVATION_OF_I8(field)
#define ACTIVATION_OF_I32(field)
#define ACTIVATION_OF_BOOL(field)
#define ACTIVATION_OF_F32(field)
#define ACTIVATION_OF_I64(field)
#define ACTIVATION_OF_I32S(field)
#define ACTIVATION_OF_STRING(field)
#define ACTIVATION_OF_PADDING(field)
#define ACTIVATION_OF_MIRROR_PAD_MODE(field)
#define ACTIVATION_OF_TENSOR_TYPE(field)
#define FIELD(type, name) ACTIVATION_OF_##type(t->name)
#define X(NAME, member, code, fields)                       \
    case P2L_OPTIONS_##NAME: {                              \
        const p2l_##member##_options *t = &node->opts.member; \
        (void)t;                                            \
        fields                                              \
        break;                                              \
    }

p2l_activation p2l_fused_activation(const p2l_node *node) {
    switch (p2l_op_info_of(node->op)->options) {
#include "tflite/options.def"
    default: break;
    }
    return P2L_ACT_NONE;
}
