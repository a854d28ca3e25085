"""Runtimes start and observe engine instances: a container (`docker`) or a local process (`process`).

Entry point: `deployctl.runtimes.registry.get_runtime(kind)` (a kind → class mapping, no fallback); the
contract is in `runtimes.base`, the values they return (`Handle`, `InstanceState`) in `deployctl.instance`.
"""
