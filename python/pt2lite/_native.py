"""Loads the C library (libpt2lite.so) that the package build placed next to this file.

Only ctypes declarations live here; every function's logic is in C."""

import ctypes
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _library_path():
    override = os.environ.get("PT2LITE_LIBRARY")
    if override:
        return override
    name = {"darwin": "libpt2lite.dylib", "win32": "pt2lite.dll"}.get(sys.platform, "libpt2lite.so")
    return os.path.join(_HERE, name)


lib = ctypes.CDLL(_library_path())

lib.p2l_last_error.restype = ctypes.c_char_p
lib.p2l_status_name.restype = ctypes.c_char_p
lib.p2l_status_name.argtypes = [ctypes.c_int]
lib.p2l_version.restype = ctypes.c_char_p
lib.p2l_version_number.restype = ctypes.c_int
lib.p2l_version_number.argtypes = []
lib.p2l_free.argtypes = [ctypes.c_void_p]
lib.p2l_free.restype = None


class Pt2liteError(RuntimeError):
    """An error reported by the C core; .status is the p2l_status code."""

    def __init__(self, status, message):
        self.status = status
        super().__init__(message)


def check(status, what=""):
    """Raises Pt2liteError with the C core's message when status is not P2L_OK."""
    if status != 0:
        message = lib.p2l_last_error().decode("utf-8", "replace")
        kind = lib.p2l_status_name(status).decode()
        raise Pt2liteError(status, f"{what}{': ' if what else ''}{message or kind}")
