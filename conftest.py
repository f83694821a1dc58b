"""Marks the repository root: pytest puts it on ``sys.path``, so tests import from source."""
