"""The int8 recipe's calibration (docs/quantization.md, "Recipe int8").

pt2lite's C runtime runs the float conversion of the model and records the range of every float
activation (p2l_calibration, src/runtime/calibration.c); the converter then reads those ranges when
it converts the same archive again with quantize="int8". Python only feeds the calibration inputs."""

import ctypes
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


def convert_calibrated(archive, in_spec, calibration, io_dtype=None, verbose=False) -> bytes:
    """quantize="int8": the float conversion, its calibration in pt2lite's runtime, then the int8
    conversion of the same archive with those ranges (all three in C)."""
    from .convert import _take_bytes, convert_options, convert_pt2

    float_flatbuffer = convert_pt2(archive, verbose=verbose)
    start = time.perf_counter()
    ranges = calibrate(float_flatbuffer, in_spec, calibration)
    if verbose:
        print(f"pt2lite: {'calibrate':<10} {time.perf_counter() - start:8.3f} s ({ranges.invocations} inputs)",
              file=sys.stderr, flush=True)
    options = convert_options(verbose=verbose, quantize="int8", calibration=ranges.handle.value, io_dtype=io_dtype)
    out, size = ctypes.c_void_p(), ctypes.c_size_t()
    check(lib.p2l_convert(archive, len(archive), ctypes.byref(options), ctypes.byref(out), ctypes.byref(size)),
          "conversion failed")
    return _take_bytes(out, size)
