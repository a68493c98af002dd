"""OneFormer for OpenMMLab. Importing this package registers every module of the project."""
from . import utils  # noqa: F401  (first: stack compatibility shims)
from . import datasets, engine, evaluation, models, visualization  # noqa: F401  (registration)
from . import apis  # noqa: F401  (OneFormerInferencer; ~10 ms on top of the models)
from .version import __version__

__all__ = ['__version__']
