"""EdgeModel: a converted .tflite model that runs like the module it came from.

Two runtimes can run it: pt2lite's own C runtime (``backend="pt2lite"``, the default: no TensorFlow
or LiteRT needed) and the official LiteRT runtime (``backend="litert"``, needs ai_edge_litert)."""

import ctypes
import json
import mmap
import os
import shutil
import warnings
import weakref

import numpy as np

from ._native import Pt2liteError, lib

BACKENDS = ("pt2lite", "litert")
_VERIFY_ONLY = 2  # P2L_MODEL_VERIFY_ONLY
OUTPUT_STRUCTURE = "pt2lite_output_structure"  # the metadata entry the converter writes (README: Outputs)
IO_DTYPES = "pt2lite_io_dtypes"  # the module's input/output dtypes where the file has others (bfloat16)


# Files at least this large are mapped rather than read into a bytes object (big models: the weights
# stay in the file, and only the pages a run touches come into memory).
_MAP_AT_BYTES = 256 << 20


class _MappedFile:
    """A .tflite file mapped read-only: what an EdgeModel holds instead of bytes for a big model.
    remove_dir: a temporary directory (the converter's output) removed when this is collected."""

    def __init__(self, path, remove_dir=None):
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._array = np.frombuffer(self.map, dtype=np.uint8)  # its address, for C
        self.address = self._array.ctypes.data
        if remove_dir:
            weakref.finalize(self, shutil.rmtree, remove_dir, True)

    def __len__(self):
        return len(self.map)

    def __bytes__(self):
        return self.map[:]


def _from_file(path, remove_dir=None, **kwargs):
    """An EdgeModel of the file at path: its bytes when it is small, else the file mapped (kept while
    the model lives; remove_dir is removed after that)."""
    if os.path.getsize(path) < _MAP_AT_BYTES:
        with open(path, "rb") as f:
            content = f.read()
        if remove_dir:
            shutil.rmtree(remove_dir, True)
        return EdgeModel(content, **kwargs)
    return EdgeModel(_MappedFile(path, remove_dir), **kwargs)


def _interpreter(backend, content, num_threads=None):
    if backend == "pt2lite":
        from .interpreter import Interpreter
    elif backend == "litert":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:
            raise ImportError("backend='litert' needs the ai_edge_litert package (pip install ai-edge-litert); "
                              "backend='pt2lite' runs with no extra package") from e
    else:
        raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(map(repr, BACKENDS))}")
    if isinstance(content, _MappedFile):  # both runtimes map the file themselves
        return Interpreter(model_path=content.path, num_threads=num_threads)
    return Interpreter(model_content=content, num_threads=num_threads)


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(map(repr, BACKENDS))}")
    return backend


class _VerifiedModel:
    """The C runtime's verified view of the file (p2l_model_load checks every byte at load): its
    SignatureDefs and metadata."""

    def __init__(self, flatbuffer, what):
        from . import interpreter  # declares the p2l_model_* functions

        del interpreter
        self._bytes = flatbuffer  # zero-copy: the C model points into these bytes
        handle = ctypes.c_void_p()
        # Verified whole; kernels are checked by the pt2lite runtime when it runs the model, so a
        # file with an op only LiteRT has still loads for backend="litert".
        address = flatbuffer.address if isinstance(flatbuffer, _MappedFile) else flatbuffer
        status = lib.p2l_model_load(address, len(flatbuffer), _VERIFY_ONLY, ctypes.byref(handle))
        if status != 0:
            message = lib.p2l_last_error().decode("utf-8", "replace")
            raise Pt2liteError(status, f"cannot load {what}: {message}")
        self._handle = handle
        self.what = what
        self.keys = [lib.p2l_model_signature_key(handle, i).decode("utf-8", "replace")
                     for i in range(lib.p2l_model_signature_count(handle))]
        # The signature a call without signature_name runs: the only one, else 'serving_default'.
        self.default_key = self.keys[0] if len(self.keys) == 1 else \
            "serving_default" if "serving_default" in self.keys else None

    def signature(self, key):
        """The signature named key (None: the default one); ValueError listing the signatures when
        there is no such signature, or no default among several."""
        listed = ", ".join(repr(k) for k in self.keys)
        if not self.keys:
            raise ValueError(f"{self.what} has no SignatureDef, so its inputs and outputs have no names to call it "
                             "by; run it with pt2lite.Interpreter (tensors by index)")
        if key is None:
            if self.default_key is None:
                raise ValueError(f"{self.what} has {len(self.keys)} signatures ({listed}); pick one with "
                                 "signature_name=...")
            key = self.default_key
        if key not in self.keys:
            raise ValueError(f"{self.what} has no signature {key!r}; its signatures are {listed}")
        return _Signature(self, self.keys.index(key))

    def metadata(self, name):
        """The bytes of a metadata entry, or None when the file has none of that name."""
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        if lib.p2l_model_metadata(self._handle, name.encode(), ctypes.byref(data), ctypes.byref(size)) != 0:
            return None
        return ctypes.string_at(data, size.value) if size.value else b""

    def __del__(self):
        if getattr(self, "_handle", None):
            lib.p2l_model_free(self._handle)
            self._handle = None


class _Signature:
    """One SignatureDef of a verified model: its key, input and output names in order, and the checks
    the C core makes on inputs."""

    def __init__(self, model, index):
        self._model = model  # keeps the C model alive
        self._handle = model._handle
        self.signature = index
        self.key = model.keys[index]
        self.inputs = self._names(False)
        self.outputs = self._names(True)

    def _names(self, outputs):
        names = []
        for i in range(lib.p2l_model_signature_io_count(self._handle, self.signature, int(outputs))):
            name = ctypes.c_char_p()
            lib.p2l_model_signature_io(self._handle, self.signature, int(outputs), i, ctypes.byref(name), None)
            names.append(name.value.decode("utf-8", "replace"))
        return names

    def check_input_shape(self, i, shape):
        """ValueError naming the input, the shape the model was converted for and the given one,
        unless `shape` differs from the file's shape_signature only in dynamic (-1) dims."""
        dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        if lib.p2l_model_signature_check_input(self._handle, self.signature, i, len(shape), dims) != 0:
            raise ValueError(lib.p2l_last_error().decode("utf-8", "replace"))

    def check_input_values(self, i, array):
        """ValueError naming the input and the value when the model cannot compute it exactly (an
        int64 input the model narrows to int32 holding a value beyond int32): the C core decides."""
        if lib.p2l_model_signature_check_input_values(self._handle, self.signature, i, array.ctypes.data,
                                                      array.nbytes) != 0:
            raise ValueError(lib.p2l_last_error().decode("utf-8", "replace"))


class EdgeModel:
    """A .tflite model. Call it with the same arguments as the PyTorch module; get torch tensors
    back in the structure the module returned.

    ``backend`` picks the runtime: "pt2lite" (default, pt2lite's C runtime) or "litert" (the
    official ai_edge_litert runtime). It can be changed later: ``edge.backend = "litert"``.
    ``num_threads`` is passed to the runtime (None: its default).

    The file is verified when the EdgeModel is made (a truncated or corrupt file raises Pt2liteError
    here, not at the first call). Inputs are fed in the order of the file's signature; outputs come
    back in the structure recorded in the file (see README, "Outputs"), else as a tensor or a tuple.
    Inputs must have the shape the model was converted for (dims marked dynamic may change) and its
    dtype, or a dtype that converts to it without loss (README, "Input types").

    A file of several signatures (pt2lite.signature(...)): ``edge(x, signature_name="decode")`` runs
    one; without signature_name the only signature runs, else 'serving_default', else ValueError
    listing them. ``edge.signatures`` lists their names."""

    def __init__(self, flatbuffer: bytes, in_spec=None, out_spec=None, backend="pt2lite", num_threads=None,
                 none_outputs=(), *, name="the model", structures=None):
        self._flatbuffer = flatbuffer if isinstance(flatbuffer, _MappedFile) else bytes(flatbuffer)
        self._backend = _check_backend(backend)
        self._model = _VerifiedModel(self._flatbuffer, name)
        self._in_spec = in_spec
        # Output structure per signature: {key: (out_spec, none_outputs)}, given (convert) or read from
        # the file's metadata when a signature first runs.
        self._structures = dict(structures or {})
        if out_spec is not None and self._model.default_key is not None:
            self._structures[self._model.default_key] = (out_spec, tuple(none_outputs))
        self._num_threads = num_threads
        self._shared_interpreter = None
        self._runners = {}  # signature key -> (runner, its input details, _Signature, out_spec, none_outputs, output dtypes)
        self._scalars = ()  # (position among the flattened arguments, value) of specialized Python scalars

    @property
    def signatures(self):
        """The names (keys) of the file's signatures, in file order."""
        return list(self._model.keys)

    def _specialize_scalars(self, sample_args, sample_kwargs=None):
        """Records the Python scalars among the sample arguments: torch.export specialized the model
        for their values, so a call with another value is an error, not a plausible wrong answer."""
        if not isinstance(sample_args, tuple):
            sample_args = (sample_args,)
        leaves = _argument_leaves(sample_args, sample_kwargs or {})
        self._scalars = tuple((i, v) for i, v in enumerate(leaves) if isinstance(v, (bool, int, float)))

    def _check_scalars(self, args, kwargs):
        if not self._scalars:
            return
        leaves = _argument_leaves(args, kwargs)
        for position, value in self._scalars:
            given = leaves[position] if position < len(leaves) else None
            if type(given) is not type(value) or given != value:
                raise ValueError(f"argument {position} was the Python scalar {value!r} when the model was converted, "
                                 f"and the model is specialized for that value (torch.export makes it a constant); "
                                 f"got {given!r}: convert again for another value, or pass it as a tensor")

    @property
    def backend(self):
        """The runtime that __call__ uses: "pt2lite" or "litert"."""
        return self._backend

    @backend.setter
    def backend(self, value):
        if _check_backend(value) != self._backend:
            self._backend = value
            self._runners = {}
            self._shared_interpreter = None  # the next call builds an interpreter of the new runtime

    @property
    def num_threads(self):
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value):
        if value != self._num_threads:
            self._num_threads = value
            self._runners = {}
            self._shared_interpreter = None

    # -- the bytes
    def model_content(self) -> bytes:
        """The .tflite flatbuffer (litert-torch's name). A big model is held as its file mapped: this
        reads the whole file into memory."""
        return bytes(self._flatbuffer)

    tflite_model = model_content

    def export(self, path):
        """Writes the .tflite file."""
        if isinstance(self._flatbuffer, _MappedFile):
            shutil.copyfile(self._flatbuffer.path, path)
            return
        with open(path, "wb") as f:
            f.write(self._flatbuffer)

    # -- running
    def interpreter(self):
        """A new interpreter of the current backend for this model (pt2lite.Interpreter or
        ai_edge_litert's), for uses beyond __call__."""
        return _interpreter(self._backend, self._flatbuffer, self._num_threads)

    def _signature_runner(self, signature_name):
        key = self._model.default_key if signature_name is None else signature_name
        if key not in self._runners:
            signature = self._model.signature(signature_name)  # ValueError listing the signatures
            if key not in self._structures:
                self._structures[key] = _recorded_output_structure(self._model, signature)
            out_spec, none_outputs = self._structures[key]
            if self._shared_interpreter is None:  # one for every signature, as LiteRT's runners share one
                self._shared_interpreter = self.interpreter()
            runner = self._shared_interpreter.get_signature_runner(signature.key)
            self._runners[key] = (runner, runner.get_input_details(), signature, out_spec, tuple(none_outputs),
                                  _recorded_output_dtypes(self._model, signature))
        return self._runners[key]

    def __call__(self, *args, signature_name=None, **kwargs):
        runner, input_details, signature, out_spec, none_outputs, output_dtypes = self._signature_runner(signature_name)
        self._check_scalars(args, kwargs)
        leaves = _flatten_inputs(args, kwargs)
        names = signature.inputs
        if len(leaves) != len(names):
            raise TypeError(f"the model takes {len(names)} tensor inputs, got {len(leaves)}")
        feed = {}
        for i, (name, value) in enumerate(zip(names, leaves)):
            array = _as_model_input(name, _to_numpy(value), input_details[name]["dtype"])
            signature.check_input_shape(i, array.shape)
            feed[name] = np.ascontiguousarray(array)
            signature.check_input_values(i, feed[name])
        result = runner(**feed)
        outputs = [result[name] for name in signature.outputs]
        return _unflatten_outputs(outputs, out_spec, none_outputs, output_dtypes)

    def reset_state(self):
        """Restores the module state (buffers mutated in forward) to its value at conversion: the next
        call starts as the first did. pt2lite's runtime resets its interpreter (shared by every
        signature); for LiteRT, whose initializer runs once per interpreter, the next call makes a new
        interpreter."""
        if self._shared_interpreter is None:
            return
        if self._backend == "pt2lite":
            self._shared_interpreter.reset_state()
        else:
            self._shared_interpreter = None
            self._runners = {}

    def __repr__(self):
        return f"EdgeModel({len(self._flatbuffer)} bytes, backend={self._backend!r})"


def load(path, backend="pt2lite", num_threads=None) -> EdgeModel:
    """Loads a .tflite file as an EdgeModel, verified now (Pt2liteError naming the file if it is
    truncated or corrupt). Outputs come back in the structure the converted module returned when
    the file records it (files pt2lite wrote), else as a tensor or a tuple.
    backend: "pt2lite" (default) or "litert", as for convert()."""
    return _from_file(path, backend=backend, num_threads=num_threads, name=f"'{os.fspath(path)}'")


def _recorded_output_structure(model, signature):
    """(out_spec, none_outputs) of a signature from the file's metadata: the entry
    'pt2lite_output_structure:<key>' (files of several signatures), else 'pt2lite_output_structure'
    when the file has one signature; (None, ()) when it has none."""
    entry = f"{OUTPUT_STRUCTURE}:{signature.key}"
    recorded = model.metadata(entry)
    if recorded is None and len(model.keys) == 1:
        entry, recorded = OUTPUT_STRUCTURE, model.metadata(OUTPUT_STRUCTURE)
    if recorded is None:
        return None, ()
    try:
        structure = json.loads(recorded)
        none_outputs = [int(i) for i in structure.get("none_outputs", [])]
        spec = structure.get("out_spec")
    except (ValueError, TypeError, AttributeError) as e:
        raise Pt2liteError(3, f"metadata '{entry}' is not valid: {e}") from None
    if spec is None:
        return None, none_outputs
    try:
        from torch.utils import _pytree as pytree
    except ImportError:  # plain numpy use: outputs come back flat
        return None, none_outputs
    try:
        out_spec = pytree.treespec_loads(spec)
    except Exception as e:  # e.g. a namedtuple type this process does not know
        warnings.warn(f"the output structure recorded in the file cannot be rebuilt here ({e}); outputs come "
                      "back as a tuple", stacklevel=3)
        return None, none_outputs
    if out_spec.num_leaves != len(signature.outputs) + len(none_outputs):
        raise Pt2liteError(3, f"metadata '{entry}' describes {out_spec.num_leaves} outputs, but the "
                              f"signature '{signature.key}' has {len(signature.outputs)} (and {len(none_outputs)} None)")
    return out_spec, none_outputs


def _recorded_output_dtypes(model, signature):
    """The torch dtype name of each output of a signature where the file records one ("bfloat16"), or ():
    the entry 'pt2lite_io_dtypes:<key>' (files of several signatures), else 'pt2lite_io_dtypes'."""
    recorded = model.metadata(f"{IO_DTYPES}:{signature.key}")
    if recorded is None and len(model.keys) == 1:
        recorded = model.metadata(IO_DTYPES)
    if recorded is None:
        return ()
    try:
        dtypes = [str(d) for d in json.loads(recorded)["outputs"]]
    except (ValueError, TypeError, KeyError) as e:
        raise Pt2liteError(3, f"metadata '{IO_DTYPES}' is not valid: {e}") from None
    if len(dtypes) != len(signature.outputs):
        raise Pt2liteError(3, f"metadata '{IO_DTYPES}' names {len(dtypes)} outputs, but the signature "
                              f"'{signature.key}' has {len(signature.outputs)}")
    return tuple(dtypes)


def _as_model_input(name, array, dtype):
    """The array in the model's dtype, converted only when no value can change: a dtype that holds
    every value of the given one (int32 -> int64, float16 -> float32, bool -> int), or a narrower
    integer type when every value fits (int64 -> int32). Anything else (float64 -> float32,
    float -> int) raises, naming the input and both dtypes."""
    dtype = np.dtype(dtype)
    if array.dtype == dtype:
        return array
    if np.can_cast(array.dtype, dtype, "safe"):
        return array.astype(dtype)
    if array.dtype.kind in "iu" and dtype.kind in "iu":
        limits = np.iinfo(dtype)
        if array.size:
            low, high = array.min(), array.max()
            bad = low if low < limits.min else high if high > limits.max else None
            if bad is not None:
                raise ValueError(f"input '{name}': value {bad} does not fit the model's {dtype} input (range "
                                 f"{limits.min} to {limits.max}); the model was converted with {dtype} for this "
                                 "input")
        return array.astype(dtype)
    raise TypeError(f"input '{name}' is {array.dtype}, but the model takes {dtype}: converting would change values, "
                    f"so pt2lite does not do it (convert the input yourself, e.g. x.to(torch.{dtype}))")


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16; float32 holds every value
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _argument_leaves(args, kwargs):
    try:
        from torch.utils import _pytree as pytree
    except ImportError:  # plain numpy use without torch
        return list(args) + [kwargs[k] for k in sorted(kwargs)]
    return pytree.tree_flatten((args, kwargs))[0]


def _flatten_inputs(args, kwargs):
    return [x for x in _argument_leaves(args, kwargs) if hasattr(x, "shape")]


def _unflatten_outputs(arrays, out_spec, none_outputs=(), dtypes=()):
    try:
        import torch
        from torch.utils import _pytree as pytree
    except ImportError:
        return arrays[0] if len(arrays) == 1 else tuple(arrays)
    tensors = [torch.from_numpy(np.array(a)) for a in arrays]
    # bfloat16 outputs are float32 in the file (TFLite has no bfloat16): rounded back here
    tensors = [t.to(getattr(torch, d)) if d == "bfloat16" else t for t, d in zip(tensors, dtypes or [None] * len(tensors))]
    for position in none_outputs:  # the .tflite has no output for a returned None
        tensors.insert(position, None)
    if out_spec is not None:
        return pytree.tree_unflatten(tensors, out_spec)
    return tensors[0] if len(tensors) == 1 else tuple(tensors)
