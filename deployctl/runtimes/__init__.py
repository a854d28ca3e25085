"""Runtimes start and observe engine instances: a container (`docker`) or a local process (`process`).

Entry point: `deployctl.runtimes.registry.get_runtime(kind)`; the contract is in `runtimes.base`.
"""
