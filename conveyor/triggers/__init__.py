"""Trigger kinds: what turns outside happenings into inbox rows, one module per kind."""
