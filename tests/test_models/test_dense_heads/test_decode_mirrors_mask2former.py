"""Guard: ``OneFormerHead.decode`` is mmdet's ``Mask2FormerHead.forward`` loop, given the same queries.

``decode`` mirrors that loop because mmdet's forward takes no queries (it reads its learnable ``query_feat``). Fed
Mask2Former's own ``query_feat`` and pixel-decoder output, with the shared weights copied, both must give the same
class and mask logits at every layer; an mmdet upgrade that changes the loop fails here.
"""
import copy

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

from oneformer.testing import tiny_model_cfg

ONEFORMER_ONLY = ('task_encoder', 'query_transformer', 'text_mapper', 'loss_contrastive', 'no_object_weight',
                  'fast_cpu_deform_attn')


def test_decode_equals_mask2former_forward_given_the_same_queries():
    head_cfg = tiny_model_cfg().panoptic_head
    head_cfg.update(in_channels=[16, 32, 64, 128], strides=[4, 8, 16, 32])  # built alone: no backbone to probe
    m2f_cfg = copy.deepcopy(head_cfg)
    for key in ONEFORMER_ONLY:
        m2f_cfg.pop(key, None)
    num_classes = head_cfg.num_things_classes + head_cfg.num_stuff_classes
    m2f_cfg.update(type='Mask2FormerHead', loss_cls=dict(m2f_cfg.loss_cls, class_weight=[1.0] * num_classes + [0.1]))
    torch.manual_seed(0)
    m2f = MODELS.build(m2f_cfg)
    m2f.init_weights()
    ours = MODELS.build(head_cfg)
    missing, unexpected = ours.load_state_dict(m2f.state_dict(), strict=False)
    assert unexpected == ['query_feat.weight']  # the one Mask2Former tensor OneFormer has not: its queries
    assert all(k.split('.')[0] in ONEFORMER_ONLY for k in missing), missing
    m2f.eval()
    ours.eval()

    x = [torch.randn(2, c, 64 // s, 64 // s) for c, s in zip(head_cfg.in_channels, (4, 8, 16, 32))]
    samples = [DetDataSample(metainfo=dict(batch_input_shape=(64, 64), img_shape=(64, 64))) for _ in range(2)]
    with torch.no_grad():
        ref_cls, ref_masks = m2f(x, samples)
        pixel_feats = m2f.pixel_decoder(x)
        queries = m2f.query_feat.weight[None].expand(2, -1, -1)
        cls, masks = ours.decode(queries, pixel_feats)
    assert len(cls) == len(ref_cls) == head_cfg.transformer_decoder.num_layers + 1
    for a, b in zip(cls, ref_cls):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for a, b in zip(masks, ref_masks):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
