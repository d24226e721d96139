/* Module state in pt2lite's runtime: resource variables persist from one invoke to the next within an
 * interpreter, each interpreter has its own, and p2l_interpreter_reset_state starts over.
 * tests/data/state/counter.tflite is the converter's output for (tests/python/test_state.py's Counter)
 *     self.count.add_(1); return x + self.count        # count: zeros(1), x: float32[2]
 * (subgraph 0: CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ADD, ADD, ASSIGN_VARIABLE; subgraph 1, the
 * initializer: VAR_HANDLE, ASSIGN_VARIABLE of the constant 0), which LiteRT runs the same way. */
#include "check.h"
#include "pt2lite.h"

#ifndef P2L_SOURCE_DIR
#error "P2L_SOURCE_DIR (the source tree) must be defined"
#endif

static p2l_model *load_counter(void) {
    p2l_model *model = NULL;
    CHECK_EQ_INT(p2l_model_load_file(P2L_SOURCE_DIR "/tests/data/state/counter.tflite", &model), P2L_OK);
    return model;
}

/* One call: x + count after count += 1; returns the first output element minus x[0]: the count. */
static float call(p2l_interpreter *it) {
    const float x[2] = {0.5f, -1.0f};
    float y[2] = {0, 0};
    CHECK_EQ_INT(p2l_interpreter_set_input(it, 0, x, sizeof x), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_invoke(it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_get_output(it, 0, y, sizeof y), P2L_OK);
    CHECK(y[1] - x[1] == y[0] - x[0]);
    return y[0] - x[0];
}

static void test_state_persists_per_interpreter(void) {
    p2l_model *model = load_counter();
    if (!model) return;
    p2l_interpreter *a = NULL, *b = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &a), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &b), P2L_OK);
    for (int i = 1; i <= 3; i++) CHECK(call(a) == (float)i);
    CHECK(call(b) == 1.0f); /* its own variables, initialized on its first invoke */
    CHECK(call(a) == 4.0f);
    p2l_interpreter_free(a);
    p2l_interpreter_free(b);
    p2l_model_free(model);
}

static void test_reset_state_restores_initial_values(void) {
    p2l_model *model = load_counter();
    if (!model) return;
    p2l_interpreter *it = NULL;
    CHECK_EQ_INT(p2l_interpreter_create(model, NULL, &it), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_reset_state(it), P2L_OK); /* before any invoke: nothing to undo */
    CHECK(call(it) == 1.0f);
    CHECK(call(it) == 2.0f);
    CHECK_EQ_INT(p2l_interpreter_reset_state(it), P2L_OK);
    CHECK(call(it) == 1.0f);
    /* a new allocation (after a resize to the same shape) keeps the values */
    const int32_t dims[1] = {2};
    CHECK_EQ_INT(p2l_interpreter_resize_input(it, 0, 1, dims), P2L_OK);
    CHECK_EQ_INT(p2l_interpreter_allocate(it), P2L_OK);
    CHECK(call(it) == 2.0f);
    p2l_interpreter_free(it);
    p2l_model_free(model);
}

static void test_reset_state_of_nothing_fails(void) {
    CHECK_EQ_INT(p2l_interpreter_reset_state(NULL), P2L_ERROR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("p2l_interpreter_reset_state");
}

int main(void) {
    RUN(test_state_persists_per_interpreter);
    RUN(test_reset_state_restores_initial_values);
    RUN(test_reset_state_of_nothing_fails);
    return check_summary();
}
