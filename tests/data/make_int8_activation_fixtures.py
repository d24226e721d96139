"""Makes int8 SOFTMAX and HARD_SWISH fixtures for tests/python/test_int8_runtime.py from litert-torch's.

litert-torch keeps softmax and hard-swish in float (DEQUANTIZE, the float op); TFLite also has int8
forms of both. This rewrites litert-torch's softmax.tflite and hardswish.tflite (tests/data/int8) so
that the op reads the int8 tensor the DEQUANTIZE read and writes int8, with the output quantization
TFLite's int8 softmax expects (scale 1/256, zero point -128) and, for hard-swish, one covering its
output range. Both runtimes then run the same file. Needs only the flatbuffers package and LiteRT's
schema module:

    ~/.cache/pt2lite/venv/bin/python tests/data/make_int8_activation_fixtures.py
"""
import os

import flatbuffers
from ai_edge_litert import schema_py_generated as S

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "int8")


def load(name):
    with open(os.path.join(DATA, name + ".tflite"), "rb") as f:
        return S.ModelT.InitFromObj(S.Model.GetRootAsModel(f.read(), 0))


def save(model, name):
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    with open(os.path.join(DATA, name + ".tflite"), "wb") as f:
        f.write(b.Output())


def quantization(scale, zero_point):
    q = S.QuantizationParametersT()
    q.scale, q.zeroPoint = [scale], [zero_point]
    return q


def op_name(model, op):
    return next(k for k, v in vars(S.BuiltinOperator).items()
                if v == model.operatorCodes[op.opcodeIndex].builtinCode)


def drop_dequantize(model, target, scale, zero_point):
    """The `target` op reads the DEQUANTIZE's int8 input; its output (and every later tensor, which
    only moves data) becomes int8 with (scale, zero_point)."""
    sg = model.subgraphs[0]
    ops = sg.operators
    dq = next(i for i, op in enumerate(ops) if op_name(model, op) == "DEQUANTIZE")
    op = ops[dq + 1]
    assert op_name(model, op) == target
    op.inputs = [ops[dq].inputs[0]]
    del ops[dq]
    for later in ops[dq:]:
        for t in later.outputs:
            sg.tensors[t].type = S.TensorType.INT8
            sg.tensors[t].quantization = quantization(scale, zero_point)


def main():
    softmax = load("softmax")
    drop_dequantize(softmax, "SOFTMAX", 1 / 256, -128)
    save(softmax, "softmax_int8")
    # The conv's output range is about [-3.7, 3.8]; hard-swish maps it into [-0.375, 3.8].
    hardswish = load("hardswish")
    drop_dequantize(hardswish, "HARD_SWISH", 4.2 / 255, -105)
    save(hardswish, "hardswish_int8")


if __name__ == "__main__":
    main()
