"""configs/mmseg: inherit mmseg's Mask2Former configs unchanged except the decode head, and build."""
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmseg.registry import METRICS, MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

from .conftest import MMSEG_CONFIGS

# our config -> (mmseg Mask2Former config it sits next to, dataset class, num_classes, num_queries)
CONFIGS = {
    'oneformer_r50_8xb2-160k_ade20k-512x512.py':
    ('mask2former_r50_8xb2-160k_ade20k-512x512.py', 'ADE20KDataset', 150, 150),
    'oneformer_r50_8xb2-90k_cityscapes-512x1024.py':
    ('mask2former_r50_8xb2-90k_cityscapes-512x1024.py', 'CityscapesDataset', 19, 150),
    'oneformer_swin-l-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py':
    ('mask2former_swin-l-in22k-384x384-pre_8xb2-160k_ade20k-640x640.py', 'ADE20KDataset', 150, 250),
}
# keys a user compares between the two: everything but the model must be Mask2Former's
SHARED_KEYS = ('train_pipeline', 'test_pipeline', 'train_dataloader', 'val_dataloader', 'test_dataloader',
               'val_evaluator', 'test_evaluator', 'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
               'default_hooks', 'auto_scale_lr', 'default_scope', 'env_cfg', 'log_processor', 'visualizer',
               'tta_pipeline')
# decode-head keys OneFormer changes (everything else: the same as Mask2Former)
HEAD_CHANGES = {'type', 'class_names', 'num_queries', 'pixel_decoder', 'task_encoder', 'query_transformer',
                'text_mapper', 'loss_contrastive'}
TEXT_EMBED_KEYS = {'prompt_ctx', 'token_embedding', 'positional_embedding'}


def _load(name):
    import oneformer  # noqa: F401
    return Config.fromfile(osp.join(MMSEG_CONFIGS, name))


def _load_mask2former(name, tmp_path):
    path = tmp_path / 'm2f.py'
    path.write_text(f"_base_ = ['mmseg::mask2former/{name}']\n")
    return Config.fromfile(str(path))


@pytest.mark.parametrize('name', list(CONFIGS))
def test_config_is_mask2former_config_with_oneformer_head(name, tmp_path):
    m2f_name, dataset, num_classes, num_queries = CONFIGS[name]
    cfg, m2f = _load(name), _load_mask2former(m2f_name, tmp_path)
    assert cfg.custom_imports == dict(imports=['oneformer', 'mmdet.models'], allow_failed_imports=False)
    for key in SHARED_KEYS:
        assert cfg.get(key) == m2f.get(key), key
    # mmseg's SegTTAModel re-applies a softmax; our head's scores are already sum_q softmax(cls) * sigmoid(mask)
    assert m2f.tta_model.type == 'SegTTAModel' and cfg.tta_model == dict(type='OneFormerSegTTAModel')
    assert cfg.model.data_preprocessor == m2f.model.data_preprocessor
    assert cfg.model.backbone == m2f.model.backbone
    assert cfg.model.test_cfg == m2f.model.test_cfg
    # optimizer: Mask2Former's, plus no weight decay on OneFormer's text embeddings
    assert cfg.optim_wrapper.optimizer == m2f.optim_wrapper.optimizer
    assert cfg.optim_wrapper.clip_grad == m2f.optim_wrapper.clip_grad
    keys, m2f_keys = cfg.optim_wrapper.paramwise_cfg.custom_keys, m2f.optim_wrapper.paramwise_cfg.custom_keys
    assert set(keys) == set(m2f_keys) | TEXT_EMBED_KEYS
    assert all(keys[k] == m2f_keys[k] for k in m2f_keys)
    assert all(keys[k].decay_mult == 0 for k in TEXT_EMBED_KEYS)

    head, m2f_head = cfg.model.decode_head, m2f.model.decode_head
    assert head.type == 'OneFormerSegHead' and head.class_names == dataset
    assert (head.num_classes, head.num_queries) == (num_classes, num_queries)
    assert len(head.loss_cls.class_weight) == num_classes + 1
    for key in set(m2f_head) - HEAD_CHANGES:
        assert head[key] == m2f_head[key], key
    # the pixel decoder only gets OneFormer's dropout
    enc, m2f_enc = head.pixel_decoder.encoder.layer_cfg, m2f_head.pixel_decoder.encoder.layer_cfg
    assert (enc.self_attn_cfg.dropout, enc.ffn_cfg.ffn_drop) == (0.1, 0.1)
    enc.self_attn_cfg.dropout, enc.ffn_cfg.ffn_drop = m2f_enc.self_attn_cfg.dropout, m2f_enc.ffn_cfg.ffn_drop
    assert head.pixel_decoder == m2f_head.pixel_decoder
    # mmseg scope: every mmdet / OneFormer component is prefixed
    for key in ('task_encoder', 'query_transformer', 'text_mapper', 'loss_contrastive', 'loss_cls', 'loss_mask',
                'loss_dice', 'pixel_decoder'):
        assert head[key].type.startswith('mmdet.'), key


@pytest.mark.parametrize('name', [pytest.param(n, marks=pytest.mark.slow if 'swin-l' in n else ()) for n in CONFIGS])
def test_config_builds_model_pipelines_and_metric(name):
    from mmseg.registry import DATASETS
    _, dataset, num_classes, num_queries = CONFIGS[name]
    cfg = _load(name)
    cfg.model.backbone.init_cfg = None  # no download
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'OneFormerEncoderDecoder'
    head = model.decode_head
    assert type(head).__name__ == 'OneFormerSegHead'
    assert (model.num_classes, model.out_channels, model.align_corners) == (num_classes, num_classes, False)
    assert head.num_queries == num_queries and head.query_embed.num_embeddings == num_queries
    assert head.class_names == tuple(DATASETS.get(dataset).METAINFO['classes'])
    assert head.text_token_table.shape == (num_classes, 77)  # every class text (the head pads with the task's)
    sample = DetDataSample(metainfo=dict(text_tokens=head.class_text_tokens(torch.tensor([0]))))
    assert head.text_mapper.num_ctx == 16 and head.text_tokens([sample], ['semantic'], 'cpu').shape == \
        (1, num_queries - 16, 77)
    assert type(head.loss_cls).__module__.startswith('mmdet.')
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline, cfg.train_dataloader.dataset.pipeline,
                     cfg.val_dataloader.dataset.pipeline):
        for t in pipeline:
            TRANSFORMS.build(t)
    assert type(METRICS.build(cfg.val_evaluator)).__name__ == 'IoUMetric'


@pytest.mark.slow
def test_real_ade_model_predicts_a_label_map():
    """The full-size R50 head (150 queries, 6-layer pixel decoder, 9 decoder layers) through EncoderDecoder."""
    cfg = _load('oneformer_r50_8xb2-160k_ade20k-512x512.py')
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    sample = SegDataSample(metainfo=dict(ori_shape=(60, 70), img_shape=(60, 70)))
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 60, 70), dtype=torch.uint8)],
                                        data_samples=[sample]))
    assert data['inputs'].shape[-2:] == (64, 96)  # size_divisor 32
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])[0]
    assert out.seg_logits.data.shape == (150, 60, 70)  # padding cropped by EncoderDecoder
    assert out.pred_sem_seg.data.shape == (1, 60, 70)
    assert torch.equal(out.pred_sem_seg.data[0], out.seg_logits.data.argmax(0))
