"""Helpers shared by the model builders: backbone feature specs (channels / strides), backbone options."""
from .backbone_options import checkpoint_blocks, freeze
from .feature_spec import (
    PROBE_SIZE,
    FeatureSpec,
    check_or_fill,
    dry_forward,
    feature_spec,
    fill_head_inputs,
    fill_neck,
    resolve_head_inputs,
)

__all__ = [
    'PROBE_SIZE', 'FeatureSpec', 'check_or_fill', 'checkpoint_blocks', 'dry_forward', 'feature_spec',
    'fill_head_inputs', 'fill_neck', 'freeze', 'resolve_head_inputs'
]
