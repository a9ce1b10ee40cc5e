from __future__ import annotations

import pytest

from mdm.errors import InvalidInputError
from mdm.settings import Settings


def test_environment_then_overrides() -> None:
    env = {"MDM_DATABASE_URL": "sqlite:///x.db", "MDM_PORT": "9000", "MDM_GRAPHIQL": "off"}
    settings = Settings.from_env(env, port=9100, host=None)
    assert settings.database_url == "sqlite:///x.db"
    assert settings.port == 9100  # the flag wins
    assert settings.host == "127.0.0.1"  # None means "not given"
    assert settings.graphiql is False


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Settings.from_env({"MDM_PORT": "eighty"})
    assert caught.value.field == "MDM_PORT"
    assert caught.value.code == "INVALID_SETTING"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_request_limits_come_from_the_environment() -> None:
    defaults = Settings()
    assert defaults.max_body_bytes == 8 * 2**20
    assert defaults.introspection is True
    assert defaults.graphql_workers >= 1
    assert 0 < defaults.max_query_fields < defaults.max_query_cost
    env = {
        "MDM_MAX_BODY_BYTES": "1024",
        "MDM_MAX_QUERY_FIELDS": "200",
        "MDM_MAX_QUERY_COST": "5000",
        "MDM_GRAPHQL_WORKERS": "2",
        "MDM_INTROSPECTION": "off",
    }
    settings = Settings.from_env(env)
    assert (
        settings.max_body_bytes,
        settings.max_query_fields,
        settings.max_query_cost,
        settings.graphql_workers,
        settings.introspection,
    ) == (1024, 200, 5000, 2, False)
