from .compat import apply_all as _apply_compat
from .tokenizer import CONTEXT_LENGTH, TASKS, check_task, task_tokens, tokenize

_apply_compat()

__all__ = ['TASKS', 'CONTEXT_LENGTH', 'check_task', 'task_tokens', 'tokenize']
