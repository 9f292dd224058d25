"""Which failed commits are refusals (the step fails after two alike) and which pass on (the step runs again)."""

from __future__ import annotations

import asyncpg
import pytest

from conveyor.store.steps import CommitRefusedError, UnstorableResultError, refusals


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ProgramLimitExceededError("total size of jsonb array elements exceeds the maximum"),
        asyncpg.exceptions.CheckViolationError("new row violates check constraint"),
        asyncpg.exceptions.RaiseError("refused by a trigger"),
    ],
)
def test_an_error_about_what_the_commit_holds_is_a_refusal_with_its_sqlstate(error: asyncpg.PostgresError) -> None:
    with pytest.raises(CommitRefusedError) as raised, refusals():
        raise error
    assert raised.value.sqlstate == error.sqlstate
    assert not isinstance(raised.value, UnstorableResultError)


@pytest.mark.parametrize(
    "error",
    [asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted to text"), TypeError("not JSON")],
)
def test_a_result_the_database_can_never_take_is_unstorable(error: Exception) -> None:
    with pytest.raises(UnstorableResultError), refusals():
        raise error


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute UPDATE in a read-only transaction"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.DiskFullError("could not extend file"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        asyncpg.exceptions.LockNotAvailableError("could not obtain lock"),
    ],
)
def test_a_lost_or_transient_failure_is_no_refusal(error: asyncpg.PostgresError) -> None:
    with pytest.raises(type(error)), refusals():
        raise error
