"""What is measured of every run: parameters, FLOPs at the test size, inference seconds per image, training
wall / CPU seconds and peak memory."""
import inspect
import resource
import sys
import time
from typing import Dict, Optional, Tuple


def train_clock():
    """A hook that accumulates the wall time and the process CPU time (all threads of this process; data loader
    workers excluded) of the training loop and keeps them in the checkpoints, so a resumed run reports its whole
    training time."""
    from mmengine.hooks import Hook

    class TrainClock(Hook):
        """Training-loop wall / CPU seconds, saved in and restored from checkpoints."""
        priority = 'VERY_HIGH'  # before CheckpointHook's after_train_iter: the saved total includes that iteration

        def __init__(self):
            self.seconds = self.cpu_seconds = 0.0
            self._last = self._last_cpu = None

        def before_train(self, runner) -> None:
            self._last, self._last_cpu = time.perf_counter(), time.process_time()

        def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
            now, now_cpu = time.perf_counter(), time.process_time()
            self.seconds += now - self._last
            self.cpu_seconds += now_cpu - self._last_cpu
            self._last, self._last_cpu = now, now_cpu

        def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
            meta = checkpoint.setdefault('meta', {})
            meta['compare_train_seconds'], meta['compare_train_cpu_seconds'] = self.seconds, self.cpu_seconds

        def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
            meta = checkpoint.get('meta', {})
            self.seconds = float(meta.get('compare_train_seconds', 0.0))
            self.cpu_seconds = float(meta.get('compare_train_cpu_seconds', 0.0))

    return TrainClock()


def count_params(model) -> Tuple[int, int]:
    """All parameters, and those inference uses (OneFormer's text mapper only serves the training loss)."""
    total = sum(p.numel() for p in model.parameters())
    head = getattr(model, 'panoptic_head', None)
    text = getattr(head, 'text_mapper', None)
    return total, total - (sum(p.numel() for p in text.parameters()) if text is not None else 0)


def time_inference(runner, num_images: int, warmup: int = 1) -> Tuple[Optional[float], Optional[float]]:
    """Median wall and process-CPU seconds per image of ``model.test_step`` (data preprocessing, forward,
    post-processing of every task the run is evaluated on), one image at a time, on the first val images (decoded
    beforehand)."""
    import numpy as np
    import torch
    loader = runner.test_dataloader
    dataset = loader.dataset
    n = min(num_images, len(dataset))
    if n == 0:
        return None, None
    batches = [loader.collate_fn([dataset[i]]) for i in range(n)]
    model = runner.model
    model.eval()
    times, cpu_times = [], []
    with torch.no_grad():
        for i in range(warmup):
            model.test_step(batches[i % n])
        for batch in batches:
            start, start_cpu = time.perf_counter(), time.process_time()
            model.test_step(batch)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - start_cpu)
    return float(np.median(times)), float(np.median(cpu_times))


def test_image_size(cfg) -> Tuple[int, int]:
    """(h, w) of the FLOPs input: the test pipeline's resize target (for ``keep_ratio`` with two different edges,
    a square of the shorter one: the images' aspect is not known here), padded to a multiple of 32."""
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize' and t.get('scale'):
            scale = t['scale']
            w, h = (scale, scale) if isinstance(scale, int) else scale
            if t.get('keep_ratio') and w != h:
                w = h = min(w, h)
            return (-(-h // 32) * 32, -(-w // 32) * 32)
    return (512, 512)


def _reference(model):
    """OneFormer's plain formulation (stock attention, mmcv's deformable-attention fallback) while counting: the same
    arithmetic as its CPU fast paths, in ops the analyzer knows. Other models pass through unchanged."""
    from oneformer.models import reference_formulation
    return reference_formulation(model)


def count_flops(model, library: str, size: Tuple[int, int]) -> Dict:
    """FLOPs of one forward (backbone + neck + head, no pre/post-processing) on a ``size`` image with mmengine's
    ``FlopAnalyzer`` (a multiply-add counts as one; ops it has no handle for are listed in ``skipped_ops`` and not
    counted, e.g. the deformable attention's ``grid_sample`` of both OneFormer and Mask2Former)."""
    import torch
    from mmengine.analysis import FlopAnalyzer
    h, w = size
    meta = dict(batch_input_shape=(h, w), img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), task='panoptic',
                scale_factor=(1.0, 1.0))
    if library == 'mmseg':
        from mmseg.structures import SegDataSample
        samples = [SegDataSample(metainfo=meta)]
    else:
        from mmdet.structures import DetDataSample
        samples = [DetDataSample(metainfo=meta)]

    class Forward(torch.nn.Module):
        """``model`` with a tensor-only forward: backbone + neck + head on one image batch."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if library != 'mmseg':
                return self.inner._forward(x, samples)
            head = self.inner.decode_head
            feats = self.inner.extract_feat(x)
            if len(inspect.signature(head.forward).parameters) > 1:  # mmseg's Mask2Former / MaskFormer heads
                return head.forward(feats, samples)
            return head.forward(feats)

    x = torch.randn(1, 3, h, w, device=next(model.parameters()).device)
    with _reference(model), torch.no_grad():
        analyzer = FlopAnalyzer(Forward(model).eval(), (x, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        total = int(analyzer.total())
        skipped = dict(analyzer.unsupported_ops())
    return dict(flops=total, input=[1, 3, h, w], skipped_ops={k: int(v) for k, v in sorted(skipped.items())})


def peak_memory_mb() -> Dict[str, Optional[float]]:
    """Peak resident memory of this process so far (MiB; the run's own process: model build + training) and, on
    CUDA, the peak allocated by torch."""
    import torch
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / 2**20 if sys.platform == 'darwin' else rss / 1024  # bytes on macOS, KiB on Linux
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return dict(peak_rss_mb=round(rss_mb, 1), peak_cuda_mb=None if cuda is None else round(cuda, 1))
