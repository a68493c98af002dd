"""OneFormer for OpenMMLab. Importing this package registers every module of the project.

Layers, lowest first (a module imports only from layers below it): ``utils`` <- ``tasks`` and ``compat`` <- ``models``,
``datasets`` <- ``dataset_converters``, ``model_converters``, ``engine``, ``evaluation``, ``visualization``,
``deployment`` <- ``apis`` (see docs/architecture.md; tests/test_architecture.py checks it).

Importing it first, before torch, also lets idle OpenMP threads sleep instead of spinning unless the environment
says otherwise (:func:`oneformer.utils.sleep_idle_threads`; every entry point of the repository does so).
"""
from .utils import sleep_idle_threads

sleep_idle_threads()  # before `compat` imports torch: OpenMP reads its settings when torch loads it

from . import compat  # noqa: E402

compat.apply_all()  # first: the stack fixes the rest relies on (see oneformer.compat)

from . import (  # noqa: E402,F401  (registration)
    apis,  # noqa: E402,F401  (OneFormerInferencer)
    datasets,
    engine,
    evaluation,
    models,
    visualization,
)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
