"""Engine adapters: pure translation of (recipe, checkpoint) into a LaunchSpec.

Each module exports `ENGINE` (`base.Engine`), mapped by name in `registry.py`; its facts are a row of
data/engines.yaml (`deployctl.engine_facts`).
"""
