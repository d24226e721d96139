"""The module's output structure, kept whole whatever torch.export.save can serialize.

The converted graph returns a flat list of tensors; the structure around them (a tuple, a dict, a
torch.return_types.topk, a namedtuple, a dataclass, a HuggingFace ModelOutput) lives on the Python
side (the EdgeModel that convert() returns keeps it as is) and in the file's metadata (the archive's
out_spec, which the C converter copies). torch.export.save can only write specs whose node types
have a registered serialization name, so the spec written to the archive is a portable one: nodes it
cannot write become dicts keyed by their field names (a loaded file returns {"values", "indices"}
for a topk). Dataclasses that are no pytree node are exported through a forward that flattens them.
This is front-door preparation: no graph logic."""

import copy
import dataclasses

from torch.utils import _pytree as pytree


class _Dataclass:
    """A dataclass instance that is no pytree node, as one: its fields are the children, and
    unflattening builds the dataclass itself."""

    def __init__(self, cls, fields):
        self.cls, self.fields = cls, fields


def _flatten_dataclass(box):
    return list(box.fields.values()), (box.cls, tuple(box.fields))


def _unflatten_dataclass(children, context):
    cls, names = context
    return cls(**dict(zip(names, children)))


pytree.register_pytree_node(_Dataclass, _flatten_dataclass, _unflatten_dataclass)


def _is_plain_dataclass(value):
    return dataclasses.is_dataclass(value) and not isinstance(value, type) and type(value) not in pytree.SUPPORTED_NODES


def _box(value):
    """value with every unregistered dataclass instance (at any depth) wrapped as a _Dataclass."""
    if _is_plain_dataclass(value):
        return _Dataclass(type(value), {f.name: _box(getattr(value, f.name)) for f in dataclasses.fields(value)})
    return pytree.tree_map(lambda leaf: _box(leaf) if _is_plain_dataclass(leaf) else leaf, value)


def flattening_module(module):
    """(a shallow copy of module whose forward returns the flat tuple of its outputs' leaves,
    a function giving the original outputs' spec once the copy has been traced). The copy shares
    every parameter, buffer and submodule, so names in the exported graph stay the module's."""
    recorded = {}
    forward = type(module).forward
    flat = copy.copy(module)

    def flat_forward(*args, **kwargs):
        leaves, spec = pytree.tree_flatten(_box(forward(flat, *args, **kwargs)))
        recorded["spec"] = spec
        return tuple(leaves)

    flat.forward = flat_forward
    return flat, lambda: recorded.get("spec")


def needs_flattening(error):
    """Whether torch.export failed because an output type is no pytree node (a plain dataclass)."""
    return "register a pytree" in str(error) or "not a known type" in str(error)


def _field_names(spec):
    if spec.type is _Dataclass:
        return list(spec.context[1])
    if spec.type is pytree.namedtuple:
        return list(spec.context._fields)
    if pytree.is_structseq_class(spec.type):
        names = getattr(spec.type, "__match_args__", None)
        return list(names) if names and len(names) == spec.num_children else [str(i) for i in range(spec.num_children)]
    return None


def _serializable(spec):
    try:
        pytree.treespec_dumps(spec)
        return True
    except Exception:  # torch raises NotImplementedError, TypeError, ... for types it cannot name
        return False


def _portable(spec):
    if spec.is_leaf():
        return spec
    children = [_portable(c) for c in spec.children()]
    names = _field_names(spec)
    if names is not None:
        return pytree.TreeSpec(dict, names, children)
    node = pytree.TreeSpec(spec.type, spec.context, children)
    return node if _serializable(node) else pytree.TreeSpec(tuple, None, children)


def portable_spec(spec):
    """spec itself when torch can serialize it, else the same leaves under serializable nodes
    (namedtuples, return types and dataclasses as dicts of their fields, other types as tuples)."""
    return spec if spec is None or _serializable(spec) else _portable(spec)


def record_in_archive(program, spec):
    """Makes the archive torch.export.save writes for program carry spec as the module's output
    structure (the root entry of its module call graph, which the C converter copies into the
    file's metadata)."""
    root = program.module_call_graph[0]
    root.signature.out_spec = spec
