"""oneformer.apis.load_pytorch_model (the ONNX export's and comparison tools' loader): built by mmdet's
init_detector, with the inferencer's class names and palette, never mmdet's COCO default."""
import warnings

import pytest
import torch
from mmdet.evaluation import get_classes
from mmengine.config import Config

from oneformer.apis import OneFormerInferencer, load_pytorch_model
from oneformer.compat import CheckpointReadError

from .conftest import CKPT_CLASSES


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_without_class_names_takes_the_config_s_not_coco_s(infer_env):
    from oneformer.datasets.synthetic import SYNTHETIC_METAINFO
    with pytest.warns(UserWarning, match=r"no class names in meta\['dataset_meta'\]; using the config's") as said:
        model, cfg = load_pytorch_model(infer_env.config, infer_env.ckpt_nometa)
    classes = tuple(model.dataset_meta['classes'])
    assert classes == SYNTHETIC_METAINFO['classes'] and classes != tuple(get_classes('coco'))
    assert [tuple(c) for c in model.dataset_meta['palette']] == [tuple(c) for c in SYNTHETIC_METAINFO['palette']]
    assert not [w for w in said if 'COCO' in str(w.message)]  # init_detector's default is not announced either
    assert not model.training and isinstance(cfg, Config) and cfg.model.type == 'OneFormer'
    # the weights of the checkpoint, as the inferencer loads them
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inferencer = OneFormerInferencer(infer_env.config, weights=infer_env.ckpt_nometa, device='cpu')
    assert _same_weights(model, inferencer.model)
    assert model.dataset_meta == inferencer.model.dataset_meta


def test_class_names_and_palette_from_the_checkpoint(infer_env, tmp_path):
    state = torch.load(infer_env.ckpt, map_location='cpu', weights_only=False)
    palette = [(10 * i, 20 * i, 30 * i) for i in range(5)]
    state['meta']['dataset_meta'] = dict(CKPT_CLASSES, palette=palette)
    ckpt = str(tmp_path / 'with_palette.pth')
    torch.save(state, ckpt)
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)  # nothing to warn about: the checkpoint names its classes
        model, _ = load_pytorch_model(infer_env.config, ckpt)
    assert tuple(model.dataset_meta['classes']) == CKPT_CLASSES['classes']
    assert tuple(model.dataset_meta['thing_classes']) == CKPT_CLASSES['thing_classes']
    assert [tuple(c) for c in model.dataset_meta['palette']] == palette


def test_model_only_config_and_errors(infer_env, tmp_path):
    full = Config.fromfile(infer_env.config)
    model_only = str(tmp_path / 'model_only.py')  # a converter's output: no dataset, the class names in metainfo
    Config(dict(model=full.model, metainfo=dict(classes=tuple('vwxyz')))).dump(model_only)
    with pytest.warns(UserWarning, match='no class names'):
        model, _ = load_pytorch_model(model_only, infer_env.ckpt_nometa)
    assert tuple(model.dataset_meta['classes']) == tuple('vwxyz') and len(model.dataset_meta['palette']) == 5
    with pytest.raises(ValueError, match='4 class names'):
        load_pytorch_model(infer_env.config, infer_env.ckpt_4cls)
    truncated = tmp_path / 'truncated.pth'
    with open(infer_env.ckpt, 'rb') as f:
        truncated.write_bytes(f.read()[:1000])
    with pytest.raises(CheckpointReadError, match=f'cannot read checkpoint {truncated}'):
        load_pytorch_model(infer_env.config, str(truncated))
    with pytest.raises(ValueError, match='exported graph'):
        load_pytorch_model(infer_env.config, str(tmp_path / 'model.onnx'))
