"""Quantize a recipe's model with NVIDIA Model Optimizer into a cached, unified-HF checkpoint.

Entry point: `deployctl.quantize.pipeline.prepare_checkpoint(recipe)`. Nothing here imports torch or
Model Optimizer at module level; the heavy imports live inside the steps that need them.
"""
