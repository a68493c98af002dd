"""segcompare's --profile pieces: the stage ranges put on a model (and taken off), the profiled calls and the
per-stage times read from them (``profile_calls`` also serves tools/analysis_tools/profile_oneformer.py)."""
import torch
from segcompare.profile import _stage_times, labelled, profile_calls
from torch import nn


class _Segmentor(nn.Module):
    """mmseg's layout: the head is ``decode_head``; no data preprocessor or fusion head here."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(8, 8)
        self.decode_head = nn.Module()
        self.decode_head.pixel_decoder = nn.Linear(8, 8)

    def forward(self, x):
        return self.decode_head.pixel_decoder(self.backbone(x).relu())


def test_profile_calls_warms_up_once_then_times_each_call_in_its_range():
    calls = []

    def fn():
        calls.append(1)
        with torch.profiler.record_function('inner'):
            torch.ones(32, 32) @ torch.ones(32, 32)

    events, ms = profile_calls(fn, 3, 'outer')
    assert len(calls) == 4  # one warm-up call outside the profiler
    assert events['outer'].count == 3 and events['inner'].count == 3
    assert ms == events['outer'].cpu_time_total / 1000 / 3 and ms > 0


def test_stage_times_of_the_stages_a_model_has_and_the_methods_restored():
    model = _Segmentor()
    x = torch.randn(4, 8)
    with torch.no_grad():
        expected = model(x)
        with labelled(model) as labels:
            assert labels == ['backbone', 'pixel_decoder']  # the stages of STAGES this model has
            assert 'forward' in vars(model.backbone)
            torch.testing.assert_close(model(x), expected)  # the ranges do not change the result
            times = _stage_times(lambda: model(x), 2, labels)
    assert 'forward' not in vars(model.backbone) and 'forward' not in vars(model.decode_head.pixel_decoder)
    assert set(times['stages']) == {'backbone', 'pixel_decoder'}
    assert all(s['calls'] == 1 and 0 < s['ms'] <= times['test_step_ms'] for s in times['stages'].values())
    assert times['top_ops'] and all(o['op'].startswith('aten::') for o in times['top_ops'])
