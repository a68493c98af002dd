"""Export a OneFormer detector to one ONNX graph that serves the three tasks.

The graph (:class:`OneFormerGraph`): normalised, padded images ``inputs`` (B, 3, H, W) float32 and task indices
``task`` (B, T) int64 (0 panoptic, 1 instance, 2 semantic; the order of :data:`oneformer.tasks.TASKS`) ->
``cls_logits`` (B, T, N, K+1) and ``mask_logits`` (B, T, N, H/4, W/4). The (3, 77) CLIP token table of the task
prompts is a constant inside the graph, so no tokenizer is needed at run time. The backbone and pixel decoder run
once per image, the task encoder, query transformer and masked decoder once per (image, task): T=3 gives the three
tasks' outputs for the cost of one backbone pass, as the PyTorch model's ``predict(tasks='all')``. T is fixed at
export (``num_tasks``; by default 1 for a fixed-size graph: every shape is then a constant, which ONNX Runtime folds,
~25 % faster on the demo-size model than with T a graph dimension) or a graph dimension (default with ``dynamic``);
:class:`~oneformer.deployment.OnnxOneFormer` runs any number of tasks on either.

Not in the graph: pre-processing (resize, normalisation, padding: the config's pipeline and data preprocessor),
post-processing (``OneFormerFusionHead``), the text mapper and losses (training only). Only default-domain ONNX
operators: the deformable attention is traced in its ``grid_sample`` form (:mod:`.deform_attn`, opset >= 16), never
as mmcv's custom operator.

Exporter: ``torch.onnx.export(..., dynamo=False)``, the TorchScript-based exporter (still in torch 2.13, deprecated
since 2.9). The ``torch.export``-based default (``dynamo=True``, which also needs ``onnxscript``) fails on mmdet 3.3's
pixel decoder even at a fixed size: ``torch.export`` cannot trace its ``torch._shape_as_tensor`` (tried with
onnxscript 0.7.2, strict and non-strict). The tracer records those sizes as graph values, which is also what makes
the ``--dynamic`` graph work at any size.
"""
import copy
import datetime
import os
import os.path as osp
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from ..compat import route_deform_attn
from ..models.dense_heads.oneformer_head import per_token
from ..tasks import CONTEXT_LENGTH, TASK_PROMPT, TASKS, task_tokens
from ..version import __version__
from .deform_attn import DEFORM_ATTN, MIN_OPSET
from .metadata import FORMAT, INPUT_NAMES, OUTPUT_NAMES, write_metadata
from .runtime import preprocess_metadata

DEFAULT_OPSET = 17  # LayerNormalization is a single operator from opset 17 on
DEFAULT_DEFORM_ATTN = 'grid_sample'


class OneFormerGraph(nn.Module):
    """What is exported: images and task indices -> final class and mask logits (see the module docstring).

    Args:
        model (nn.Module): A OneFormer detector (``extract_feat`` and a ``panoptic_head`` with ``pixel_decoder``
            and ``forward_decoder``), in eval mode, on the CPU.
        deform_attn (str): Export form of the deformable attention, a key of
            :data:`~oneformer.deployment.deform_attn.DEFORM_ATTN` ('grid_sample' or 'gather').
    """

    def __init__(self, model: nn.Module, deform_attn: str = 'grid_sample') -> None:
        super().__init__()
        if deform_attn not in DEFORM_ATTN:
            raise ValueError(f'deform_attn={deform_attn!r}: choose from {sorted(DEFORM_ATTN)}')
        self.model = model
        self.deform_attn = DEFORM_ATTN[deform_attn]
        self.register_buffer('task_table', torch.stack([task_tokens(t) for t in TASKS]), persistent=False)

    def forward(self, inputs: Tensor, task: Tensor) -> Tuple[Tensor, Tensor]:
        batch, num_tasks = task.shape
        tokens = self.task_table[task.flatten()]  # (B*T, 77), image-major
        head = self.model.panoptic_head
        feats = self.model.extract_feat(inputs)
        # head.forward_pixel routes mmcv's fallback to the project's gather (embedding_bag: an ONNX Loop): call the
        # pixel decoder under the export form instead
        with route_deform_attn(self.deform_attn):
            mask_features, memories = head.pixel_decoder([f.float() for f in feats])

        # (B, ...) -> (B*T, ...), image-major like the tokens
        cls_list, mask_list, _ = head.forward_decoder(
            (per_token(mask_features, num_tasks), [per_token(m, num_tasks) for m in memories]), tokens)
        cls, masks = cls_list[-1], mask_list[-1]
        return (cls.reshape(batch, num_tasks, cls.shape[1], cls.shape[2]),
                masks.reshape(batch, num_tasks, masks.shape[1], masks.shape[2], masks.shape[3]))


def check_exportable(model: nn.Module) -> None:
    """Raise a ``TypeError`` if ``model`` is not a OneFormer detector the graph can be traced from."""
    head = getattr(model, 'panoptic_head', None)
    if not (hasattr(model, 'extract_feat') and hasattr(model, 'test_tasks') and hasattr(head, 'forward_decoder')
            and hasattr(head, 'pixel_decoder')):
        raise TypeError(f'{type(model).__name__} is not a OneFormer detector (model.type=OneFormer with an '
                        'OneFormerHead): nothing to export')


def build_metadata(model: nn.Module, cfg, dataset_meta: Dict, *, input_shape: Sequence, task_shape: Sequence,
                   dynamic: bool, opset: int, checkpoint: Optional[str] = None,
                   deform_attn: str = 'grid_sample') -> Dict[str, Any]:
    """The JSON-able ``metadata_props`` of an exported file (see :mod:`.metadata`)."""
    head, fusion = model.panoptic_head, model.panoptic_fusion_head
    test_cfg = dict(fusion.test_cfg or {})
    from mmengine.config import Config
    config = cfg if isinstance(cfg, Config) else Config(copy.deepcopy(dict(cfg)))
    meta = dict(
        format=FORMAT,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        input_shape=list(input_shape),
        task_shape=list(task_shape),
        dynamic=bool(dynamic),
        opset=int(opset),
        exporter='torch.onnx.export(dynamo=False) (TorchScript)',
        deform_attn=deform_attn,
        tasks=list(TASKS),
        task_prompts=[TASK_PROMPT.format(t) for t in TASKS],
        context_length=CONTEXT_LENGTH,
        num_queries=int(head.num_queries),
        num_classes=int(fusion.num_classes),
        num_things_classes=int(fusion.num_things_classes),
        num_stuff_classes=int(fusion.num_stuff_classes),
        classes=list(dataset_meta['classes']),
        thing_classes=list(dataset_meta.get('thing_classes') or dataset_meta['classes'][:fusion.num_things_classes]),
        stuff_classes=list(dataset_meta.get('stuff_classes') or dataset_meta['classes'][fusion.num_things_classes:]),
        palette=_jsonable(dataset_meta.get('palette')),
        test_cfg=dict(object_mask_thr=test_cfg.get('object_mask_thr', 0.8), iou_thr=test_cfg.get('iou_thr', 0.8),
                      max_per_image=test_cfg.get('max_per_image', 100), tasks=list(model.test_tasks),
                      task_token=model.test_task_token),
        preprocess=preprocess_metadata(model.data_preprocessor, cfg['model'].get('data_preprocessor', None)),
        config=config.pretty_text,
        source_checkpoint=osp.basename(checkpoint) if checkpoint else None,
        versions=dict(oneformer=__version__, torch=torch.__version__),
        exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    )
    if len(meta['classes']) != meta['num_classes']:
        raise ValueError(f'{len(meta["classes"])} class names for a model with {meta["num_classes"]} classes')
    return meta


def export_onnx(model: nn.Module, out_file: str, cfg, dataset_meta: Dict, *, shape: Tuple[int, int] = (512, 512),
                batch_size: int = 1, dynamic: bool = False, num_tasks: Union[int, None, str] = 'auto',
                opset: int = DEFAULT_OPSET, checkpoint: Optional[str] = None,
                deform_attn: str = DEFAULT_DEFORM_ATTN) -> Dict[str, Any]:
    """Export ``model`` to ``out_file`` and store its metadata in the file.

    Args:
        model (nn.Module): A OneFormer detector with its weights (moved to a CPU copy if on another device: the
            CUDA path of mmcv's deformable attention would trace as a custom operator).
        out_file (str): The ``.onnx`` file to write.
        cfg (Config): The model's config (stored in the file; its data preprocessor and fusion head run around
            the graph).
        dataset_meta (dict): ``classes`` (and optionally ``thing_classes``, ``stuff_classes``, ``palette``).
        shape (tuple[int, int]): (H, W) of the padded input: the graph's only size unless ``dynamic``, else the size
            it is traced at. Multiples of the data preprocessor's ``pad_size_divisor``.
        batch_size (int): Batch of the traced input (the graph's batch unless ``dynamic``).
        dynamic (bool): Batch, height and width as graph dimensions. Only as good as the model's code is
            traceable: sizes computed as Python numbers become constants (mmdet's ``SwinTransformer`` pads its
            windows so: its dynamic graph is wrong at other sizes). Check it at another size
            (:func:`oneformer.deployment.compare.check_export`, which ``pytorch2onnx.py`` runs).
        num_tasks (int | None | str): Tasks per image T of the graph (1-3), None for a graph dimension; 'auto':
            None with ``dynamic``, else 1 (fully static graph).
        opset (int): ONNX opset, >= 16 (``GridSample``).
        checkpoint (str, optional): Name of the weights file, recorded in the metadata.
        deform_attn (str): 'grid_sample' (one ``GridSample`` per level) or 'gather' (one ``Gather`` + ``MatMul``
            for all levels): the same function in two operator sets (docs/deployment.md has their speeds).

    Returns:
        dict: The metadata written.

    Raises:
        ValueError: an opset below 16, a batch < 1, ``num_tasks`` outside 1-3 or a size that is not a multiple of the
            size divisor.
        TypeError: ``model`` is not a OneFormer detector.
        RuntimeError: tracing fails (e.g. a DiNAT backbone) or the graph has an operator outside the default ONNX
            domain.
    """
    check_exportable(model)
    if opset < MIN_OPSET:
        raise ValueError(f'opset {opset}: the deformable attention exports as GridSample, which needs opset >= '
                         f'{MIN_OPSET}')
    if batch_size < 1:
        raise ValueError(f'batch size must be >= 1, got {batch_size}')
    if num_tasks == 'auto':
        num_tasks = None if dynamic else 1
    if num_tasks is not None and not (isinstance(num_tasks, int) and 1 <= num_tasks <= len(TASKS)):
        raise ValueError(f'num_tasks must be 1..{len(TASKS)}, None (a graph dimension) or "auto", got {num_tasks!r}')
    div = int(getattr(model.data_preprocessor, 'pad_size_divisor', 1) or 1)
    height, width = (int(s) for s in shape)
    if height < div or width < div or height % div or width % div:
        raise ValueError(f'shape {height}x{width} (H x W) is not a positive multiple of the size divisor {div} '
                         '(model.data_preprocessor.pad_size_divisor): the graph takes padded batches')
    if next(model.parameters()).device.type != 'cpu':
        model = copy.deepcopy(model).cpu()
    model.eval()
    # size-keyed caches (the query transformer's positional encoding) filled by an earlier call at this size would
    # be traced as constants: a --dynamic graph would then be wrong at every other size
    for module in model.modules():
        if getattr(module, '_pos_cache', None) is not None:
            module._pos_cache = None
    graph = OneFormerGraph(model, deform_attn).eval()
    inputs = torch.randn(batch_size, 3, height, width)
    task = torch.arange(num_tasks or 1).repeat(batch_size, 1)
    axes = {name: {} for name in INPUT_NAMES + OUTPUT_NAMES}
    if dynamic:
        axes[INPUT_NAMES[0]].update({0: 'batch', 2: 'height', 3: 'width'})
        axes[INPUT_NAMES[1]][0] = axes[OUTPUT_NAMES[0]][0] = axes[OUTPUT_NAMES[1]][0] = 'batch'
        axes[OUTPUT_NAMES[1]].update({3: 'mask_height', 4: 'mask_width'})
    if num_tasks is None:
        axes[INPUT_NAMES[1]][1] = axes[OUTPUT_NAMES[0]][1] = axes[OUTPUT_NAMES[1]][1] = 'num_tasks'
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # tracer warnings about Python values read from tensors (the level sizes, mmcv's size assert) and the
        # exporter's deprecation notice: the exported graph is checked against PyTorch instead
        warnings.simplefilter('ignore')
        try:
            torch.onnx.export(graph, (inputs, task), out_file, dynamo=False, opset_version=opset,
                              input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES), dynamic_axes=axes,
                              do_constant_folding=True)
        except Exception as e:  # the tracer raises bare RuntimeErrors from C++ without naming the module
            if osp.exists(out_file):
                os.remove(out_file)
            raise RuntimeError(
                f'tracing {type(model).__name__} with backbone {type(model.backbone).__name__} for ONNX failed '
                f'({type(e).__name__}: {e}). Custom autograd Functions cannot be traced (e.g. the DiNAT '
                'backbone\'s neighbourhood attention); ResNet, Swin and ConvNeXt backbones export.') from e
    check_standard_ops(out_file)
    input_shape = ['batch', 3, 'height', 'width'] if dynamic else [batch_size, 3, height, width]
    task_shape = ['batch' if dynamic else batch_size, 'num_tasks' if num_tasks is None else num_tasks]
    metadata = build_metadata(model, cfg, dataset_meta, input_shape=input_shape, task_shape=task_shape,
                              dynamic=dynamic, opset=opset, checkpoint=checkpoint, deform_attn=deform_attn)
    write_metadata(out_file, metadata)
    return metadata


def check_standard_ops(onnx_file: str) -> None:
    """Raise a ``RuntimeError`` naming the operators of ``onnx_file`` outside the default ONNX domain."""
    import onnx
    model = onnx.load(onnx_file, load_external_data=False)
    custom = sorted({f'{n.domain}::{n.op_type}' for n in model.graph.node if n.domain not in ('', 'ai.onnx')})
    if custom:
        raise RuntimeError(f'{onnx_file}: operators outside the default ONNX domain {custom}; stock ONNX Runtime '
                           'cannot run them')


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, 'tolist'):
        return value.tolist()
    return value
