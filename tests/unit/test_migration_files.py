"""The migrations shipped: numbered without a gap, and the first one exactly the schema 0.1 released."""

from __future__ import annotations

import hashlib

from conveyor.store.migrations import RELEASE_0_1_FINGERPRINT, known_migrations


def test_migrations_are_numbered_from_one_without_a_gap() -> None:
    assert [m.version for m in known_migrations()] == list(range(1, len(known_migrations()) + 1))


def test_the_first_migration_is_the_released_0_1_schema_unchanged() -> None:
    baseline = known_migrations()[0]
    digest = hashlib.sha256(baseline.sql.encode()).hexdigest()
    assert f"conveyor schema sha256:{digest}" == RELEASE_0_1_FINGERPRINT
