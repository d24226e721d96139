/* Reading a model without an interpreter (p2l_model_op, p2l_model_tensor_info, ...: what
 * `pt2lite inspect` prints), on a small model built here with known contents. */
#include <stdlib.h>

#include "check.h"
#include "pt2lite.h"
#include "test_runtime_builder.h"

static const float ramp4[4] = {1, 2, 3, 4};

static p2l_model *load_chain(int subgraphs) {
    tm_model m = tm_chain_model(ramp4); /* x + c -> RELU -> * two = y */
    m.subgraph_copies = subgraphs;
    size_t size;
    uint8_t *bytes = tm_build(&m, &size);
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load(bytes, size, P2L_MODEL_COPY | P2L_MODEL_VERIFY_ONLY, &model), P2L_OK);
    free(bytes);
    return model;
}

static void test_file_and_subgraphs(void) {
    p2l_model *model = load_chain(2);
    CHECK_EQ_INT(p2l_model_schema_version(model), 3);
    CHECK(strcmp(p2l_model_description(model), "pt2lite test model") == 0);
    CHECK_EQ_INT(p2l_model_subgraph_count(model), 2);
    for (int g = 0; g < 2; g++) {
        CHECK(p2l_model_subgraph_name(model, g) && strcmp(p2l_model_subgraph_name(model, g), "main") == 0);
        CHECK_EQ_INT(p2l_model_subgraph_tensor_count(model, g), 6);
        CHECK_EQ_INT(p2l_model_subgraph_op_count(model, g), 3);
    }
    CHECK(p2l_model_subgraph_name(model, 2) == NULL);
    CHECK_EQ_INT(p2l_model_subgraph_tensor_count(model, -1), 0);
    CHECK_EQ_INT(p2l_model_subgraph_op_count(model, 2), 0);
    CHECK(p2l_model_description(NULL) == NULL);
    CHECK_EQ_INT(p2l_model_schema_version(NULL), 0);
    p2l_model_free(model);
}

static void test_ops(void) {
    p2l_model *model = load_chain(1);
    static const char *names[3] = {"ADD", "RELU", "MUL"};
    static const int codes[3] = {0, 19, 18};
    for (int i = 0; i < 3; i++) {
        const char *name = NULL;
        int code = -1;
        CHECK_EQ_INT(p2l_model_op(model, 0, i, &name, &code), P2L_OK);
        CHECK(name && strcmp(name, names[i]) == 0);
        CHECK_EQ_INT(code, codes[i]);
    }
    CHECK_EQ_INT(p2l_model_op(model, 0, 1, NULL, NULL), P2L_OK); /* outputs are optional */
    CHECK_EQ_INT(p2l_model_op(model, 0, 3, NULL, NULL), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("subgraph 0 has 3 ops; index 3");
    CHECK_EQ_INT(p2l_model_op(model, 1, 0, NULL, NULL), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("no subgraph 1");
    CHECK_EQ_INT(p2l_model_op(NULL, 0, 0, NULL, NULL), P2L_ERROR_INVALID_ARGUMENT);
    p2l_model_free(model);
}

static void test_tensors(void) {
    p2l_model *model = load_chain(1);
    p2l_tensor_info info = {.size = sizeof info};
    /* x: an input of shape [1, 4] with a dynamic first dim */
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 0, &info), P2L_OK);
    CHECK(strcmp(info.name, "x") == 0);
    CHECK_EQ_INT(info.dtype, P2L_FLOAT32);
    CHECK_EQ_INT(info.rank, 2);
    CHECK(info.dims[0] == 1 && info.dims[1] == 4);
    CHECK(info.dims_signature[0] == -1 && info.dims_signature[1] == 4);
    CHECK_EQ_INT(info.bytes, 16);
    CHECK(!info.is_constant);
    /* c: a constant of 4 floats, two: of 1 */
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 1, &info), P2L_OK);
    CHECK(strcmp(info.name, "c") == 0 && info.is_constant && info.bytes == 16 && info.rank == 1);
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 2, &info), P2L_OK);
    CHECK(strcmp(info.name, "two") == 0 && info.is_constant && info.bytes == 4);
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 5, &info), P2L_OK);
    CHECK(strcmp(info.name, "y") == 0 && !info.is_constant);
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 6, &info), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("subgraph 0 has 6 tensors; index 6");
    CHECK_EQ_INT(p2l_model_tensor_info(model, 0, 0, NULL), P2L_ERROR_INVALID_ARGUMENT);
    p2l_model_free(model);
}

static void test_dtype_names(void) {
    CHECK(strcmp(p2l_dtype_name(P2L_FLOAT32), "float32") == 0);
    CHECK(strcmp(p2l_dtype_name(P2L_INT64), "int64") == 0);
    CHECK(strcmp(p2l_dtype_name(P2L_BOOL), "bool") == 0);
    CHECK(strcmp(p2l_dtype_name((p2l_dtype)8), "unknown") == 0); /* COMPLEX64: not a p2l_dtype */
}

int main(void) {
    (void)tm_option; /* a builder helper this file does not need */
    RUN(test_file_and_subgraphs);
    RUN(test_ops);
    RUN(test_tensors);
    RUN(test_dtype_names);
    return check_summary();
}
