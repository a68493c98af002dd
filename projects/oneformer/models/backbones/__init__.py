"""Backbones (mmdet MODELS)."""
from .dinat import DiNAT

__all__ = ['DiNAT']
