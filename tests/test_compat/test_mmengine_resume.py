"""``oneformer.compat.call_after_fast_forward``: mmengine's ``IterBasedTrainLoop`` still fast-forwards a resumed
run by fetching ``iter`` batches between ``before_train_epoch`` and the first ``before_train_iter`` (the reason the
wrapper exists), and the callback runs exactly between the last skipped fetch and the first trained one."""
import pytest
from mmengine.runner import IterBasedTrainLoop

from oneformer.compat import call_after_fast_forward


class _Batches:
    """An iterator that logs each fetch, with an attribute the wrapper must pass through."""

    def __init__(self, events):
        self.events, self.count, self.marker = events, 0, 'passed through'

    def __iter__(self):
        return self

    def __next__(self):
        self.count += 1
        self.events.append(f'fetch {self.count}')
        return self.count


class _Runner:
    """What ``IterBasedTrainLoop.run`` touches of a runner: hooks, the model, the optimizer wrapper, val loop."""

    def __init__(self, events, on_before_train=None):
        self.events, self.on_before_train = events, on_before_train
        self.optim_wrapper, self.val_loop = None, None
        runner = self

        class Model:

            def train(self):
                return self

            def train_step(self, data, optim_wrapper=None):
                runner.events.append(f'train on {data}')
                return {}

        self.model = Model()

    def call_hook(self, name, **kwargs):
        self.events.append(name)
        if name == 'before_train' and self.on_before_train is not None:
            self.on_before_train()


def _loop(start_iter, max_iters, events, on_before_train=None):
    """A real IterBasedTrainLoop (built without a dataloader) at ``start_iter``, as after ``runner.resume``."""
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    loop._runner = _Runner(events, on_before_train and (lambda: on_before_train(loop)))
    loop._iter, loop._max_iters, loop._epoch, loop.stop_training = start_iter, max_iters, 0, False
    loop.val_begin, loop.val_interval = 1, 1000
    loop.dynamic_milestones, loop.dynamic_intervals = [0], [1000]
    loop.dataloader_iterator = _Batches(events)
    return loop


@pytest.mark.parametrize('start_iter', [1, 3])
def test_mmengine_fast_forward_has_no_hook_before_the_first_fetch(start_iter):
    events = []
    _loop(start_iter, start_iter + 2, events).run()
    first_iter_hook = events.index('before_train_iter')
    between = events[events.index('before_train_epoch') + 1:first_iter_hook]
    # the skipped batches and the first trained one are fetched with no hook call in between
    assert between == [f'fetch {i}' for i in range(1, start_iter + 2)]
    assert events[first_iter_hook + 1] == f'train on {start_iter + 1}'


@pytest.mark.parametrize('start_iter', [1, 3])
def test_callback_runs_after_the_skipped_fetches(start_iter):
    events = []

    def install(loop):
        assert call_after_fast_forward(loop, lambda: events.append('callback'))
        assert loop.dataloader_iterator.marker == 'passed through'

    _loop(start_iter, start_iter + 2, events, on_before_train=install).run()
    at = events.index('callback')
    assert events[at - 1] == f'fetch {start_iter}' and events[at + 1] == f'fetch {start_iter + 1}'
    assert events.count('callback') == 1
    assert [e for e in events if e.startswith('train on')] == [f'train on {start_iter + 1}',
                                                               f'train on {start_iter + 2}']


def test_nothing_to_wait_for():
    events = []
    fresh = _loop(0, 2, events)
    assert not call_after_fast_forward(fresh, lambda: events.append('callback'))
    assert type(fresh.dataloader_iterator) is _Batches

    class EpochLoop:  # no dataloader_iterator: epoch-based loops restore before the first epoch
        iter = 5

    assert not call_after_fast_forward(EpochLoop(), lambda: None)
    assert 'callback' not in events
