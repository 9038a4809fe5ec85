"""Plugins that ship with the core: the memory pipe and the memory arbitrator (the embedded default)."""
