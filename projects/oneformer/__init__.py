"""OneFormer for OpenMMLab. Importing this package registers every module of the project."""
from . import utils  # noqa: F401  (first: stack compatibility shims)
from . import datasets, evaluation, models, visualization  # noqa: F401  (registration)
from .version import __version__

__all__ = ['__version__']
