"""EdgeModel: a converted .tflite model that runs like the module it came from.

Two runtimes can run it: pt2lite's own C runtime (``backend="pt2lite"``, the default: no TensorFlow
or LiteRT needed) and the official LiteRT runtime (``backend="litert"``, needs ai_edge_litert)."""

import numpy as np

BACKENDS = ("pt2lite", "litert")


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
    return Interpreter(model_content=content, num_threads=num_threads)


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(map(repr, BACKENDS))}")
    return backend


class EdgeModel:
    """A .tflite model. Call it with the same arguments as the PyTorch module; get torch tensors
    back in the structure the module returned.

    ``backend`` picks the runtime: "pt2lite" (default, pt2lite's C runtime) or "litert" (the
    official ai_edge_litert runtime). It can be changed later: ``edge.backend = "litert"``.
    ``num_threads`` is passed to the runtime (None: its default)."""

    def __init__(self, flatbuffer: bytes, in_spec=None, out_spec=None, backend="pt2lite", num_threads=None,
                 none_outputs=()):
        self._flatbuffer = bytes(flatbuffer)
        self._in_spec = in_spec
        self._out_spec = out_spec
        self._none_outputs = tuple(none_outputs)  # positions of None among the module's outputs
        self._backend = _check_backend(backend)
        self._num_threads = num_threads
        self._runner = None

    @property
    def backend(self):
        """The runtime that __call__ uses: "pt2lite" or "litert"."""
        return self._backend

    @backend.setter
    def backend(self, value):
        if _check_backend(value) != self._backend:
            self._backend = value
            self._runner = None  # the next call builds an interpreter of the new runtime

    @property
    def num_threads(self):
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value):
        if value != self._num_threads:
            self._num_threads = value
            self._runner = None

    # -- the bytes
    def model_content(self) -> bytes:
        """The .tflite flatbuffer (litert-torch's name)."""
        return self._flatbuffer

    tflite_model = model_content

    def export(self, path):
        """Writes the .tflite file."""
        with open(path, "wb") as f:
            f.write(self._flatbuffer)

    # -- running
    def interpreter(self):
        """A new interpreter of the current backend for this model (pt2lite.Interpreter or
        ai_edge_litert's), for uses beyond __call__."""
        return _interpreter(self._backend, self._flatbuffer, self._num_threads)

    def _signature_runner(self):
        if self._runner is None:
            runner = self.interpreter().get_signature_runner("serving_default")
            self._input_details = runner.get_input_details()
            self._runner = runner
        return self._runner

    def __call__(self, *args, **kwargs):
        runner = self._signature_runner()
        leaves = _flatten_inputs(args, kwargs)
        names = sorted(self._input_details, key=lambda n: int(n.split("_")[-1]))
        if len(leaves) != len(names):
            raise TypeError(f"the model takes {len(names)} tensor inputs, got {len(leaves)}")
        feed = {}
        for name, value in zip(names, leaves):
            dtype = self._input_details[name]["dtype"]
            feed[name] = np.ascontiguousarray(_to_numpy(value), dtype=dtype)
        result = runner(**feed)
        outputs = [result[k] for k in sorted(result, key=lambda n: int(n.split("_")[-1]))]
        return _unflatten_outputs(outputs, self._out_spec, self._none_outputs)

    def __repr__(self):
        return f"EdgeModel({len(self._flatbuffer)} bytes, backend={self._backend!r})"


def load(path, backend="pt2lite", num_threads=None) -> EdgeModel:
    """Loads a .tflite file as an EdgeModel (outputs come back as a tensor or a tuple).
    backend: "pt2lite" (default) or "litert", as for convert()."""
    with open(path, "rb") as f:
        return EdgeModel(f.read(), backend=backend, num_threads=num_threads)


def _to_numpy(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _flatten_inputs(args, kwargs):
    try:
        from torch.utils import _pytree as pytree
    except ImportError:  # plain numpy use without torch
        return list(args) + [kwargs[k] for k in sorted(kwargs)]
    leaves, _ = pytree.tree_flatten((args, kwargs))
    return [x for x in leaves if hasattr(x, "shape")]


def _unflatten_outputs(arrays, out_spec, none_outputs=()):
    try:
        import torch
        from torch.utils import _pytree as pytree
    except ImportError:
        return arrays[0] if len(arrays) == 1 else tuple(arrays)
    tensors = [torch.from_numpy(np.array(a)) for a in arrays]
    for position in none_outputs:  # the .tflite has no output for a returned None
        tensors.insert(position, None)
    if out_spec is not None:
        return pytree.tree_unflatten(tensors, out_spec)
    return tensors[0] if len(tensors) == 1 else tuple(tensors)
