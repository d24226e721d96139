"""pt2lite's own runtime for .tflite files, with the interface of
``ai_edge_litert.interpreter.Interpreter`` (replacing the import is enough to switch runtimes).

All logic is in C (include/pt2lite.h, runtime section); this module only declares the C functions
and marshals numpy arrays."""

import ctypes
import os
import weakref

import numpy as np

from ._native import Pt2liteError, check, lib

_MAX_DIMS = 8
_c_int_p = ctypes.POINTER(ctypes.c_int)


class _TensorInfo(ctypes.Structure):
    # pt2lite.h's p2l_tensor_info; `size` is set to this struct's size before each call.
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int),
        ("dims", ctypes.c_int32 * _MAX_DIMS),
        ("dims_signature", ctypes.c_int32 * _MAX_DIMS),
        ("bytes", ctypes.c_size_t),
        ("is_constant", ctypes.c_int),
        ("quant_count", ctypes.c_int),
        ("quantized_dimension", ctypes.c_int),
        ("scale", ctypes.c_float),
        ("zero_point", ctypes.c_int64),
    ]


_PRESERVE_ALL_TENSORS = 4  # pt2lite.h: P2L_INTERPRETER_PRESERVE_ALL_TENSORS


class _InterpreterOptions(ctypes.Structure):
    # pt2lite.h's p2l_interpreter_options; `size` is set to this struct's size (see "option structs").
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("num_threads", ctypes.c_int),
        ("kernels", ctypes.c_int),
        ("flags", ctypes.c_uint),
    ]


def _declare(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_vp, _int, _st = ctypes.c_void_p, ctypes.c_int, ctypes.c_int
_declare("p2l_model_load", _st, _vp, ctypes.c_size_t, ctypes.c_uint, ctypes.POINTER(_vp))
_declare("p2l_model_load_file", _st, ctypes.c_char_p, ctypes.POINTER(_vp))
_declare("p2l_model_free", None, _vp)
_declare("p2l_model_subgraph_count", _int, _vp)
_declare("p2l_model_subgraph_input_count", _int, _vp, _int)
_declare("p2l_model_subgraph_output_count", _int, _vp, _int)
_declare("p2l_model_subgraph_input", _st, _vp, _int, _int, _c_int_p)
_declare("p2l_model_subgraph_output", _st, _vp, _int, _int, _c_int_p)
_declare("p2l_model_signature_count", _int, _vp)
_declare("p2l_model_signature_key", ctypes.c_char_p, _vp, _int)
_declare("p2l_model_find_signature", _st, _vp, ctypes.c_char_p, _c_int_p)
_declare("p2l_model_signature_subgraph", _st, _vp, _int, _c_int_p)
_declare("p2l_model_signature_io_count", _int, _vp, _int, _int)
_declare("p2l_model_signature_io", _st, _vp, _int, _int, _int, ctypes.POINTER(ctypes.c_char_p), _c_int_p)
_declare("p2l_interpreter_create", _st, _vp, ctypes.POINTER(_InterpreterOptions), ctypes.POINTER(_vp))
_declare("p2l_interpreter_free", None, _vp)
_declare("p2l_interpreter_model", _vp, _vp)
_declare("p2l_interpreter_allocate", _st, _vp)
_declare("p2l_interpreter_tensor_info", _st, _vp, _int, _int, ctypes.POINTER(_TensorInfo))
_declare("p2l_interpreter_set_tensor", _st, _vp, _int, _int, _vp, ctypes.c_size_t)
_declare("p2l_interpreter_get_tensor", _st, _vp, _int, _int, _vp, ctypes.c_size_t)
_declare("p2l_interpreter_tensor_data", _st, _vp, _int, _int, ctypes.POINTER(_vp))
_declare("p2l_interpreter_tensor_const_data", _st, _vp, _int, _int, ctypes.POINTER(_vp))
_declare("p2l_interpreter_resize_tensor", _st, _vp, _int, _int, _int, ctypes.POINTER(ctypes.c_int32))
_declare("p2l_interpreter_invoke_subgraph", _st, _vp, _int)
_declare("p2l_interpreter_reset_state", _st, _vp)
_declare("p2l_model_metadata", _st, _vp, ctypes.c_char_p, ctypes.POINTER(_vp), ctypes.POINTER(ctypes.c_size_t))
_declare("p2l_model_signature_check_input", _st, _vp, _int, _int, _int, ctypes.POINTER(ctypes.c_int64))
_declare("p2l_model_signature_check_input_values", _st, _vp, _int, _int, _vp, ctypes.c_size_t)

# LiteRT's words (interpreter.py, _ensure_safe) for a reallocation while tensor() views are alive.
_VIEWS_ALIVE = """There is at least 1 reference to internal data
      in the interpreter in the form of a numpy array or slice. Be sure to
      only hold the function returned from tensor() if you are using raw
      data access."""

class InterpreterError(Pt2liteError, ValueError):
    """An error of pt2lite's runtime: a model it refuses at load (malformed or unsupported), a bad
    tensor index, shape or resize. A RuntimeError (as Pt2liteError) and a ValueError: LiteRT raises
    one or the other for these, so code written for LiteRT catches it either way."""


def _check(status):
    try:
        check(status)
    except Pt2liteError as e:
        raise InterpreterError(e.status, str(e)) from None


def _last_error(status):
    return InterpreterError(status, lib.p2l_last_error().decode("utf-8", "replace"))


def _numpy_dtype_name(dtype):
    return {np.float32: "FLOAT32", np.float16: "FLOAT16", np.int32: "INT32", np.uint8: "UINT8",
            np.int64: "INT64", np.bool_: "BOOL", np.int16: "INT16", np.int8: "INT8",
            np.float64: "FLOAT64"}.get(np.dtype(dtype).type, str(np.dtype(dtype)).upper())


def _as_input(value, dtype, index, shape=None):
    """The array to copy into a tensor: LiteRT's rules (no implicit dtype conversion; the shape must
    match), so code written against either runtime behaves the same on the other."""
    array = np.asarray(value)
    if array.dtype != np.dtype(dtype):
        raise ValueError(f"Cannot set tensor: Got value of type {_numpy_dtype_name(array.dtype)} but expected type "
                         f"{_numpy_dtype_name(dtype)} for input {index}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"Cannot set tensor: Dimension mismatch. Got {array.shape} but expected {shape} for input "
                         f"{index}.")
    return np.ascontiguousarray(array)


_DTYPES = {
    0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
    6: np.bool_, 7: np.int16, 9: np.int8, 10: np.float64,
}


class Interpreter:
    """Runs a .tflite model with pt2lite's C runtime.

    Same constructor and methods as ``ai_edge_litert.interpreter.Interpreter`` for the common
    uses: allocate_tensors, get_input_details, get_output_details, set_tensor, invoke, get_tensor,
    tensor, resize_tensor_input, get_signature_list, get_signature_runner."""

    def __init__(self, model_path=None, model_content=None, experimental_delegates=None,
                 num_threads=None, experimental_preserve_all_tensors=False, **unused_litert_options):
        if (model_path is None) == (model_content is None):
            raise ValueError("pass exactly one of model_path and model_content")
        model = ctypes.c_void_p()
        self._handle = None
        self._views = []  # weak references to the buffers behind tensor() views
        if model_path is not None:
            _check(lib.p2l_model_load_file(os.fsencode(model_path), ctypes.byref(model)))
        else:
            # Zero-copy: the C model points into these bytes, which this object keeps alive.
            self._content = bytes(model_content)
            _check(lib.p2l_model_load(self._content, len(self._content), 0, ctypes.byref(model)))
        # LiteRT's -1 ("implementation-defined") and 0 (no multithreading) are the C default (1 thread);
        # other values go to C, which refuses negative and absurd counts.
        threads = 0 if num_threads is None or int(num_threads) == -1 else int(num_threads)
        # As LiteRT's: every intermediate tensor stays readable after invoke (get_tensor), for debugging.
        flags = _PRESERVE_ALL_TENSORS if experimental_preserve_all_tensors else 0
        options = _InterpreterOptions(size=ctypes.sizeof(_InterpreterOptions), num_threads=threads, flags=flags)
        handle = ctypes.c_void_p()
        status = lib.p2l_interpreter_create(model, ctypes.byref(options), ctypes.byref(handle))
        lib.p2l_model_free(model)  # the interpreter holds its own reference
        _check(status)
        self._handle = handle
        self._model = lib.p2l_interpreter_model(handle)

    def __del__(self):
        if getattr(self, "_handle", None):
            lib.p2l_interpreter_free(self._handle)
            self._handle = None

    # ------------------------------------------------------------------ tensors

    def _info(self, index, subgraph=0):
        info = _TensorInfo(size=ctypes.sizeof(_TensorInfo))
        status = lib.p2l_interpreter_tensor_info(self._handle, subgraph, int(index), ctypes.byref(info))
        if status != 0:
            raise _last_error(status)
        return info

    def _details(self, index, subgraph=0, name=None):
        info = self._info(index, subgraph)
        dtype = _DTYPES.get(info.dtype)
        scales = np.array([info.scale] if info.quant_count else [], dtype=np.float32)
        zero_points = np.array([info.zero_point] if info.quant_count else [], dtype=np.int32)
        return {
            "name": name if name is not None else info.name.decode("utf-8", "replace"),
            "index": int(index),
            "shape": np.array(info.dims[: info.rank], dtype=np.int32),
            "shape_signature": np.array(info.dims_signature[: info.rank], dtype=np.int32),
            "dtype": dtype,
            "quantization": (float(info.scale), int(info.zero_point)) if info.quant_count else (0.0, 0),
            "quantization_parameters": {
                "scales": scales,
                "zero_points": zero_points,
                "quantized_dimension": int(info.quantized_dimension),
                "block_size": 0,
            },
            "sparsity_parameters": {},
        }

    def _io_indices(self, outputs, subgraph=0):
        count_fn = lib.p2l_model_subgraph_output_count if outputs else lib.p2l_model_subgraph_input_count
        get_fn = lib.p2l_model_subgraph_output if outputs else lib.p2l_model_subgraph_input
        indices = []
        for i in range(count_fn(self._model, subgraph)):
            tensor = ctypes.c_int()
            check(get_fn(self._model, subgraph, i, ctypes.byref(tensor)))
            indices.append(tensor.value)
        return indices

    def _ensure_no_views(self):
        """Refuses what may move tensor memory while a tensor() view (or a slice of one) is alive:
        the view would point into freed memory (LiteRT refuses the same calls with the same words)."""
        self._views = [ref for ref in self._views if ref() is not None]
        if self._views:
            raise RuntimeError(_VIEWS_ALIVE)

    def allocate_tensors(self):
        self._ensure_no_views()
        check(lib.p2l_interpreter_allocate(self._handle))

    def get_input_details(self):
        return [self._details(t) for t in self._io_indices(False)]

    def get_output_details(self):
        return [self._details(t) for t in self._io_indices(True)]

    def get_tensor_details(self):
        details, index = [], 0
        while True:
            try:
                details.append(self._details(index))
            except ValueError:
                return details
            index += 1

    def _set(self, index, value, subgraph=0):
        info = self._info(index, subgraph)
        array = _as_input(value, _DTYPES.get(info.dtype), index, tuple(info.dims[: info.rank]))
        _check(lib.p2l_interpreter_set_tensor(self._handle, subgraph, int(index), array.ctypes.data, array.nbytes))

    def _get(self, index, subgraph=0):
        info = self._info(index, subgraph)
        array = np.empty(tuple(info.dims[: info.rank]), dtype=_DTYPES.get(info.dtype))
        _check(lib.p2l_interpreter_get_tensor(self._handle, subgraph, int(index), array.ctypes.data, array.nbytes))
        return array

    def set_tensor(self, tensor_index, value):
        self._set(tensor_index, value)

    def get_tensor(self, tensor_index, subgraph_index=0):
        return self._get(tensor_index, subgraph_index)

    def tensor(self, tensor_index):
        """A function returning a numpy view of the tensor's memory, like LiteRT's. While a view (or a
        slice of one) is alive, allocate_tensors(), resize_tensor_input() and invoke() raise
        RuntimeError: hold the function, not the array. A constant's view is read-only (its memory is the
        model's: where LiteRT crashes on a write, numpy raises ValueError)."""

        def view():
            info = self._info(tensor_index)
            data = ctypes.c_void_p()
            accessor = lib.p2l_interpreter_tensor_const_data if info.is_constant else lib.p2l_interpreter_tensor_data
            _check(accessor(self._handle, 0, int(tensor_index), ctypes.byref(data)))
            dtype = np.dtype(_DTYPES.get(info.dtype))
            shape = tuple(info.dims[: info.rank])
            buffer = (ctypes.c_uint8 * max(info.bytes, 1)).from_address(data.value) if data.value else \
                (ctypes.c_uint8 * 1)()
            self._views.append(weakref.ref(buffer))  # every view and slice keeps its buffer alive
            array = np.frombuffer(buffer, dtype=dtype, count=info.bytes // dtype.itemsize).reshape(shape)
            array.flags.writeable = not info.is_constant
            return array

        return view

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        """New shape for an input; strict=True allows changing only the dims that the model declares
        dynamic (-1 in shape_signature), as in LiteRT."""
        self._ensure_no_views()
        if strict:
            info = self._info(input_index)
            signature = list(info.dims_signature[: info.rank])
            dims = [int(d) for d in tensor_size]
            if len(dims) != len(signature) or any(s != -1 and s != d for s, d in zip(signature, dims)):
                raise InterpreterError(1, f"ResizeInputTensorStrict only allows mutating unknown dimensions "
                                          f"identified by -1: tensor {input_index} has shape_signature {signature}, "
                                          f"got {dims}")
        self._resize(input_index, tensor_size)

    def _resize(self, index, shape, subgraph=0):
        dims = [int(d) for d in shape]
        array = (ctypes.c_int32 * max(len(dims), 1))(*dims)
        status = lib.p2l_interpreter_resize_tensor(self._handle, subgraph, int(index), len(dims), array)
        if status != 0:
            raise _last_error(status)

    def invoke(self):
        self._ensure_no_views()
        check(lib.p2l_interpreter_invoke_subgraph(self._handle, 0))

    def reset_all_variables(self):
        pass  # pt2lite does not support variable tensors yet

    def reset_state(self):
        """Restores the model's resource variables (its mutated buffers) to their initial values."""
        check(lib.p2l_interpreter_reset_state(self._handle))

    # ------------------------------------------------------------------ signatures

    def _signature_io(self, signature, outputs):
        names = []
        for i in range(lib.p2l_model_signature_io_count(self._model, signature, int(outputs))):
            name, tensor = ctypes.c_char_p(), ctypes.c_int()
            check(lib.p2l_model_signature_io(self._model, signature, int(outputs), i, ctypes.byref(name),
                                             ctypes.byref(tensor)))
            names.append((name.value.decode("utf-8", "replace"), tensor.value))
        return names

    def get_signature_list(self):
        result = {}
        for s in range(lib.p2l_model_signature_count(self._model)):
            key = lib.p2l_model_signature_key(self._model, s).decode("utf-8", "replace")
            result[key] = {
                "inputs": [n for n, _ in self._signature_io(s, False)],
                "outputs": [n for n, _ in self._signature_io(s, True)],
            }
        return result

    def get_signature_runner(self, signature_key=None):
        count = lib.p2l_model_signature_count(self._model)
        if signature_key is None:
            if count != 1:
                raise ValueError(
                    f"SignatureDef signature_key is None and model has {count} Signatures. "
                    "None is only allowed when the model has 1 SignatureDef")
            index = 0
        else:
            found = ctypes.c_int()
            if lib.p2l_model_find_signature(self._model, str(signature_key).encode(), ctypes.byref(found)) != 0:
                raise ValueError(f"Invalid signature_key provided: {signature_key!r}")
            index = found.value
        return SignatureRunner(self, index)


class SignatureRunner:
    """Callable for one SignatureDef: ``runner(x=array, ...)`` returns ``{output_name: array}``."""

    def __init__(self, interpreter, signature):
        self._interpreter = interpreter
        subgraph = ctypes.c_int()
        check(lib.p2l_model_signature_subgraph(interpreter._model, signature, ctypes.byref(subgraph)))
        self._subgraph = subgraph.value
        self._inputs = dict(interpreter._signature_io(signature, False))
        self._outputs = dict(interpreter._signature_io(signature, True))

    def get_input_details(self):
        return {n: self._interpreter._details(t, self._subgraph) for n, t in self._inputs.items()}

    def get_output_details(self):
        return {n: self._interpreter._details(t, self._subgraph) for n, t in self._outputs.items()}

    def __call__(self, **kwargs):
        it = self._interpreter
        unknown = set(kwargs) - set(self._inputs)
        if unknown:
            raise ValueError(f"Invalid Input name ({sorted(unknown)[0]}) for SignatureDef")
        missing = set(self._inputs) - set(kwargs)
        if missing:
            raise ValueError(f"Missing input(s) for SignatureDef: {sorted(missing)}")
        arrays = {}
        for name, value in kwargs.items():
            tensor = self._inputs[name]
            info = it._info(tensor, self._subgraph)
            array = _as_input(value, _DTYPES.get(info.dtype), tensor)
            if array.shape != tuple(info.dims[: info.rank]):
                it._ensure_no_views()  # a new shape reallocates the tensors the views point into
                it._resize(tensor, array.shape, self._subgraph)
            arrays[name] = array
        for name, array in arrays.items():
            it._set(self._inputs[name], array, self._subgraph)
        check(lib.p2l_interpreter_invoke_subgraph(it._handle, self._subgraph))
        return {name: it._get(tensor, self._subgraph) for name, tensor in self._outputs.items()}


__all__ = ["Interpreter", "SignatureRunner", "Pt2liteError", "InterpreterError"]
