"""OneFormer for OpenMMLab. Importing this package registers every module of the project."""
import importlib

from . import utils  # noqa: F401  (first: stack compatibility shims)
from . import models  # noqa: F401
from .version import __version__

# data and evaluation sides register their transforms, datasets, metrics and hooks
for _name in ('datasets', 'evaluation'):
    if importlib.util.find_spec(f'{__name__}.{_name}') is not None:
        importlib.import_module(f'{__name__}.{_name}')

__all__ = ['__version__']
