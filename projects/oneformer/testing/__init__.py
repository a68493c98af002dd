"""Builders shared by the tests and tools (like ``mmdet.testing``): tiny configs of the real models."""
from ._configs import config_path, shrink_head, tiny_model_cfg, tiny_seg_model_cfg, tiny_twin
from ._logs import captured_log
from ._runner import SYNTHETIC_RUNNER_SIZE, synthetic_runner_cfg

__all__ = ['config_path', 'shrink_head', 'tiny_model_cfg', 'tiny_seg_model_cfg', 'tiny_twin',
           'SYNTHETIC_RUNNER_SIZE', 'synthetic_runner_cfg', 'captured_log']
