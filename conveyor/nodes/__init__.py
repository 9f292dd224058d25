"""Node executors, one module per node type."""
