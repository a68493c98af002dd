"""Pipelines: every run gets the dataset base's augmentation and resizing, spliced into its own library's loading and
packing steps (mmdet steps translated to mmseg's for the semantic peers)."""
import copy
from typing import List, Sequence

from .common import CompareError

ONEFORMER_ONLY_TRANSFORMS = ('OneFormerTaskTargets', )
PEER_KEEP_TRANSFORMS = ('FilterAnnotations', )
# mmdet transform -> how mmseg spells it (mmcv's RandomFlip / RandomResize / RandomChoiceResize / Resize are shared)
MMSEG_SAME = ('RandomFlip', 'RandomResize', 'RandomChoiceResize', 'Resize', 'PhotoMetricDistortion')


def _is_loader(t) -> bool:
    """Whether pipeline step ``t`` loads data (``LoadImageFromFile``, ``LoadPanopticAnnotations``, ...)."""
    return t['type'].startswith('Load')


def _is_augmentation(t) -> bool:
    """Whether pipeline step ``t`` augments / resizes (not a loader, packer, OneFormer target or kept peer step)."""
    return not (_is_loader(t) or t['type'].startswith('Pack') or t['type'] in ONEFORMER_ONLY_TRANSFORMS
                or t['type'] in PEER_KEEP_TRANSFORMS)


def to_mmseg(t: dict) -> dict:
    """An mmdet augmentation step of the dataset base as the equivalent mmseg step.

    Raises:
        CompareError: For a step without a known mmseg equivalent.
    """
    t = copy.deepcopy(dict(t))
    t.pop('backend_args', None)
    if t['type'] in MMSEG_SAME:
        return t
    if t['type'] == 'RandomCrop' and t.get('crop_type', 'absolute') == 'absolute':
        w, h = t['crop_size']  # mmdet: (w, h); mmseg: (h, w)
        return dict(type='RandomCrop', crop_size=(h, w))
    raise CompareError(f'no mmseg equivalent known for the dataset\'s augmentation step {t} (the semantic Mask2Former '
                       'needs one); write its config by hand')


def splice(peer: Sequence[dict], augmentation: Sequence[dict]) -> List[dict]:
    """``peer`` pipeline with its augmentation steps replaced by ``augmentation`` (loaders, the steps of
    ``PEER_KEEP_TRANSFORMS`` and packing keep their places)."""
    out, inserted = [], False
    for t in peer:
        if _is_augmentation(t):
            if not inserted:
                out.extend(copy.deepcopy(list(augmentation)))
                inserted = True
            continue
        if not inserted and not _is_loader(t):  # a peer without augmentation: before its first non-loader step
            out.extend(copy.deepcopy(list(augmentation)))
            inserted = True
        out.append(copy.deepcopy(t))
    if not inserted:
        out.extend(copy.deepcopy(list(augmentation)))
    return out


def augmentation_of(pipeline: Sequence[dict], library: str) -> List[dict]:
    """Augmentation / resizing steps of a dataset base pipeline, as ``library`` spells them."""
    steps = [copy.deepcopy(dict(t)) for t in pipeline if _is_augmentation(t)]
    return [to_mmseg(t) for t in steps] if library == 'mmseg' else steps


def shared_loading(pipeline: Sequence[dict], library: str) -> List[dict]:
    """A peer's pipeline with its loaders reading the shared data as every other run does: masks decoded to bitmaps
    (mmdet's ``poly2mask=False`` would mark the RLE masks of converted panoptic data as ignored) and label maps
    read as written (mmseg's ``reduce_zero_label``: the shared maps have class 0 and 255 = void)."""
    out = []
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        if t['type'] == 'LoadAnnotations':
            if library == 'mmseg':
                t['reduce_zero_label'] = False
            elif t.get('with_mask') and 'poly2mask' in t:
                t['poly2mask'] = True
        out.append(t)
    return out
