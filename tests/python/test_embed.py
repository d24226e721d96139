"""Constants through pt2lite.Interpreter (issue 17): get_tensor returns what LiteRT's returns, and a
tensor() view of a constant is read-only (the C API refuses a writable pointer into the model's
memory; LiteRT hands out a writable view whose first write crashes the process)."""
import pathlib

import numpy as np
import pytest

import pt2lite
from conftest import litert

MODEL = pathlib.Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "fuzz_tflite_load" / "linear.tflite"


def _constants(interpreter):
    names = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
    return [names["p_weight"], names["p_bias"]]


def test_constants_read_like_litert():
    ours = pt2lite.Interpreter(model_path=str(MODEL))
    ours.allocate_tensors()
    theirs = litert.Interpreter(model_path=str(MODEL))
    theirs.allocate_tensors()
    for index in _constants(ours):
        expected = theirs.get_tensor(index)
        got = ours.get_tensor(index)
        np.testing.assert_array_equal(got, expected)
        got[...] = 0  # a copy: writing it leaves the model alone
        np.testing.assert_array_equal(ours.get_tensor(index), expected)
        view = ours.tensor(index)()
        np.testing.assert_array_equal(view, expected)
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[...] = 1
        del view


def test_non_constant_views_stay_writable():
    ours = pt2lite.Interpreter(model_path=str(MODEL))
    ours.allocate_tensors()
    index = ours.get_input_details()[0]["index"]
    view = ours.tensor(index)()
    assert view.flags.writeable
    view[...] = 2
    np.testing.assert_array_equal(ours.get_tensor(index), np.full(view.shape, 2, view.dtype))
