"""pt2lite: PyTorch models to LiteRT/TFLite, with a C core.

    edge = pt2lite.convert(module, (x,))   # torch.export -> core ATen -> C converter
    y = edge(x)                            # run it
    edge.export("model.tflite")            # a standard .tflite file
"""

from ._native import Pt2liteError
from .convert import convert, convert_pt2
from .model import EdgeModel, load

__version__ = "0.1.0"
__all__ = ["convert", "convert_pt2", "load", "EdgeModel", "Pt2liteError", "__version__"]
