"""The OneFormer detector: one model, three tasks, switched by the task token."""
from typing import Dict, List, Sequence

from mmdet.models.detectors import MaskFormer
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from ..utils import TASKS, check_task
from .oneformer_fusion_head import RESULT_KEYS


@MODELS.register_module()
class OneFormer(MaskFormer):
    """OneFormer in mmdet's MaskFormer layout (``backbone``, optional ``neck``, ``panoptic_head``,
    ``panoptic_fusion_head``, ``data_preprocessor``).

    The task of each image is its data sample's metainfo ``task``; at test time a missing task takes
    ``test_cfg.task`` (default 'panoptic') and every sample gets all three outputs from its own task token.
    With ``test_cfg.tasks`` set to several tasks (e.g. ``('panoptic', 'instance', 'semantic')``), the backbone
    and pixel decoder run once and the decoder once per task: ``pred_panoptic_seg`` comes from the panoptic
    token, ``pred_instances`` from the instance token and ``pred_sem_seg`` from the semantic token.

    ``load_mismatch`` controls checkpoints whose tensors differ in shape from the model (e.g. another class or
    query count): 'error' (default) raises naming every mismatched tensor and both shapes; 'reinit_cls' keeps
    the model's freshly initialised class head when only it differs (fine-tuning on new classes).
    """

    def __init__(self, *args, load_mismatch: str = 'error', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if load_mismatch not in ('error', 'reinit_cls'):
            raise ValueError(f"load_mismatch must be 'error' or 'reinit_cls', got {load_mismatch!r}")
        self.load_mismatch = load_mismatch
        test_cfg = self.test_cfg or {}
        tasks = test_cfg.get('tasks', None)
        self.eval_tasks = tuple(check_task(t) for t in tasks) if tasks else None

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        for sample in batch_data_samples:
            check_task(sample.metainfo.get('task', self.panoptic_head.default_task))
        return super().loss(batch_inputs, batch_data_samples)

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True) -> SampleList:
        for sample in batch_data_samples:  # a bad task must not pass silently, even when eval_tasks overrides it
            if 'task' in sample.metainfo:
                check_task(sample.metainfo['task'])
        feats = self.extract_feat(batch_inputs)
        pixel_feats = self.panoptic_head.forward_pixel(feats)  # shared by every task
        num = len(batch_data_samples)
        if self.eval_tasks is not None and len(self.eval_tasks) > 1:
            # each output from the token of its own task
            results = [dict() for _ in range(num)]
            for task in self.eval_tasks:
                for merged, res in zip(results, self._predict_task(pixel_feats, batch_data_samples, [task] * num,
                                                                   rescale, (task, ))):
                    merged.update(res)
        else:
            tasks = [self.eval_tasks[0]] * num if self.eval_tasks else None
            results = self._predict_task(pixel_feats, batch_data_samples, tasks, rescale, TASKS)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _predict_task(self, pixel_feats, batch_data_samples: SampleList, tasks, rescale: bool,
                      outputs: Sequence[str]) -> List[dict]:
        # 1/4-scale masks: the fusion head upsamples only the queries each output reads
        mask_cls, mask_pred = self.panoptic_head.predict_by_pixel_feats(pixel_feats, batch_data_samples, tasks,
                                                                        upsample=False)
        return self.panoptic_fusion_head.predict(mask_cls, mask_pred, batch_data_samples, rescale=rescale,
                                                 outputs=outputs)

    def add_pred_to_datasample(self, data_samples: SampleList, results_list: List[dict]) -> SampleList:
        for sample, res in zip(data_samples, results_list):
            if RESULT_KEYS['panoptic'] in res:
                sample.pred_panoptic_seg = res[RESULT_KEYS['panoptic']]
            if RESULT_KEYS['instance'] in res:
                sample.pred_instances = res[RESULT_KEYS['instance']]
            if RESULT_KEYS['semantic'] in res:
                sample.pred_sem_seg = res[RESULT_KEYS['semantic']]
        return data_samples

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Refuse silently skipping tensors of another shape (mmengine only warns)."""
        own = self.state_dict()
        mismatched = [(k, tuple(state_dict[prefix + k].shape), tuple(v.shape)) for k, v in own.items()
                      if prefix + k in state_dict and state_dict[prefix + k].shape != v.shape]
        if mismatched:
            cls_keys = {'panoptic_head.cls_embed.weight', 'panoptic_head.cls_embed.bias'}
            if self.load_mismatch == 'reinit_cls' and {k for k, _, _ in mismatched} <= cls_keys:
                for k in cls_keys:
                    state_dict.pop(prefix + k, None)
            else:
                lines = '\n'.join(f'  {k}: checkpoint {c}, model {m}' for k, c, m in mismatched)
                raise ValueError(
                    f'checkpoint does not fit the model ({len(mismatched)} tensors differ in shape; check the '
                    f'number of classes / queries in the config):\n{lines}\nTo fine-tune on other classes set '
                    "model.load_mismatch='reinit_cls'.")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
