"""The int8 recipe's calibration (docs/quantization.md, "Recipe int8").

pt2lite's C runtime runs the float conversion of the model and records the range of every float
activation (p2l_calibration, src/runtime/calibration.c); the converter then reads those ranges when
it converts the same archive again with quantize="int8". Python only feeds the calibration inputs."""

import ctypes
import os
import sys
import time

from ._native import check, lib

_vp = ctypes.c_void_p
lib.p2l_calibration_create.argtypes = [ctypes.POINTER(_vp)]
lib.p2l_calibration_create.restype = ctypes.c_int
lib.p2l_calibration_free.argtypes = [_vp]
lib.p2l_calibration_free.restype = None
lib.p2l_calibration_record.argtypes = [_vp, _vp, ctypes.c_int]
lib.p2l_calibration_record.restype = ctypes.c_int
lib.p2l_calibration_invocations.argtypes = [_vp]
lib.p2l_calibration_invocations.restype = ctypes.c_long
lib.p2l_calibration_range.argtypes = [_vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_float),
                                      ctypes.POINTER(ctypes.c_float)]
lib.p2l_calibration_range.restype = ctypes.c_int


class Calibration:
    """Activation ranges recorded by pt2lite's runtime (a p2l_calibration)."""

    def __init__(self):
        handle = _vp()
        check(lib.p2l_calibration_create(ctypes.byref(handle)))
        self.handle = handle

    def __del__(self):
        if getattr(self, "handle", None):
            lib.p2l_calibration_free(self.handle)
            self.handle = None

    def record(self, interpreter, subgraph=0):
        """Widens the ranges with what the last invoke of `interpreter` (a pt2lite.Interpreter created
        with experimental_preserve_all_tensors=True) left in its float tensors."""
        check(lib.p2l_calibration_record(self.handle, interpreter._handle, subgraph), "calibration")

    @property
    def invocations(self):
        return lib.p2l_calibration_invocations(self.handle)

    def range(self, tensor, subgraph="serving_default"):
        """(min, max) recorded for the tensor of that name in the float file."""
        low, high = ctypes.c_float(), ctypes.c_float()
        check(lib.p2l_calibration_range(self.handle, subgraph.encode(), tensor.encode(), ctypes.byref(low),
                                        ctypes.byref(high)))
        return low.value, high.value


def calibrate(float_flatbuffer, in_spec, calibration) -> Calibration:
    """Runs the float .tflite on each argument tuple of `calibration` in pt2lite's runtime, recording
    the ranges after each call."""
    from .interpreter import Interpreter
    from .model import EdgeModel

    edge = EdgeModel(float_flatbuffer, in_spec=in_spec, backend="pt2lite", name="the float model (calibration)")
    # Every intermediate keeps its memory, so the ranges are read after invoke (no hook per op).
    interpreter = Interpreter(model_content=edge.model_content(), experimental_preserve_all_tensors=True)
    edge._shared_interpreter = interpreter
    subgraph = edge._signature_runner(None)[0]._subgraph
    ranges = Calibration()
    for args in calibration:
        edge(*(args if isinstance(args, tuple) else (args,)))
        ranges.record(interpreter, subgraph)
    return ranges


def convert_calibrated(program, directory, calibration, io_dtype=None, verbose=False) -> str:
    """quantize="int8": the float conversion, its calibration in pt2lite's runtime, then the int8
    conversion of the same program with those ranges (all three in C), through files in `directory`
    (convert.convert_files). Returns the int8 model's path."""
    from .convert import convert_files

    float_path = convert_files([("serving_default", program)], directory, verbose=verbose)
    with open(float_path, "rb") as f:
        float_flatbuffer = f.read()
    os.remove(float_path)
    start = time.perf_counter()
    ranges = calibrate(float_flatbuffer, program.call_spec.in_spec, calibration)
    if verbose:
        print(f"pt2lite: {'calibrate':<10} {time.perf_counter() - start:8.3f} s ({ranges.invocations} inputs)",
              file=sys.stderr, flush=True)
    return convert_files([("serving_default", program)], directory, verbose=verbose, quantize="int8",
                         calibration=ranges.handle.value, io_dtype=io_dtype)
