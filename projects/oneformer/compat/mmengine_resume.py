"""Run a callback right after mmengine's ``IterBasedTrainLoop`` has fast-forwarded its data on resume.

mmengine 0.10.7's ``IterBasedTrainLoop.run`` calls ``before_train`` and ``before_train_epoch``, then, on a resumed
run, fetches and discards ``iter`` batches from ``loop.dataloader_iterator`` (the data pipeline runs for each, and
with ``num_workers=0`` it draws from the main process's random generators), then fetches the first batch to train
and only after that calls ``before_train_iter``. No hook runs between the fast-forward and that fetch, and neither
the loop nor the runner takes a callback there, so :func:`call_after_fast_forward` wraps the loop's iterator: the
wrapper counts the fast-forward's fetches, runs the callback after the last of them and passes every call through.
Used by :class:`oneformer.engine.hooks.RNGStateHook` to restore the generators exactly where an uninterrupted run
had them; ``tests/test_compat/test_mmengine_resume.py`` checks the loop still behaves as described.

Can go when: mmengine calls a hook after the fast-forward (or skips trained batches without running the pipeline).
"""
from typing import Callable, Iterator


class _CallAfterSkip:
    """Iterator wrapper: after ``skip`` fetches, call ``callback()`` once; otherwise transparent."""

    def __init__(self, iterator: Iterator, skip: int, callback: Callable[[], None]) -> None:
        self._iterator, self._left, self._callback = iterator, skip, callback

    def __iter__(self):
        return self

    def __next__(self):
        data = next(self._iterator)
        if self._left > 0:
            self._left -= 1
            if self._left == 0:
                self._callback()
        return data

    def __getattr__(self, name):
        return getattr(self._iterator, name)


def call_after_fast_forward(loop, callback: Callable[[], None]) -> bool:
    """Arrange for ``callback()`` to run once ``loop`` (an ``IterBasedTrainLoop`` about to resume at
    ``loop.iter > 0``) has skipped the batches already trained. Call it from ``before_train``.

    Returns:
        bool: False when ``loop`` has no fast-forward to wait for (epoch-based loops, or a fresh start); the
        caller then runs the callback itself.
    """
    iterator = getattr(loop, 'dataloader_iterator', None)
    if iterator is None or loop.iter == 0:
        return False
    loop.dataloader_iterator = _CallAfterSkip(iterator, loop.iter, callback)
    return True
