"""EdgeModel: a converted .tflite model that runs like the module it came from."""

import numpy as np


def _litert_interpreter(content):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=content)


class EdgeModel:
    """A .tflite model. Call it with the same arguments as the PyTorch module; get torch tensors
    back in the structure the module returned."""

    def __init__(self, flatbuffer: bytes, in_spec=None, out_spec=None, backend="litert"):
        self._flatbuffer = bytes(flatbuffer)
        self._in_spec = in_spec
        self._out_spec = out_spec
        self.backend = backend
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
    def _signature_runner(self):
        if self._runner is None:
            if self.backend != "litert":
                raise ValueError(f"unknown backend {self.backend!r}")
            interpreter = _litert_interpreter(self._flatbuffer)
            self._runner = interpreter.get_signature_runner("serving_default")
            self._input_details = self._runner.get_input_details()
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
        return _unflatten_outputs(outputs, self._out_spec)


def load(path, backend="litert") -> EdgeModel:
    """Loads a .tflite file as an EdgeModel (outputs come back as a tensor or a tuple)."""
    with open(path, "rb") as f:
        return EdgeModel(f.read(), backend=backend)


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


def _unflatten_outputs(arrays, out_spec):
    try:
        import torch
        from torch.utils import _pytree as pytree
    except ImportError:
        return arrays[0] if len(arrays) == 1 else tuple(arrays)
    tensors = [torch.from_numpy(np.array(a)) for a in arrays]
    if out_spec is not None:
        return pytree.tree_unflatten(tensors, out_spec)
    return tensors[0] if len(tensors) == 1 else tuple(tensors)
