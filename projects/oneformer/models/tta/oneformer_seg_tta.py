"""Multi-scale + flip TTA for the mmseg face (``EncoderDecoder`` + :class:`OneFormerSegHead`)."""
from typing import List

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.utils import SampleList


@SEG_MODELS.register_module()
class OneFormerSegTTAModel(BaseTTAModel):
    """mmseg's ``SegTTAModel`` for OneFormer: averages the views' scores as they are, without a softmax.

    mmseg 1.2.2 ``SegTTAModel.merge_preds`` applies ``softmax(dim=0)`` to each view's ``seg_logits`` before
    averaging (``sigmoid`` when ``out_channels == 1``), and no config option turns that off. OneFormer's
    ``seg_logits`` are already per-class scores Σ_q softmax(cls_q)[:K] · sigmoid(mask_q) (:class:`OneFormerSegHead`,
    the official ``semantic_inference``), and the official ``SemanticSegmentorWithTTA`` (OneFormer
    ``oneformer/test_time_augmentation.py``) averages exactly these maps; a second softmax flattens them towards
    uniform (they lie in [0, N]) and changes the argmax of the average. ``EncoderDecoder.postprocess_result``
    already removes the padding, undoes the flip and resizes each view to the original size.

    Use as ``tta_model = dict(type='OneFormerSegTTAModel')`` with mmseg's usual ``tta_pipeline``
    (``TestTimeAug`` over ``Resize`` scales and ``RandomFlip``, meta keys incl. ``flip`` / ``flip_direction``).
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Average the views' ``seg_logits`` of each image and take the argmax.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, its views' predictions.

        Returns:
            list[SegDataSample]: Per image, the first view's sample with ``seg_logits`` = the mean scores and
            ``pred_sem_seg`` = their argmax.
        """
        predictions = []
        for data_samples in data_samples_list:
            scores = torch.stack([s.seg_logits.data for s in data_samples]).mean(0)
            sample = data_samples[0]
            sample.set_data({'seg_logits': PixelData(data=scores),
                             'pred_sem_seg': PixelData(data=scores.argmax(dim=0, keepdim=True))})
            predictions.append(sample)
        return predictions
