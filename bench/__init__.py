"""conveyor's benchmark suite: `uv run python -m bench [scenario ...] [--quick]`."""
