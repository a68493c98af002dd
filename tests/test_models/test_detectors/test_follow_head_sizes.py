"""The detector fills what the fusion head and ``test_cfg`` leave unset from ``panoptic_head``: class counts and
the instance top-k (``max_per_image = num_queries``); explicit values win, and the built model uses them."""
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

import oneformer  # noqa: F401
from oneformer.models import OneFormer
from oneformer.testing import tiny_model_cfg


def test_unset_values_follow_the_head_and_set_ones_win():
    head = dict(num_things_classes=4, num_stuff_classes=3, num_queries=20)
    fusion, test_cfg = OneFormer.follow_head_sizes(head, dict(type='OneFormerFusionHead'), dict(iou_thr=0.8))
    assert (fusion.num_things_classes, fusion.num_stuff_classes, test_cfg.max_per_image) == (4, 3, 20)
    assert test_cfg.iou_thr == 0.8
    fusion, test_cfg = OneFormer.follow_head_sizes(head, dict(num_things_classes=9), dict(max_per_image=7))
    assert (fusion.num_things_classes, fusion.num_stuff_classes, test_cfg.max_per_image) == (9, 3, 7)
    fusion, test_cfg = OneFormer.follow_head_sizes(head, None, None)
    assert fusion is None and test_cfg.max_per_image == 20
    given = dict(max_per_image=5)
    OneFormer.follow_head_sizes(head, dict(), given)
    assert given == dict(max_per_image=5)  # inputs are not modified


def test_built_model_predicts_num_queries_instances():
    cfg = tiny_model_cfg(num_things=3, num_stuff=2, num_queries=12)
    del cfg.panoptic_fusion_head.num_things_classes, cfg.panoptic_fusion_head.num_stuff_classes
    del cfg.test_cfg.max_per_image
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    assert (model.panoptic_fusion_head.num_things_classes, model.panoptic_fusion_head.num_stuff_classes) == (3, 2)
    assert model.test_cfg.max_per_image == 12 == model.panoptic_fusion_head.test_cfg.max_per_image
    # thing classes dominate: the top-k of the N x K scores are all kept, k = num_queries of 12 x 5
    logits = torch.randn(12, 6)
    logits[:, :3] += 10
    queries, labels, _ = model.panoptic_fusion_head.instance_queries(logits)
    assert len(queries) == 12 and bool((labels < 3).all())
    meta = dict(img_shape=(64, 64), ori_shape=(64, 64), batch_input_shape=(64, 64), scale_factor=(1.0, 1.0))
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 64, 64), [DetDataSample(metainfo=meta)], tasks=('instance', ))
    assert 0 < len(out[0].pred_instances) <= 12
