"""Engine adapters: pure translation of (recipe, checkpoint) into a LaunchSpec."""
