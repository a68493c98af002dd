"""Sample the OneFormer task per image and derive its targets and text list (the official unified dataset mapper)."""
from numbers import Real
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from ...tasks import CONTEXT_LENGTH, SAMPLING_ORDER, TASKS, build_text_list, tokenize


def check_task_probs(task_probs: Dict[str, float]) -> Dict[str, float]:
    """Validate a ``{task: probability}`` dict; returns it as plain floats or raises ``ValueError``."""
    if not isinstance(task_probs, dict) or not task_probs:
        raise ValueError(f'task_probs must be a non-empty dict {{task: probability}}, got {task_probs!r}')
    probs = {}
    for task, p in task_probs.items():
        if task not in TASKS:
            raise ValueError(f'task_probs has unknown task {task!r}; accepted tasks are {", ".join(TASKS)}.')
        if isinstance(p, bool) or not isinstance(p, Real) or not np.isfinite(p) or p < 0:
            raise ValueError(f'task_probs[{task!r}] must be a non-negative number, got {p!r}')
        probs[task] = float(p)
    total = sum(probs.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f'task_probs must sum to 1, got {total!r} from {task_probs!r}')
    return probs


@TRANSFORMS.register_module()
class OneFormerTaskTargets(BaseTransform):
    """Pick the task of an image and replace the per-segment annotation by that task's targets.

    Input: the per-segment annotation of :class:`LoadPanopticSegments` (after augmentation). Targets:

    - semantic: one mask per class present = union of its non-crowd segments;
    - instance: one mask per non-crowd thing segment (label < number of thing classes);
    - panoptic: one mask per non-crowd segment.

    Crowd segments and void pixels belong to no target; masks left empty by cropping are dropped.
    ``gt_masks``, ``gt_bboxes``, ``gt_bboxes_labels`` and ``gt_ignore_flags`` (all False) are replaced, and
    ``gt_seg_map`` is kept. The text list (one ``"a photo with a {name}"`` per target, in class-id order) is
    tokenized unpadded: the model pads it to its own size (``num_queries - num_ctx``), so nothing here depends
    on the model.

    Added keys: ``task`` (str) and ``text_tokens`` (np.int64 (num_targets, 77)).

    Args:
        task_probs (dict): Probability of each task, summing to 1. Defaults to 1/3 each.
        num_things_classes (int, optional): Thing classes (labels ``[0, num_things_classes)``). Defaults to the
            dataset's (``results['num_things_classes']``, injected by the OneFormer datasets).
        class_names (Sequence[str], optional): Class names for the texts; defaults to the dataset's
            (``results['classes']``).
    """

    def __init__(self,
                 task_probs: Optional[Dict[str, float]] = None,
                 num_things_classes: Optional[int] = None,
                 class_names: Optional[Sequence[str]] = None,
                 **removed) -> None:
        moved = sorted(set(removed) & {'num_queries', 'num_text_ctx', 'num_stuff_classes', 'test_task'})
        if moved:
            raise TypeError(f'OneFormerTaskTargets no longer takes {", ".join(moved)}: the model owns its query and '
                            'text-context counts, the dataset its classes, and test pipelines need no task. '
                            'Remove them from the pipeline config.')
        if removed:
            raise TypeError(f'OneFormerTaskTargets got unexpected arguments {sorted(removed)}')
        if num_things_classes is not None and num_things_classes < 0:
            raise ValueError(f'num_things_classes must be >= 0, got {num_things_classes}')
        self.num_things_classes = num_things_classes
        if task_probs is None:
            task_probs = {t: 1 / 3 for t in SAMPLING_ORDER}
        self.task_probs = check_task_probs(dict(task_probs))
        self.class_names = tuple(class_names) if class_names is not None else None
        self._token_cache: Dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ sampling
    def sample_task(self) -> str:
        """Draw a task with the global numpy RNG (seeded by mmengine), using the official cumulative thresholds."""
        u = np.random.random_sample()
        cum, last = 0.0, None
        for task in SAMPLING_ORDER:
            p = self.task_probs.get(task, 0.0)
            if p <= 0:
                continue
            cum += p
            last = task
            if u < cum:
                return task
        return last  # float round-off: u >= sum of probabilities

    # ------------------------------------------------------------------ targets
    @staticmethod
    def _select(task: str, masks: np.ndarray, labels: np.ndarray, ignore: np.ndarray,
                num_things: int) -> Tuple[np.ndarray, np.ndarray]:
        keep = ~ignore & masks.any(axis=(1, 2))
        if task == 'instance':
            keep &= labels < num_things
        if task != 'semantic':
            return masks[keep], labels[keep]
        classes = np.unique(labels[keep])  # sorted: one target per class present
        merged = [masks[keep & (labels == c)].any(axis=0) for c in classes]
        shape = masks.shape[1:]
        return (np.stack(merged) if merged else np.zeros((0, *shape), masks.dtype)), classes

    def derive_targets(self, results: dict, task: str, num_classes: int, num_things: int) -> None:
        """Replace the per-segment keys of ``results`` with the targets of ``task``."""
        gt_masks = results['gt_masks']
        if not isinstance(gt_masks, BitmapMasks):
            raise TypeError(f'OneFormerTaskTargets needs BitmapMasks in gt_masks, got {type(gt_masks).__name__} '
                            f'({results.get("img_path")}); use LoadAnnotations(poly2mask=True) for COCO JSON.')
        labels = np.asarray(results['gt_bboxes_labels'], dtype=np.int64).reshape(-1)
        if len(labels) != len(gt_masks):
            raise ValueError(f'{len(gt_masks)} masks but {len(labels)} labels in {results.get("img_path")}')
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.size:
            raise ValueError(f'Label(s) {sorted(set(bad.tolist()))} of {results.get("img_path")} are outside '
                             f'[0, {num_classes}) (the dataset\'s {num_classes} classes)')
        ignore = results.get('gt_ignore_flags')
        ignore = np.zeros(len(labels), bool) if ignore is None else np.asarray(ignore, bool).reshape(-1)
        masks, labels = self._select(task, gt_masks.masks.astype(bool), labels, ignore, num_things)
        new_masks = BitmapMasks(masks.astype(np.uint8), gt_masks.height, gt_masks.width)
        box_type = type(results['gt_bboxes']) if 'gt_bboxes' in results else HorizontalBoxes
        results['gt_masks'] = new_masks
        results['gt_bboxes'] = box_type.from_instance_masks(new_masks)
        results['gt_bboxes_labels'] = labels.astype(np.int64)
        results['gt_ignore_flags'] = np.zeros(len(labels), dtype=bool)

    # ------------------------------------------------------------------ texts
    def _tokens(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._token_cache]
        if missing:  # tokenize each distinct string once per worker
            for text, tok in zip(missing, tokenize(missing).numpy()):
                self._token_cache[text] = tok.astype(np.int64)
        if not texts:
            return np.zeros((0, CONTEXT_LENGTH), np.int64)
        return np.stack([self._token_cache[t] for t in texts])

    def _dataset_info(self, results: dict) -> Tuple[Sequence[str], int]:
        names = self.class_names if self.class_names is not None else results.get('classes')
        if names is None:
            raise KeyError('OneFormerTaskTargets needs class names: pass class_names=... or use a OneFormer dataset '
                           "(it injects results['classes'])")
        num_things = self.num_things_classes
        ds_things = results.get('num_things_classes')
        if num_things is None:
            if ds_things is None:
                raise KeyError('OneFormerTaskTargets needs the number of thing classes: pass num_things_classes=... '
                               "or use a OneFormer dataset (it injects results['num_things_classes'])")
            num_things = ds_things
        elif ds_things is not None and ds_things != num_things:
            raise ValueError(f'The dataset has {ds_things} thing classes but OneFormerTaskTargets was configured '
                             f'with num_things_classes={num_things}')
        if num_things > len(names):
            raise ValueError(f'num_things_classes={num_things} exceeds the {len(names)} classes')
        return names, num_things

    def transform(self, results: dict) -> dict:
        if 'gt_masks' not in results:
            raise KeyError(f'OneFormerTaskTargets needs gt_masks (per-segment masks) for {results.get("img_path")}; '
                           'put LoadPanopticSegments before it')
        names, num_things = self._dataset_info(results)
        task = self.sample_task()
        self.derive_targets(results, task, len(names), num_things)
        results['task'] = task
        results['text_tokens'] = self._tokens(build_text_list(results['gt_bboxes_labels'], names))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(task_probs={self.task_probs}, '
                f'num_things_classes={self.num_things_classes})')
