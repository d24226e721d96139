"""Variables planned in their own buffers (src/runtime/variable_alias.c): a READ_VARIABLE value or an
ASSIGN_VARIABLE value lives in the variable's buffer only while nothing else reads or assigns that
variable. These modules use the old value after the update and update twice per call, so a plan that
aliased where it must copy gives values that differ from PyTorch's (and LiteRT's)."""

import torch

from test_state import check_stateful


class OldAndNew(torch.nn.Module):
    """A cache written at an index, whose value before the write is used after it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.arange(12, dtype=torch.float32).reshape(4, 3))

    def forward(self, x, position):
        old = self.cache * 1.0
        self.cache.index_copy_(0, position, x)
        return self.cache.sum(0, keepdim=True) - old.sum(0, keepdim=True) * 0.5, old[0:1] + self.cache[0:1]


class TwiceUpdated(torch.nn.Module):
    """Two updates of one variable per call, the intermediate value read in between."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.zeros(4, 3))

    def forward(self, x, position):
        self.cache.index_copy_(0, position, x)
        middle = self.cache.sum(0, keepdim=True)
        self.cache.mul_(0.5)
        return middle + self.cache.sum(0, keepdim=True)


def test_old_value_used_after_the_update():
    inputs = [(torch.randn(1, 3), torch.tensor([p])) for p in (2, 0, 3, 2, 1)]
    check_stateful(OldAndNew(), inputs)


def test_variable_updated_twice_per_call():
    inputs = [(torch.randn(1, 3), torch.tensor([p])) for p in (1, 3, 1, 0)]
    check_stateful(TwiceUpdated(), inputs)
