/* The .pt2 archive (torch.export.save) read into an ATen-level graph.
 *
 * Values are the graph's tensors (user inputs, parameters, buffers, constants, activations). Nodes
 * are ATen calls whose arguments are complete: anything the archive left out is filled from the
 * op's schema default (src/pt2/aten_schemas.inc). Weight bytes point into the archive (zero-copy)
 * unless they had to be gathered from a strided view. */
#ifndef P2L_PT2_PT2_H
#define P2L_PT2_PT2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/strmap.h"
#include "tflite/schema.h" /* p2l_dtype_size, p2l_dtype_name */

typedef enum p2l_arg_kind {
    P2L_ARG_NONE,
    P2L_ARG_TENSOR,
    P2L_ARG_TENSORS,      /* Tensor[] and Tensor?[] (ints = value ids, -1 for None) */
    P2L_ARG_INT,
    P2L_ARG_INTS,
    P2L_ARG_FLOAT,
    P2L_ARG_FLOATS,
    P2L_ARG_BOOL,
    P2L_ARG_BOOLS,
    P2L_ARG_STRING,
    P2L_ARG_SCALAR_TYPE,  /* i = torch ScalarType code of the archive schema */
    P2L_ARG_OTHER,        /* device, layout, memory format, ...: accepted, not interpreted */
} p2l_arg_kind;

typedef struct p2l_arg {
    const char *name;
    p2l_arg_kind kind;
    bool symbolic;   /* an int (or an element of ints) is a symbol, not a number */
    const char *sym; /* INT: the symbol's sympy expression (see p2l_symint) when symbolic, else NULL */
    const char **syms; /* INTS: per element, the expression of a symbolic one, else NULL (NULL: none) */
    int64_t i;       /* INT, BOOL, SCALAR_TYPE; TENSOR: value id */
    double f;        /* FLOAT */
    const char *s;   /* STRING */
    int count;       /* INTS, FLOATS, BOOLS, TENSORS */
    int64_t *ints;   /* INTS, BOOLS (0/1), TENSORS (value ids) */
    double *floats;  /* FLOATS */
} p2l_arg;

typedef enum p2l_value_kind {
    P2L_VALUE_ACTIVATION,
    P2L_VALUE_USER_INPUT,
    P2L_VALUE_PARAMETER,
    P2L_VALUE_BUFFER,
    P2L_VALUE_CONSTANT,
    P2L_VALUE_STATE,    /* a buffer forward() mutates: data is its value at export (a variable's initial value) */
} p2l_value_kind;

typedef struct p2l_value {
    const char *name;
    p2l_value_kind kind;
    p2l_dtype dtype;    /* -1 when the archive's dtype has no TFLite equivalent (see torch_dtype) */
    int torch_dtype;    /* the archive's ScalarType code */
    int rank;
    int64_t dims[P2L_MAX_DIMS]; /* -1 for a symbolic size */
    const char *sym[P2L_MAX_DIMS]; /* a symbolic size's sympy expression ("Mul(Integer(2), Symbol('s0', ...))") */
    int64_t sample[P2L_MAX_DIMS];  /* a symbolic size's value in the export's example inputs (0: not recorded) */
    const void *data;   /* parameters, buffers, constants */
    void *owned;        /* set when data had to be copied */
    size_t nbytes;
    const char *fqn;    /* parameters and buffers: the state_dict name ("bn.running_mean") */
} p2l_value;

/* A buffer forward() mutates (torch.export's BUFFER_MUTATION output): the new value replaces the
 * buffer's after the call. */
typedef struct p2l_buffer_mutation {
    int buffer;    /* value id of the buffer as forward() reads it (kind P2L_VALUE_STATE) */
    int new_value; /* value id of the value it holds after the call */
} p2l_buffer_mutation;

typedef struct p2l_aten_node {
    const char *name;         /* "convolution_3" */
    const char *target;       /* "convolution.default" (the "torch.ops.aten." prefix dropped; other namespaces keep theirs) */
    const char *schema;       /* NULL when the op is not in the schema table */
    int nargs;
    p2l_arg *args;            /* schema order */
    int noutputs;
    int *outputs;             /* value ids, -1 for an output the archive does not name */
    const char *module_path;  /* "layer1.0.conv1" from nn_module_stack, "" at top level */
    const char *source;       /* "resnet.py:285: return self._forward_impl(x)" or "" */
    const char *sym_output;   /* the expression of a symbolic int result (sym_size, symbolic arithmetic) */
} p2l_aten_node;

/* A named symbolic int of the graph (graph.sym_int_values): its sympy expression (srepr form, as
 * torch.export writes it) and the value it had for the sample inputs. */
typedef struct p2l_symint {
    const char *name;
    const char *expr;
    int64_t hint;
} p2l_symint;

/* A range constraint of torch.export: symbol ("s77") in [min, max] (max INT64_MAX when unbounded). */
typedef struct p2l_sym_range {
    const char *symbol;
    int64_t min, max;
} p2l_sym_range;

typedef struct p2l_exported {
    p2l_arena arena;
    P2L_VEC(p2l_value) values;
    P2L_VEC(p2l_aten_node) nodes;
    P2L_VEC(int) user_inputs;  /* value ids, in forward() order */
    P2L_VEC(int) user_outputs; /* value ids */
    P2L_VEC(p2l_buffer_mutation) buffer_mutations; /* in the order of the graph signature */
    /* The module's output structure: positions of None among the returned leaves (outputs that are no
     * tensor of the model), and the serialized pytree spec of the whole (module_call_graph's root
     * out_spec; NULL when the archive has none). */
    P2L_VEC(int) none_outputs;
    const char *out_spec;
    p2l_strmap value_ids;      /* name -> value id */
    const char *torch_version;
    P2L_VEC(p2l_symint) symints;  /* graph.sym_int_values */
    p2l_strmap symint_ids;        /* name -> index in symints */
    P2L_VEC(p2l_sym_range) ranges; /* range_constraints */
} p2l_exported;

p2l_status p2l_pt2_read(const uint8_t *data, size_t size, p2l_exported *out);
/* p2l_pt2_read, with the weights of entry `program` of `weights` (p2l_convert_options.weights) read from
 * the caller's memory (borrowed: they must outlive `out`) instead of the archive. */
p2l_status p2l_pt2_read_with_weights(const uint8_t *data, size_t size, const p2l_external_weight *weights,
                                     size_t weight_count, size_t program, p2l_exported *out);
void p2l_exported_free(p2l_exported *ep);

/* Argument by schema name, or NULL. */
const p2l_arg *p2l_node_arg(const p2l_aten_node *node, const char *name);
/* "node 'conv2d_3' (aten.convolution.default) at resnet.py:285" into buf. */
const char *p2l_node_describe(const p2l_aten_node *node, char *buf, size_t size);
/* Whether the schema table knows this "op.overload", and whether it is core ATen. */
bool p2l_aten_known(const char *target, bool *is_core);
/* Iterates the schema table: returns the i-th "op.overload" or NULL past the end. */
const char *p2l_aten_schema_name(int i, bool *is_core);

#endif
