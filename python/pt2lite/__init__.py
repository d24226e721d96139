"""pt2lite: PyTorch models to LiteRT/TFLite, with a C core.

    edge = pt2lite.convert(module, (x,))   # torch.export -> core ATen -> C converter
    y = edge(x)                            # run it (pt2lite's C runtime; backend="litert" for LiteRT's)
    edge.export("model.tflite")            # a standard .tflite file
    edge = pt2lite.signature("a", m, (x,)).signature("b", m, (y,)).convert()   # several signatures

    it = pt2lite.Interpreter(model_path="model.tflite")   # drop-in for ai_edge_litert's Interpreter
"""

from ._native import Pt2liteError, lib
from .convert import convert, convert_pt2
from .interpreter import Interpreter, SignatureRunner
from .model import EdgeModel, load
from .signatures import SignatureBuilder, signature
from . import llm  # noqa: E402  (pt2lite.llm.convert, pt2lite.llm.Generator)

__version__ = lib.p2l_version().decode()  # the C library's (CMakeLists.txt's project version)
__all__ = ["convert", "convert_pt2", "load", "EdgeModel", "Interpreter", "SignatureRunner", "Pt2liteError",
           "signature", "SignatureBuilder", "llm", "__version__"]

from . import debug  # noqa: E402  (pt2lite.debug: per-node comparison, Model Explorer data, culprits)
