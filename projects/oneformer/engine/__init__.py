"""Training engine pieces. Importing this package registers ``OneFormerOptimWrapperConstructor`` in mmdet's
``OPTIM_WRAPPER_CONSTRUCTORS``."""
from .optim_constructor import OneFormerOptimWrapperConstructor

__all__ = ['OneFormerOptimWrapperConstructor']
