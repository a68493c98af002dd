"""Models and data of the benchmark: a random HF OneFormer, our model converted from it, mmdet's Mask2Former with
the same backbone / pixel decoder / decoder sizes, and synthetic images and training batches."""
import copy
import json
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmengine.config import Config, ConfigDict

from .presets import Preset

STAGES = ['stage1', 'stage2', 'stage3', 'stage4']
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__)))))
# share of queries made confident "objects" by calibrate_class_head (trained models keep a minority of queries)
OBJECT_FRACTION = 0.2
MASK_LOGIT_STD = 4.0


def init_scope() -> None:
    """Register OneFormer and mmdet modules; unscoped names (ResNet, DetDataPreprocessor) resolve in mmdet."""
    from mmdet.utils import register_all_modules
    from mmengine.logging import MMLogger

    import oneformer  # noqa: F401
    register_all_modules(init_default_scope=True)
    # the current logger: quiet init_weights / checkpoint chatter during the many model builds
    MMLogger.get_instance('oneformer_bench', log_level='WARNING')


def class_names(p: Preset) -> Tuple[List[str], List[str]]:
    if (p.num_things, p.num_stuff) == (3, 2):
        return ['circle', 'square', 'triangle'], ['sky', 'ground']
    return [f'thing{i}' for i in range(p.num_things)], [f'stuff{i}' for i in range(p.num_stuff)]


def write_class_info(p: Preset, path: str) -> str:
    """HF OneFormer class-info JSON (``{"0": {"name", "isthing"}}``): HF's image processor refuses to run without
    one (it would download it from the hub); things first, so no class reordering in the conversion."""
    things, stuff = class_names(p)
    info = {str(i): dict(name=n, isthing=int(i < len(things))) for i, n in enumerate(things + stuff)}
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(info, f)
    return path


# ---------------------------------------------------------------------------------------------------- HF model
def hf_config(p: Preset):
    from transformers import OneFormerConfig, ResNetConfig
    backbone = ResNetConfig(embedding_size=p.stem, hidden_sizes=p.channels, depths=p.depths, layer_type=p.layer_type,
                            out_features=STAGES)
    things, stuff = class_names(p)
    return OneFormerConfig(
        backbone_config=backbone, hidden_dim=p.hidden, conv_dim=p.hidden, mask_dim=p.hidden, num_queries=p.num_queries,
        decoder_layers=p.dec_layers + 1, encoder_layers=p.enc_layers, num_attention_heads=p.heads,
        dim_feedforward=p.dec_ffn, encoder_feedforward_dim=p.enc_ffn, text_encoder_n_ctx=p.text_ctx,
        num_labels=p.num_classes, id2label=dict(enumerate(things + stuff)), train_num_points=p.num_points)


def make_hf_model(p: Preset, seed: int = 0):
    from transformers import OneFormerForUniversalSegmentation
    torch.manual_seed(seed)
    return OneFormerForUniversalSegmentation(hf_config(p)).eval()


@torch.no_grad()
def calibrate_class_head(hf, pixel_values: torch.Tensor, task_inputs: torch.Tensor,
                         fraction: float = OBJECT_FRACTION, mask_std: float = MASK_LOGIT_STD) -> None:
    """Make a random model's outputs look like a trained one's on ``pixel_values``: peaked class scores with about
    ``fraction`` of the queries confident objects (the rest "no object"), and mask logits of std ``mask_std``
    (random weights give flat scores and near-zero mask logits: post-processing would be timed on empty or
    degenerate results)."""
    decoder = hf.model.transformer_module.decoder
    last = decoder.mask_embed.layers[-1].layers[0]  # scaling the last mask-embedding layer scales every mask logit
    masks = hf(pixel_values=pixel_values, task_inputs=task_inputs).masks_queries_logits
    scale = mask_std / masks.std().clamp(min=1e-12)
    last.weight.mul_(scale)
    last.bias.mul_(scale)
    head = decoder.class_embed
    logits = hf(pixel_values=pixel_values, task_inputs=task_inputs).class_queries_logits[0]  # (N, K+1)
    # raise "no object" so that only the top `fraction` of the queries (by margin over it) stay objects
    shift = torch.quantile(logits[:, :-1].max(-1).values - logits[:, -1], 1 - fraction)
    head.bias[-1] += shift
    logits[:, -1] += shift
    # then sharpen: median top-1 / top-2 margin 8, i.e. most scores near 1 as after training
    top2 = logits.topk(2, dim=-1).values
    scale = 8.0 / (top2[:, 0] - top2[:, 1]).median().clamp(min=1e-6)
    head.weight.mul_(scale)
    head.bias.mul_(scale)


def convert_hf(hf, p: Preset, work_dir: str) -> str:
    """``save_pretrained`` + our converter; returns the written ``config.py`` (``model.pth`` beside it)."""
    from oneformer.model_converters import convert_hf_dir
    hf.save_pretrained(osp.join(work_dir, 'hf'))
    info = write_class_info(p, osp.join(work_dir, 'class_info.json'))
    convert_hf_dir(osp.join(work_dir, 'hf'), osp.join(work_dir, 'mm'), class_info=info, strict=True)
    return osp.join(work_dir, 'mm', 'config.py')


def hf_processor(p: Preset, class_info: str):
    """HF's ``OneFormerImageProcessor`` resizing to the benchmark size (offline: local class-info file)."""
    from transformers import OneFormerImageProcessor
    return OneFormerImageProcessor(
        size={'shortest_edge': p.image_size, 'longest_edge': 4 * p.image_size}, repo_path=osp.dirname(class_info),
        class_info_file=osp.basename(class_info), num_text=p.num_queries - p.text_ctx, num_labels=p.num_classes)


# ---------------------------------------------------------------------------------------------------- our models
def load_cfg(cfg_path: str) -> Config:
    cfg = Config.fromfile(cfg_path)
    cfg.model.pop('init_cfg', None)
    return cfg


def with_text_mapper(model_cfg: ConfigDict, p: Preset) -> ConfigDict:
    """Training config: the HF-converted inference config plus the text mapper and contrastive loss."""
    m = copy.deepcopy(model_cfg)
    m.panoptic_head.text_mapper = dict(type='TextMapper', embed_dims=p.hidden, context_length=77, width=p.text_width,
                                       num_layers=p.text_layers, num_heads=p.text_heads, proj_num_layers=2,
                                       num_ctx=p.text_ctx)
    m.panoptic_head.loss_contrastive = dict(type='QueryTextContrastiveLoss', temperature=0.07, loss_weight=0.5)
    m.train_cfg.num_points = p.num_points
    return m


def mask2former_cfg(model_cfg: ConfigDict, p: Preset) -> ConfigDict:
    """mmdet's Mask2Former (``Mask2FormerHead`` + ``MaskFormerFusionHead``) with our backbone, pixel decoder,
    decoder, query count and losses: only the OneFormer additions (task / query transformer / text) differ."""
    from oneformer.models.utils import fill_head_inputs
    m = fill_head_inputs(model_cfg)  # mmdet's head needs in_channels / strides written out
    m.type = 'Mask2Former'
    m.pop('load_mismatch', None)
    h = m.panoptic_head
    h.type = 'Mask2FormerHead'
    for key in ('task_encoder', 'query_transformer', 'text_mapper', 'loss_contrastive', 'no_object_weight'):
        h.pop(key, None)
    h.loss_cls.class_weight = [1.0] * p.num_classes + [0.1]
    m.panoptic_fusion_head = dict(type='MaskFormerFusionHead', num_things_classes=p.num_things,
                                  num_stuff_classes=p.num_stuff, loss_panoptic=None, init_cfg=None)
    m.train_cfg.num_points = p.num_points
    m.test_cfg = dict(panoptic_on=True, semantic_on=False, instance_on=True, max_per_image=p.num_queries,
                      iou_thr=0.8, filter_low_score=True)
    return m


def build(model_cfg: ConfigDict, checkpoint: str = None, train: bool = False) -> torch.nn.Module:
    """Build (strictly loading ``checkpoint``'s tensors present in the model) in eval or train mode."""
    from mmdet.registry import MODELS
    model = MODELS.build(ConfigDict(copy.deepcopy(model_cfg)))
    if checkpoint is None:
        model.init_weights()
    else:
        state = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith('panoptic_head.text_mapper.') and 'loss_contrastive' not in k
                             for k in missing):
            raise RuntimeError(f'{checkpoint} does not fit: missing {missing}, unexpected {unexpected}')
    return model.train(train)


# ---------------------------------------------------------------------------------------------------- data
def make_synthetic(p: Preset, root: str, num_train: int) -> Dict:
    from oneformer.dataset_converters import generate_synthetic_panoptic
    things, stuff = class_names(p)
    return generate_synthetic_panoptic(root, num_train=num_train, num_val=2, img_size=p.image_size, seed=0,
                                       thing_classes=things, stuff_classes=stuff)


def train_dataset_cfg(p: Preset, root: str, task: str = None) -> ConfigDict:
    """The task-aware training pipeline of ``configs/_base_/datasets/synthetic_panoptic.py`` at the preset's
    image size / classes / query count; ``task`` fixes the task (same targets for every timed model)."""
    base = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'synthetic_panoptic.py'))
    ds = copy.deepcopy(base.train_dataloader.dataset)
    things, stuff = class_names(p)
    ds.update(data_root=root + '/', metainfo=dict(classes=tuple(things + stuff), thing_classes=tuple(things),
                                                  stuff_classes=tuple(stuff)))
    for t in ds.pipeline:
        if t.type == 'RandomResize':
            t.scale = (p.image_size, p.image_size)
        elif t.type == 'RandomCrop':
            t.crop_size = (p.image_size, p.image_size)
        elif t.type == 'OneFormerTaskTargets' and task is not None:
            t.task_probs = {task: 1.0}
    return ds


def build_dataset(ds_cfg: ConfigDict):
    from mmdet.registry import DATASETS
    return DATASETS.build(copy.deepcopy(ds_cfg))


def train_batch(p: Preset, root: str) -> Dict:
    """``pseudo_collate`` of ``p.batch`` pipeline outputs (panoptic task: targets for things and stuff)."""
    from mmengine.dataset import pseudo_collate
    dataset = build_dataset(train_dataset_cfg(p, root, task='panoptic'))
    return pseudo_collate([dataset[i % len(dataset)] for i in range(p.batch)])


def test_image(root: str) -> np.ndarray:
    """A synthetic validation image (BGR uint8, as read by OpenCV)."""
    import mmcv
    return mmcv.imread(osp.join(root, 'val', '000001.jpg'))
