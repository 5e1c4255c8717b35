"""Benchmarks: structcall side by side with unconstrained generation and outlines (``python -m benchmarks.run``)."""
