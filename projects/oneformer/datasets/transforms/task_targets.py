"""Sample the OneFormer task per image and derive its targets and text list (spec §3)."""
from numbers import Real
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from oneformer.utils import TASKS, check_task, task_tokens, tokenize

# Order of the cumulative thresholds of the official mapper: u < p_sem -> semantic, u < p_sem + p_ins -> instance.
SAMPLING_ORDER = ('semantic', 'instance', 'panoptic')
PAD_TEXTS = {'semantic': 'a semantic photo', 'instance': 'an instance photo', 'panoptic': 'a panoptic photo'}
TEXT_TEMPLATE = 'a photo with a {}'


def build_text_list(labels: np.ndarray, task: str, class_names: Sequence[str], num_texts: int) -> list:
    """One ``"a photo with a {name}"`` per target in class-id order (spec §3.3), truncated / padded to
    ``num_texts`` with the task's pad text."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(class_names))
    texts = [TEXT_TEMPLATE.format(class_names[c]) for c in range(len(class_names)) for _ in range(counts[c])]
    texts = texts[:num_texts]
    return texts + [PAD_TEXTS[task]] * (num_texts - len(texts))


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
    - instance: one mask per non-crowd thing segment (label < ``num_things_classes``);
    - panoptic: one mask per non-crowd segment.

    Crowd segments and void pixels belong to no target; masks left empty by cropping are dropped.
    ``gt_masks``, ``gt_bboxes``, ``gt_bboxes_labels`` and ``gt_ignore_flags`` (all False) are replaced, and
    ``gt_seg_map`` is kept. In training the text list is built in class-id order (one
    ``"a photo with a {name}"`` per target, then the task's pad text up to ``num_queries - num_text_ctx``)
    and tokenized.

    Added Keys: task (str), task_tokens (np.int64 (77,)), and in training texts (list[str]) and
    text_tokens (np.int64 (num_texts, 77)).

    Args:
        num_things_classes (int): Number of thing classes (labels ``[0, num_things_classes)``).
        num_stuff_classes (int): Number of stuff classes.
        num_queries (int): Number of object queries of the model.
        num_text_ctx (int): Learnable text-context vectors of the model; ``num_texts = num_queries - num_text_ctx``.
        task_probs (dict): Probability of each task, summing to 1. Defaults to 1/3 each.
        test_task (str, optional): Fixed task (no sampling, no text list), for validation pipelines.
        class_names (Sequence[str], optional): Class names for the texts; defaults to ``results['classes']``
            (injected by the OneFormer datasets).
    """

    def __init__(self,
                 num_things_classes: int,
                 num_stuff_classes: int,
                 num_queries: int = 150,
                 num_text_ctx: int = 16,
                 task_probs: Optional[Dict[str, float]] = None,
                 test_task: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None) -> None:
        if num_things_classes < 0 or num_stuff_classes < 0 or num_things_classes + num_stuff_classes <= 0:
            raise ValueError(f'Need num_things_classes, num_stuff_classes >= 0 with a positive sum, got '
                             f'{num_things_classes} and {num_stuff_classes}')
        if num_queries <= num_text_ctx:
            raise ValueError(f'num_queries ({num_queries}) must exceed num_text_ctx ({num_text_ctx})')
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_things_classes + num_stuff_classes
        self.num_queries = num_queries
        self.num_text_ctx = num_text_ctx
        self.num_texts = num_queries - num_text_ctx
        if task_probs is None:
            task_probs = {t: 1 / 3 for t in SAMPLING_ORDER}
        self.task_probs = check_task_probs(dict(task_probs))
        self.test_task = check_task(test_task) if test_task is not None else None
        if class_names is not None and len(class_names) != self.num_classes:
            raise ValueError(f'class_names has {len(class_names)} names but num_things_classes + '
                             f'num_stuff_classes = {self.num_classes}')
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
    def _select(self, task: str, masks: np.ndarray, labels: np.ndarray,
                ignore: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        keep = ~ignore & masks.any(axis=(1, 2))
        if task == 'instance':
            keep &= labels < self.num_things_classes
        if task != 'semantic':
            return masks[keep], labels[keep]
        classes = np.unique(labels[keep])  # sorted: one target per class present
        merged = [masks[keep & (labels == c)].any(axis=0) for c in classes]
        shape = masks.shape[1:]
        return (np.stack(merged) if merged else np.zeros((0, *shape), masks.dtype)), classes

    def derive_targets(self, results: dict, task: str) -> None:
        """Replace the per-segment keys of ``results`` with the targets of ``task``."""
        gt_masks = results['gt_masks']
        if not isinstance(gt_masks, BitmapMasks):
            raise TypeError(f'OneFormerTaskTargets needs BitmapMasks in gt_masks, got {type(gt_masks).__name__} '
                            f'({results.get("img_path")}); use LoadAnnotations(poly2mask=True) for COCO JSON.')
        labels = np.asarray(results['gt_bboxes_labels'], dtype=np.int64).reshape(-1)
        if len(labels) != len(gt_masks):
            raise ValueError(f'{len(gt_masks)} masks but {len(labels)} labels in {results.get("img_path")}')
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(f'Label(s) {sorted(set(bad.tolist()))} of {results.get("img_path")} are outside '
                             f'[0, {self.num_classes}) (num_things_classes + num_stuff_classes)')
        ignore = results.get('gt_ignore_flags')
        ignore = np.zeros(len(labels), bool) if ignore is None else np.asarray(ignore, bool).reshape(-1)
        masks, labels = self._select(task, gt_masks.masks.astype(bool), labels, ignore)
        new_masks = BitmapMasks(masks.astype(np.uint8), gt_masks.height, gt_masks.width)
        box_type = type(results['gt_bboxes']) if 'gt_bboxes' in results else HorizontalBoxes
        results['gt_masks'] = new_masks
        results['gt_bboxes'] = box_type.from_instance_masks(new_masks)
        results['gt_bboxes_labels'] = labels.astype(np.int64)
        results['gt_ignore_flags'] = np.zeros(len(labels), dtype=bool)

    # ------------------------------------------------------------------ texts
    def build_texts(self, labels: np.ndarray, task: str, class_names: Sequence[str]) -> list:
        """The text list of one image (see :func:`build_text_list`)."""
        return build_text_list(labels, task, class_names, self.num_texts)

    def _tokens(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._token_cache]
        if missing:  # tokenize each distinct string once per worker
            for text, tok in zip(missing, tokenize(missing).numpy()):
                self._token_cache[text] = tok.astype(np.int64)
        return np.stack([self._token_cache[t] for t in texts])

    def _class_names(self, results: dict) -> Sequence[str]:
        names = self.class_names if self.class_names is not None else results.get('classes')
        if names is None:
            raise KeyError('OneFormerTaskTargets needs class names: pass class_names=... or use a OneFormer dataset '
                           "(it injects results['classes'])")
        if len(names) != self.num_classes:
            raise ValueError(f'The dataset has {len(names)} classes but OneFormerTaskTargets was configured with '
                             f'{self.num_things_classes} things + {self.num_stuff_classes} stuff')
        return names

    def transform(self, results: dict) -> dict:
        ds_things = results.get('num_things_classes')
        if ds_things is not None and ds_things != self.num_things_classes:
            raise ValueError(f'The dataset has {ds_things} thing classes but OneFormerTaskTargets was configured '
                             f'with num_things_classes={self.num_things_classes}')
        task = self.test_task or self.sample_task()
        if 'gt_masks' in results:
            self.derive_targets(results, task)
        elif self.test_task is None:
            raise KeyError(f'OneFormerTaskTargets needs gt_masks (per-segment masks) for {results.get("img_path")}; '
                           'put LoadPanopticSegments before it')
        results['task'] = task
        results['task_tokens'] = task_tokens(task).numpy().astype(np.int64)
        if self.test_task is None:
            texts = self.build_texts(results['gt_bboxes_labels'], task, self._class_names(results))
            results['texts'] = texts
            results['text_tokens'] = self._tokens(texts)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_things_classes={self.num_things_classes}, '
                f'num_stuff_classes={self.num_stuff_classes}, num_queries={self.num_queries}, '
                f'num_text_ctx={self.num_text_ctx}, task_probs={self.task_probs}, test_task={self.test_task})')
