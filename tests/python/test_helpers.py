"""The comparison helpers of conftest.py can fail: each way a wrong result used to pass is caught now
(one wrong element among many, a wrong dtype, a wrong number of outputs), and per-test seeding makes a
test's inputs independent of the tests before it."""

import numpy as np
import pytest
import torch

from conftest import assert_close, assert_outputs_close, seed_everything


def exp_like():
    """120 outputs spanning six orders of magnitude, like test_unary[exp] (exp of randn * 2-ish inputs)."""
    return np.exp(np.linspace(-8, 6, 120, dtype=np.float32))


def test_identical_values_pass():
    e = exp_like()
    assert_close(e.copy(), e)
    assert_close(e * (1 + 1e-6), e)  # fp32-sized error


@pytest.mark.parametrize("index", [0, 10, 30, 100])
def test_one_wrong_small_element_among_many_fails(index):
    # the old check scaled the tolerance by max |e| (~400 here): the 41 elements below 0.04 could be 100% wrong
    e = exp_like()
    wrong = e.copy()
    wrong[index] *= 2
    with pytest.raises(AssertionError, match=r"1 of 120 elements differ"):
        assert_close(wrong, e)


def test_wrong_integer_dtype_fails():
    # the old check cast the expected value to the output's dtype: int64 257 became int8 1 and "matched"
    with pytest.raises(AssertionError, match="dtype int8"):
        assert_close(np.array([1], np.int8), np.array([257], np.int64))


def test_documented_dtype_conversions_pass_and_compare_values():
    assert_close(np.array([5, -7], np.int32), np.array([5, -7], np.int64))
    assert_close(np.array([0.5], np.float32), np.array([0.5], np.float64))
    # int32 vs int64 compares values, not wrapped bits
    with pytest.raises(AssertionError, match="1 of 1 elements"):
        assert_close(np.array([-1294967296], np.int32), np.array([3_000_000_000], np.int64))


@pytest.mark.parametrize("actual, expected", [
    (np.array([1.0], np.float32), np.array([1], np.int32)),   # float where PyTorch gives an integer
    (np.array([1], np.int32), np.array([True])),               # int where PyTorch gives a bool
    (np.array([1.0], np.float16), np.array([1.0], np.float32)),
    (np.array([1.0], np.float32), np.array([1.0], np.float16)),
])
def test_other_dtype_changes_fail(actual, expected):
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(actual, expected)


def test_shape_must_match_exactly():
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros((1, 4), np.float32), np.zeros(4, np.float32))  # broadcastable is not equal


def test_nan_positions_must_match():
    e = np.array([1.0, np.nan, np.inf, -np.inf], np.float32)
    assert_close(e.copy(), e)
    for wrong in ([1.0, 0.0, np.inf, -np.inf], [np.nan, np.nan, np.inf, -np.inf], [1.0, np.nan, -np.inf, -np.inf],
                  [1.0, np.nan, 3e38, -np.inf]):
        with pytest.raises(AssertionError, match="1 of 4 elements"):
            assert_close(np.array(wrong, np.float32), e)


def test_integers_and_bools_compare_exactly():
    with pytest.raises(AssertionError):
        assert_close(np.array([100001], np.int32), np.array([100000], np.int32))
    with pytest.raises(AssertionError):
        assert_close(np.array([True, True]), np.array([True, False]))


def test_tolerance_is_per_element():
    e = np.array([1000.0, 1e-3], np.float32)
    assert_close(np.array([1000.05, 1e-3], np.float32), e)  # 5e-5 relative
    with pytest.raises(AssertionError):
        assert_close(np.array([1000.0, 2e-3], np.float32), e)  # off by 1e-3: beyond atol + rtol * 1e-3


def test_output_count_is_checked():
    e = [torch.ones(2), torch.zeros(3)]
    assert_outputs_close([np.ones(2, np.float32), np.zeros(3, np.float32)], e)
    with pytest.raises(AssertionError, match="1 outputs, expected 2"):
        assert_outputs_close([np.ones(2, np.float32)], e)
    with pytest.raises(AssertionError, match="3 outputs, expected 2"):
        assert_outputs_close([np.ones(2, np.float32), np.zeros(3, np.float32), np.zeros(1, np.float32)], e)


def test_inputs_do_not_depend_on_earlier_tests(request):
    # the autouse fixture has seeded this test from its node id: the same draw as seeding again by hand
    first = torch.randn(4)
    seed_everything(request.node.nodeid)
    assert torch.equal(first, torch.randn(4))
    torch.randn(1000)  # drawing more here changes nothing for the next test


def test_different_tests_get_different_inputs(request):
    seed_everything("tests/python/test_helpers.py::test_inputs_do_not_depend_on_earlier_tests")
    other = torch.randn(4)
    seed_everything(request.node.nodeid)
    assert not torch.equal(other, torch.randn(4))


def test_draws_do_not_depend_on_which_tests_ran_before(tmp_path):
    """Import-time draws, a module-scoped fixture's draws and a test's own draws are the same when the test
    runs alone, after its file's other tests, or after another file (a pytest run in a scratch dir)."""
    import os
    import re
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "conftest.py").write_text(open(os.path.join(here, "conftest.py")).read())
    body = ("import pytest, torch\nAT_IMPORT = torch.randn(3)\n"
            "@pytest.fixture(scope='module')\ndef shared():\n    return torch.randn(2)\n"
            "def test_first(shared):\n    torch.randn(100)\n"
            "def test_second(shared):\n    print('DRAWS', AT_IMPORT.tolist(), shared.tolist(), torch.randn(2).tolist())\n")
    (tmp_path / "test_a.py").write_text(body)
    (tmp_path / "test_0.py").write_text(body.replace("DRAWS", "OTHER"))

    def draws(*args):
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
                           cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        return re.findall(r"DRAWS .*", r.stdout)

    alone = draws("test_a.py::test_second")
    assert len(alone) == 1
    assert draws("test_a.py") == alone
    assert draws("test_0.py", "test_a.py") == alone
