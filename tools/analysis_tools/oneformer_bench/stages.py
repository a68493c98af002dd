"""Label the stages of OneFormer (and Mask2Former) for ``torch.profiler`` without touching the model code: the
bound methods listed here are wrapped in ``record_function`` for the duration of a ``with`` block."""
import contextlib
import functools
from typing import Iterator, List, Sequence, Tuple

import torch


def _targets(model) -> List[Tuple[str, object, str]]:
    """(label, object, method name) of every stage present in ``model``."""
    head = model.panoptic_head
    targets = [('data_preprocessor', model, 'data_preprocessor'), ('backbone', model.backbone, 'forward'),
               ('pixel_decoder', head.pixel_decoder, 'forward'),
               ('pixel_decoder.encoder', head.pixel_decoder.encoder, 'forward'),
               ('forward_decoder (task queries + masked decoder)', head, 'forward_decoder'),
               ('predict_by_pixel_feats (decoder + mask upsampling)', head, 'predict_by_pixel_feats'),
               ('decoder.head (cls+mask+attn_mask)', head, '_forward_head'),
               ('loss.by_feat', head, 'loss_by_feat'), ('loss.assign', head, 'get_targets')]
    for layer in head.transformer_decoder.layers:
        targets.append(('decoder.layer', layer, 'forward'))
    for name in ('query_transformer', 'task_encoder', 'text_mapper', 'loss_contrastive'):
        if getattr(head, name, None) is not None:
            targets.append((name, getattr(head, name), 'forward'))
    fusion = model.panoptic_fusion_head
    for name in ('panoptic_postprocess', 'instance_postprocess', 'semantic_postprocess'):
        if hasattr(fusion, name):
            targets.append((f'post.{name.split("_")[0]}', fusion, name))
    if hasattr(fusion, 'predict'):
        targets.append(('post.predict (incl. resize to ori_shape)', fusion, 'predict'))
    return [t for t in targets if hasattr(t[1], t[2])]


def stage_labels(model, extra: Sequence[Tuple[str, object, str]] = ()) -> List[str]:
    """The labels :func:`labelled` will use for ``model`` (and ``extra``)."""
    return sorted({label for label, _, _ in list(_targets(model)) + list(extra)})


@contextlib.contextmanager
def labelled(model, extra: Sequence[Tuple[str, object, str]] = ()) -> Iterator[None]:
    """Within the block, calls of the stage methods of ``model`` (and of ``extra`` (label, object, method)
    triples) appear as ``record_function`` ranges."""
    saved = []
    for label, obj, attr in list(_targets(model)) + list(extra):
        original = getattr(obj, attr)
        if isinstance(original, torch.nn.Module):  # data_preprocessor: wrap its forward
            obj, attr, original = original, 'forward', original.forward

        def wrapper(*args, __fn=original, __label=label, **kwargs):
            with torch.profiler.record_function(__label):
                return __fn(*args, **kwargs)

        functools.update_wrapper(wrapper, original)
        saved.append((obj, attr, obj.__dict__.get(attr)))
        setattr(obj, attr, wrapper)
    try:
        yield
    finally:
        for obj, attr, previous in reversed(saved):
            if previous is None:
                delattr(obj, attr)
            else:
                setattr(obj, attr, previous)
