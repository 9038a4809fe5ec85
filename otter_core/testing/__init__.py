"""Test support shipped with otter: real throwaway servers and pytest fixtures (``otter_core.testing.fixtures``)."""
