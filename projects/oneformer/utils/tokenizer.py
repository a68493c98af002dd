"""Task and text prompts, tokenized with the CLIP BPE tokenizer that mmseg ships."""
from functools import lru_cache
from typing import Sequence

import torch

TASKS = ('panoptic', 'instance', 'semantic')
CONTEXT_LENGTH = 77


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise a ``ValueError`` naming them."""
    if task not in TASKS:
        raise ValueError(f'Unknown OneFormer task {task!r}; accepted tasks are {", ".join(TASKS)}.')
    return task


def tokenize(texts: Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """CLIP BPE ids, ``[SOT] + tokens + [EOT]`` zero-padded to ``context_length``: (len(texts), L) int64."""
    from mmseg.utils.tokenizer import tokenize as clip_tokenize  # lazy: keeps `import oneformer` light
    return clip_tokenize(list(texts), context_length=context_length)


@lru_cache(maxsize=None)
def _task_tokens(task: str, context_length: int) -> torch.Tensor:
    return tokenize([f'the task is {task}'], context_length)[0]


def task_tokens(task: str, context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """Token ids of ``"the task is {task}"`` (77,), the input of the task encoder."""
    return _task_tokens(check_task(task), context_length).clone()
