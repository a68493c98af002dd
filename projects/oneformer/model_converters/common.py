"""Shared machinery of the checkpoint converters: regex renames with bookkeeping of what was consumed."""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

StateDict = Dict[str, Tensor]


@dataclass
class Conversion:
    """Result of a conversion.

    Attributes:
        state_dict (dict): Converted tensors, our key names.
        unconsumed (list[str]): Source keys no rule used (reported; an error with ``strict``).
        notes (list[str]): Source keys dropped or read differently on purpose, with the reason.
    """
    state_dict: StateDict = field(default_factory=OrderedDict)
    unconsumed: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def merge(self, other: 'Conversion') -> 'Conversion':
        clash = set(self.state_dict) & set(other.state_dict)
        if clash:
            raise KeyError(f'two source tensors map to the same key(s): {sorted(clash)[:5]}')
        self.state_dict.update(other.state_dict)
        self.unconsumed += other.unconsumed
        self.notes += other.notes
        return self

    def report(self) -> str:
        lines = [f'converted {len(self.state_dict)} tensors']
        if self.notes:
            lines.append(f'{len(self.notes)} notes (source entries dropped or read differently on purpose):')
            lines += [f'  {n}' for n in self.notes]
        if self.unconsumed:
            lines.append(f'{len(self.unconsumed)} source keys NOT converted (unknown to the converter):')
            lines += [f'  {k}' for k in self.unconsumed]
        return '\n'.join(lines)


Replacement = Union[None, str, Callable[[re.Match], str]]


class RenameRules:
    """Ordered ``(regex, replacement)`` rules; a key is renamed by the first rule that fully matches it.

    A replacement is a ``re`` template (``\\1``), a callable ``match -> str`` (for index arithmetic), or ``None``
    to drop the key on purpose (recorded as a note with ``drop_reasons[pattern]``).
    """

    def __init__(self, rules: Sequence[Tuple[str, Replacement]], drop_reasons: Optional[Dict[str, str]] = None):
        self.rules = [(re.compile(p), r) for p, r in rules]
        self.drop_reasons = drop_reasons or {}

    def apply(self, sd: StateDict, prefix: str = '') -> Conversion:
        out = Conversion()
        for key, value in sd.items():
            for pattern, repl in self.rules:
                m = pattern.fullmatch(key)
                if m is None:
                    continue
                if repl is None:
                    reason = self.drop_reasons.get(pattern.pattern, 'not used by the model')
                    out.notes.append(f'{prefix}{key}: {reason}')
                else:
                    out.state_dict[repl(m) if callable(repl) else m.expand(repl)] = value
                break
            else:
                out.unconsumed.append(prefix + key)
        return out


def split_prefix(sd: StateDict, prefix: str) -> StateDict:
    """The entries under ``prefix`` with the prefix removed (insertion order kept)."""
    return OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))


def fuse_qkv(sd: StateDict, pattern: str, names: Sequence[str], fused: str) -> StateDict:
    """Concatenate separate q/k/v projections into one ``[q; k; v]`` tensor (rows), as nn.MultiheadAttention and
    Swin's ``qkv`` Linear store them.

    Args:
        sd (dict): State dict; other entries pass through unchanged.
        pattern (str): Regex of the module prefix with exactly one (capturing) group around it, e.g.
            ``r'(.*\\.self_attn)'``; the three keys are
            ``{prefix}.{name}.{weight|bias}``.
        names (Sequence[str]): Names of the q, k and v sub-modules, in that order.
        fused (str): Template of the fused key; ``{prefix}`` is the matched prefix and ``{param}`` 'weight' or
            'bias', e.g. ``'{prefix}.in_proj_{param}'``.
    """
    regex = re.compile(pattern + r'\.(' + '|'.join(map(re.escape, names)) + r')\.(weight|bias)')
    groups: Dict[Tuple[str, str], Dict[str, Tensor]] = {}
    out = OrderedDict()
    for key, value in sd.items():
        m = regex.fullmatch(key)
        if m is None:
            out[key] = value
            continue
        prefix, name, param = m.group(1), m.group(2), m.group(3)
        slot = groups.setdefault((prefix, param), {})
        slot[name] = value
        if len(slot) == len(names):
            out[fused.format(prefix=prefix, param=param)] = torch.cat([slot[n] for n in names], dim=0)
    incomplete = [f'{p}.{{{",".join(names)}}}.{param}' for (p, param), slot in groups.items()
                  if len(slot) != len(names)]
    if incomplete:
        raise KeyError(f'incomplete q/k/v projections (need all of {list(names)}): {incomplete[:5]}')
    return out
