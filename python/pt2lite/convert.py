"""The front door: torch.export, core ATen decompositions, then the C converter.

The only graph work done in Python is what torch itself does (export and decompositions); reading
the graph, lowering, optimizing and writing the .tflite happen in C (p2l_convert)."""

import contextlib
import ctypes
import io
import os
import shutil
import sys
import tempfile
import time
import warnings

from . import _structure
from ._native import check, lib
from ._record import record_ops
from .model import EdgeModel, _from_file

lib.p2l_convert.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                            ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
lib.p2l_convert.restype = ctypes.c_int
lib.p2l_convert_peak_bytes.restype = ctypes.c_size_t
lib.p2l_convert_signature_files.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p),
                                            ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
lib.p2l_convert_signature_files.restype = ctypes.c_int

# p2l_convert_options and its stage callback (pt2lite.h): the stages are timed in C.
_STAGE_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_double, ctypes.c_void_p)


class _ConvertOptions(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("limits", ctypes.c_void_p), ("on_stage", _STAGE_FN),
                ("on_stage_user", ctypes.c_void_p), ("quantize", ctypes.c_int),
                ("quantize_block_size", ctypes.c_int), ("calibration", ctypes.c_void_p),
                ("int8_io", ctypes.c_int), ("metadata", ctypes.c_void_p), ("metadata_count", ctypes.c_size_t),
                ("weights", ctypes.c_void_p), ("weight_count", ctypes.c_size_t)]


class _ExternalWeight(ctypes.Structure):  # p2l_external_weight
    _fields_ = [("program", ctypes.c_size_t), ("name", ctypes.c_char_p), ("data", ctypes.c_void_p),
                ("size", ctypes.c_size_t)]


class _MetadataItem(ctypes.Structure):  # p2l_metadata_item
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_char_p), ("size", ctypes.c_size_t)]


# p2l_quantize_recipe (pt2lite.h): the recipes' names as convert(quantize=...) takes them.
RECIPES = {"fp16": 1, "dynamic_int8": 2, "int8": 3, "int4_weights": 4}


def convert_options(*, verbose=False, quantize=None, block_size=0, calibration=None, io_dtype=None, metadata=None,
                    weights=()):
    """A p2l_convert_options for these arguments (the caller keeps it alive while C uses it). metadata:
    {name: bytes} entries the file gets besides the converter's own. weights: (program index, state_dict
    name, contiguous CPU tensor) that C reads in place of the archives' bytes (the caller keeps the
    tensors alive)."""
    if quantize is not None and quantize not in RECIPES:
        raise ValueError(f"quantize={quantize!r}: not a recipe; pt2lite has {', '.join(map(repr, RECIPES))} "
                         "(or None; a PT2E-quantized module needs none: convert it as it is)")
    if io_dtype not in (None, "float32", "int8"):
        raise ValueError(f"io_dtype={io_dtype!r}: the model's inputs and outputs are 'float32' (default) or 'int8'")
    if io_dtype == "int8" and quantize != "int8":
        raise ValueError("io_dtype='int8' needs quantize='int8' (only a full-integer model has int8 inputs and outputs)")
    stage = _STAGE_FN(lambda name, seconds, user: _print_stage(name.decode(), seconds)) if verbose else _STAGE_FN()
    items = [_MetadataItem(name.encode(), bytes(data), len(data)) for name, data in (metadata or {}).items()]
    table = (_MetadataItem * len(items))(*items) if items else None
    options = _ConvertOptions(ctypes.sizeof(_ConvertOptions), None, stage, None, RECIPES.get(quantize, 0), block_size,
                              calibration, int(io_dtype == "int8"), ctypes.cast(table, ctypes.c_void_p) if table else None,
                              len(items))
    weight_table = (_ExternalWeight * len(weights))(*[
        _ExternalWeight(index, name.encode(), tensor.data_ptr(), tensor.numel() * tensor.element_size())
        for index, name, tensor in weights]) if weights else None
    options.weights = ctypes.cast(weight_table, ctypes.c_void_p) if weights else None
    options.weight_count = len(weights)
    options._metadata_keep = items, table, weight_table  # alive as long as the options
    return options


def _print_stage(stage, seconds):
    print(f"pt2lite: {stage:<10} {seconds:8.3f} s", file=sys.stderr, flush=True)


def convert_pt2(archive, *, verbose=False, quantize=None, quantize_block_size=0) -> bytes:
    """Converts a .pt2 archive (torch.export.save) to .tflite bytes. archive: the archive's bytes, or
    the path of a .pt2 file. verbose: print each conversion stage's time (read, lower, passes, write).
    quantize: a recipe that needs no calibration ("fp16", "dynamic_int8", "int4_weights"), or None;
    quantize_block_size: values per scale for "int4_weights" (0: 32)."""
    if isinstance(archive, (str, os.PathLike)):
        with open(archive, "rb") as f:
            archive = f.read()
    elif isinstance(archive, (bytearray, memoryview)):
        archive = bytes(archive)
    elif not isinstance(archive, bytes):
        raise TypeError(f"convert_pt2 takes the bytes of a .pt2 archive or its path, not {type(archive).__name__}")
    options = convert_options(verbose=verbose, quantize=quantize, block_size=quantize_block_size)
    out = ctypes.c_void_p()
    size = ctypes.c_size_t()
    check(lib.p2l_convert(archive, len(archive), ctypes.byref(options), ctypes.byref(out), ctypes.byref(size)),
          "conversion failed")
    return _take_bytes(out, size)


def _take_bytes(out, size):
    """The bytes of a p2l_free()-able buffer the converter returned, freeing it."""
    try:
        return ctypes.string_at(out, size.value)
    finally:
        lib.p2l_free(out)


def export_archive(module, sample_args, sample_kwargs=None, dynamic_shapes=None):
    """torch.export + run_decompositions + torch.export.save into memory. Returns (bytes, program)."""
    return _export(module, sample_args, sample_kwargs, dynamic_shapes)[:2]


def _export(module, sample_args, sample_kwargs=None, dynamic_shapes=None):
    """export_archive, and the module's own output structure (the archive holds a portable one:
    _structure.py)."""
    import torch

    program, out_spec = _export_program(module, sample_args, sample_kwargs, dynamic_shapes)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue(), program, out_spec


def convert_files(programs, directory, *, verbose=False, quantize=None, quantize_block_size=0, metadata=None,
                  calibration=None, io_dtype=None):
    """Converts [(signature name, ExportedProgram), ...] to one .tflite file through files in
    `directory`: each program is saved there without its weights' bytes, C reads the weights from the
    program's own tensors (p2l_convert_options.weights: no copy written or read back, and signatures
    over one module share them by address) and streams the model into model.tflite. Returns the
    model's path."""
    import torch

    names, archives, weights = [], [], []
    for i, (name, program) in enumerate(programs):
        archives.append(os.path.join(directory, f"program{i}.pt2"))
        light, in_memory = _without_weight_bytes(program)
        torch.export.save(light, archives[-1])
        weights += [(i, key, tensor) for key, tensor in in_memory]
        names.append(name.encode())
    path = os.path.join(directory, "model.tflite")
    options = convert_options(verbose=verbose, quantize=quantize, block_size=quantize_block_size, metadata=metadata,
                              calibration=calibration, io_dtype=io_dtype, weights=weights)
    check(lib.p2l_convert_signature_files((ctypes.c_char_p * len(names))(*names),
                                          (ctypes.c_char_p * len(names))(*[os.fsencode(a) for a in archives]),
                                          len(names), os.fsencode(path), ctypes.byref(options)),
          "conversion failed")
    for archive in archives:
        os.remove(archive)
    return path


def _without_weight_bytes(program):
    """(a shallow copy of `program` whose plain CPU state_dict tensors are fake, so torch.export.save
    writes their metadata and no bytes; [(state_dict name, the real tensor, contiguous)])."""
    import copy

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    fake, state, in_memory = FakeTensorMode(), {}, []
    for key, value in program.state_dict.items():
        if type(value.data) is torch.Tensor and value.device.type == "cpu" and value.layout == torch.strided:
            in_memory.append((key, value.detach().contiguous()))  # the same storage unless a strided view
            value = fake.from_tensor(value)
        state[key] = value
    light = copy.copy(program)
    light._state_dict = state
    return light, in_memory


@contextlib.contextmanager
def _temporary_directory():
    """A directory for convert_files, removed on failure; on success the caller's model takes it."""
    directory = tempfile.mkdtemp(prefix="pt2lite-")
    try:
        yield directory
    except BaseException:
        shutil.rmtree(directory, True)
        raise


def _export_program(module, sample_args, sample_kwargs=None, dynamic_shapes=None):
    """torch.export + run_decompositions: (program, the module's own output structure)."""
    import torch

    if not isinstance(sample_args, tuple):
        sample_args = (sample_args,)
    # Inference graphs: batch norm uses running statistics, dropout is off. A module (or a submodule)
    # left in training mode is converted in eval mode, with a warning, and its modes restored after.
    # A GraphModule (torch.export(...).module(), torchao's convert_pt2e) is taken as it is: its graph
    # already fixed the mode, and its .eval() raises.
    graph_module = isinstance(module, torch.fx.GraphModule)
    modules = list(module.modules()) if hasattr(module, "modules") and not graph_module else []
    training = [m for m in modules if m.training]
    if training:
        warnings.warn(f"{type(module).__name__} is in training mode ({len(training)} of its modules): pt2lite "
                      "converts it as after module.eval() (dropout off, batch norm with running statistics); call "
                      "module.eval() before converting to silence this warning", UserWarning, stacklevel=3)
        module.eval()
    try:
        try:
            program = torch.export.export(module, sample_args, sample_kwargs or {}, dynamic_shapes=dynamic_shapes)
            out_spec = program.call_spec.out_spec
        except Exception as e:  # an output type that is no pytree node (a dataclass): export it flattened
            if not _structure.needs_flattening(e):
                raise
            flat, traced_spec = _structure.flattening_module(module)
            program = torch.export.export(flat, sample_args, sample_kwargs or {}, dynamic_shapes=dynamic_shapes)
            out_spec = traced_spec()
    finally:
        for m in training:
            m.training = True
    program = program.run_decompositions()
    _structure.record_in_archive(program, _structure.portable_spec(out_spec))
    return program, out_spec


def convert(module, sample_args, sample_kwargs=None, *, dynamic_shapes=None, backend="pt2lite", verbose=False,
            quantize=None, calibration=None, io_dtype=None, quantize_block_size=0):
    """Converts a torch.nn.Module to an EdgeModel (a .tflite model you can call and export).

    sample_args/sample_kwargs are example inputs, as for torch.export.export. backend is the runtime
    that calling the EdgeModel uses: "pt2lite" (pt2lite's C runtime) or "litert" (ai_edge_litert).
    verbose: print each stage's time to stderr (export in torch, then the C converter's stages).
    quantize: a built-in recipe (docs/quantization.md): "fp16", "dynamic_int8", "int8" (needs
    calibration: an iterable of argument tuples; io_dtype="int8" keeps inputs and outputs int8) or
    "int4_weights" (quantize_block_size values per scale, 0: 32); None converts the weights as they are."""
    convert_options(quantize=quantize, io_dtype=io_dtype)  # bad arguments fail before the export
    if quantize == "int8" and calibration is None:
        raise ValueError("quantize='int8' needs calibration=: an iterable of argument tuples, run through the "
                         "float model to record each activation's range (a few hundred representative inputs)")
    start = time.perf_counter()
    program, out_spec = _export_program(module, sample_args, sample_kwargs, dynamic_shapes)
    if verbose:
        _print_stage("export", time.perf_counter() - start)  # torch.export + run_decompositions
    with _temporary_directory() as directory:
        if quantize == "int8":  # float conversion, calibration in pt2lite's runtime, int8 conversion (calibration.py)
            from .calibration import convert_calibrated
            path = convert_calibrated(program, directory, calibration, io_dtype, verbose)
        else:
            path = convert_files([("serving_default", program)], directory, verbose=verbose, quantize=quantize,
                                 quantize_block_size=quantize_block_size)
        record_ops(program)  # only conversions that succeeded; no-op unless PT2LITE_RECORD_OPS is set (docs/ops.md)
        out_spec, none_outputs = output_structure(program, out_spec)
        edge = _from_file(path, directory, in_spec=program.call_spec.in_spec, out_spec=out_spec, backend=backend,
                          none_outputs=none_outputs)
    edge._specialize_scalars(sample_args, sample_kwargs)
    return edge


def output_structure(program, out_spec):
    """(out_spec, none_outputs): what EdgeModel needs to return the module's structure (out_spec is
    the module's own, from _export)."""
    none_outputs = [i for i, name in enumerate(program.graph_signature.user_outputs) if name is None]
    return out_spec, none_outputs
