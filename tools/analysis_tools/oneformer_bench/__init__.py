"""Helpers of tools/analysis_tools/benchmark_peers.py and profile_oneformer.py."""
