"""Helpers for every layer and the tools (like ``mmdet.utils``); imports nothing else of the package."""
from .collect_env import collect_env, cpu_model, format_env, load_average, thread_settings

__all__ = ['collect_env', 'cpu_model', 'format_env', 'load_average', 'thread_settings']
