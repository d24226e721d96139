"""Several signatures in one .tflite file (litert-torch's API shape):

    edge = (pt2lite.signature("prefill", model, (tokens,))
                   .signature("decode", model, (token,))
                   .convert())
    edge(token, signature_name="decode")

Each signature is exported on its own (torch.export), and the C converter writes one subgraph and
one SignatureDef per signature, storing constants the signatures share once (p2l_convert_signatures)."""

import ctypes

from ._native import check, lib
from ._record import record_ops
from .convert import _export_program, _take_bytes, _temporary_directory, convert_files, convert_options, output_structure
from .model import _from_file


class _Program(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("pt2", ctypes.c_char_p), ("pt2_size", ctypes.c_size_t)]


lib.p2l_convert_signatures.argtypes = [ctypes.POINTER(_Program), ctypes.c_size_t, ctypes.c_void_p,
                                       ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
lib.p2l_convert_signatures.restype = ctypes.c_int


def convert_pt2_signatures(programs, quantize=None, metadata=None) -> bytes:
    """Converts [(signature name, .pt2 archive bytes), ...] to the bytes of one .tflite file.
    quantize: a recipe needing no calibration (pt2lite.convert's quantize), or None. metadata: {name:
    bytes} entries the file gets besides the converter's own."""
    names = [name.encode() for name, _ in programs]
    array = (_Program * len(programs))(*[_Program(n, archive, len(archive))
                                        for n, (_, archive) in zip(names, programs)])
    out, size = ctypes.c_void_p(), ctypes.c_size_t()
    options = convert_options(quantize=quantize, metadata=metadata)
    check(lib.p2l_convert_signatures(array, len(programs), ctypes.byref(options), ctypes.byref(out), ctypes.byref(size)),
          "conversion failed")
    return _take_bytes(out, size)


class SignatureBuilder:
    """The signatures of one file, in order; made by pt2lite.signature(...)."""

    def __init__(self):
        self._signatures = []  # (name, module, sample_args, sample_kwargs, dynamic_shapes)

    def signature(self, name, module, sample_args, sample_kwargs=None, dynamic_shapes=None):
        """Adds a signature: `module` called as module(*sample_args, **sample_kwargs), exported as by
        pt2lite.convert. Returns the builder, so calls chain."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a signature name must be a non-empty string, got {name!r}")
        if any(name == existing for existing, *_ in self._signatures):
            raise ValueError(f"signature {name!r} is already defined")
        self._signatures.append((name, module, sample_args, sample_kwargs, dynamic_shapes))
        return self

    def convert(self, backend="pt2lite", quantize=None, quantize_block_size=0, metadata=None):
        """One EdgeModel (one .tflite) holding every signature. backend: the runtime calls use, as for
        pt2lite.convert. quantize: a recipe needing no calibration ("fp16", "dynamic_int8",
        "int4_weights" with quantize_block_size; pt2lite.convert says what each does), or None.
        metadata: {name: bytes} entries added to the file's metadata (EdgeModel / p2l_model_metadata
        read them)."""
        if quantize == "int8":
            raise ValueError("pt2lite.signature(...).convert(): quantize='int8' needs a calibration per signature, "
                             "which the builder does not take yet; use pt2lite.convert for a full-integer model")
        convert_options(quantize=quantize, block_size=quantize_block_size, metadata=metadata)  # fail before exporting
        structures, programs = {}, []
        for name, module, args, kwargs, dynamic_shapes in self._signatures:
            program, out_spec = _export_program(module, args, kwargs, dynamic_shapes)
            structures[name] = output_structure(program, out_spec)
            programs.append((name, program))
        with _temporary_directory() as directory:
            path = convert_files(programs, directory, quantize=quantize, quantize_block_size=quantize_block_size,
                                 metadata=metadata)
            for _, program in programs:
                record_ops(program)  # only conversions that succeeded (docs/ops.md)
            return _from_file(path, directory, backend=backend, structures=structures)


def signature(name, module, sample_args, sample_kwargs=None, dynamic_shapes=None) -> SignatureBuilder:
    """The first signature of a file of several: returns a builder; add more with .signature(...)
    (same arguments) and make the model with .convert(). See docs/shapes_signatures_state.md."""
    return SignatureBuilder().signature(name, module, sample_args, sample_kwargs, dynamic_shapes)
