"""Test support shared by tests/ and bench/: a local webhook peer, and waiting on a fact with a deadline."""
