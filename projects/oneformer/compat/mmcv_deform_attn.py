"""Route mmcv's non-CUDA multi-scale deformable attention to another implementation, in a scope.

mmcv's ``MultiScaleDeformableAttention.forward`` calls ``multi_scale_deformable_attn_pytorch`` by module-global name
when not on CUDA, with no hook or argument to choose another function. :func:`route_deform_attn` installs, once, a
dispatcher under that name; inside the context the given function runs, outside it (other models in the same
process, other threads) mmcv's stock fallback does. The CUDA kernel path is never touched.

Can go when: mmcv lets ``MultiScaleDeformableAttention`` take the fallback function (or a subclass hook) in a
release that mmdet 3.x accepts.
"""
import contextlib
import contextvars
from typing import Callable, Iterator, Optional

import mmcv.ops.multi_scale_deform_attn as mmcv_msda

_ROUTE: contextvars.ContextVar = contextvars.ContextVar('oneformer_deform_attn_route', default=None)
STOCK = mmcv_msda.multi_scale_deformable_attn_pytorch


def _dispatch(value, value_spatial_shapes, sampling_locations, attention_weights):
    fn = _ROUTE.get() or STOCK
    return fn(value, value_spatial_shapes, sampling_locations, attention_weights)


@contextlib.contextmanager
def route_deform_attn(fn: Optional[Callable]) -> Iterator[None]:
    """Within the context, mmcv's non-CUDA deformable attention calls ``fn`` (None: mmcv's stock function)."""
    if mmcv_msda.multi_scale_deformable_attn_pytorch is not _dispatch:
        mmcv_msda.multi_scale_deformable_attn_pytorch = _dispatch
    token = _ROUTE.set(fn)
    try:
        yield
    finally:
        _ROUTE.reset(token)
