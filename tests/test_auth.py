"""Auth: factories, environment precedence, metadata, user_app_id and masking."""

from __future__ import annotations

import pickle

import pytest

from clarifai_client import Auth, ClarifaiConfigError
from clarifai_client.grpc.api import resources_pb2

TOKEN = "tok3n-Abc-7f0d2c9e11"


def test_api_key_metadata_and_no_user_app_id() -> None:
    auth = Auth.from_api_key(TOKEN)
    assert auth.metadata == (("authorization", f"Key {TOKEN}"),)
    assert auth.kind == "api_key" and not auth.is_pat
    assert auth.user_app_id is None


def test_pat_user_app_id_is_a_user_app_id_set() -> None:
    auth = Auth.from_pat(TOKEN, user_id="clarifai", app_id="main")
    assert auth.metadata == (("authorization", f"Key {TOKEN}"),)
    assert auth.user_app_id == resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main")
    assert isinstance(auth.user_app_id, resources_pb2.UserAppIDSet)


def test_pat_without_user_uses_me_alias() -> None:
    auth = Auth.from_pat(TOKEN)
    assert auth.user_app_id == resources_pb2.UserAppIDSet(user_id="me")


def test_from_env_prefers_pat_then_api_key() -> None:
    env = {"CLARIFAI_PAT": TOKEN, "CLARIFAI_USER_ID": "u1", "CLARIFAI_APP_ID": "a1", "CLARIFAI_API_KEY": "other-key"}
    auth = Auth.from_env(environ=env)
    assert auth.is_pat and (auth.user_id, auth.app_id) == ("u1", "a1")
    key_only = Auth.from_env(environ={"CLARIFAI_API_KEY": TOKEN})
    assert key_only.kind == "api_key" and key_only.metadata[0][1] == f"Key {TOKEN}"


def test_from_env_explicit_arguments_beat_environment() -> None:
    env = {"CLARIFAI_PAT": "env-pat-value", "CLARIFAI_USER_ID": "env-user", "CLARIFAI_APP_ID": "env-app"}
    auth = Auth.from_env(pat=TOKEN, user_id="arg-user", environ=env)
    assert auth.metadata[0][1] == f"Key {TOKEN}"
    assert (auth.user_id, auth.app_id) == ("arg-user", "env-app")
    by_key = Auth.from_env(api_key=TOKEN, environ=env)
    assert by_key.kind == "api_key"


def test_from_env_empty_values_count_as_unset() -> None:
    env = {"CLARIFAI_PAT": "  ", "CLARIFAI_API_KEY": TOKEN, "CLARIFAI_APP_ID": ""}
    assert Auth.from_env(environ=env).kind == "api_key"


def test_from_env_reads_os_environ_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLARIFAI_PAT", "CLARIFAI_API_KEY", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ClarifaiConfigError):
        Auth.from_env()
    monkeypatch.setenv("CLARIFAI_API_KEY", TOKEN)
    assert Auth.from_env().metadata[0][1] == f"Key {TOKEN}"


def test_surrounding_whitespace_is_stripped() -> None:
    assert Auth.from_api_key(f"  {TOKEN}\r\n").metadata[0][1] == f"Key {TOKEN}"


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("ab cd", "whitespace"),
        ("ab\tcd", "whitespace"),
        ('"abcd"', "quote"),
        ("ab\x00cd", "character"),
        ("", "empty"),
        (None, "No API key"),
        (b"abcd", "bytes"),
    ],
)
def test_bad_tokens_name_the_problem(bad: object, words: str) -> None:
    with pytest.raises(ClarifaiConfigError, match=words) as info:
        Auth.from_api_key(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_bad_token_error_never_contains_token() -> None:
    secret = "s3cr3t-value with-space"
    with pytest.raises(ClarifaiConfigError) as info:
        Auth.from_pat(secret, user_id="u", app_id="a")
    assert "s3cr3t" not in str(info.value) and "s3cr3t" not in repr(info.value)


def test_repr_and_str_mask_the_token() -> None:
    for auth in (Auth.from_api_key(TOKEN), Auth.from_pat(TOKEN, user_id="u", app_id="a")):
        for text in (repr(auth), str(auth), f"{auth}", auth.masked):
            assert TOKEN not in text
            assert TOKEN[:6] not in text
        assert "u" in repr(Auth.from_pat(TOKEN, user_id="u"))


def test_auth_is_not_picklable() -> None:
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(Auth.from_api_key(TOKEN))


def test_bad_ids_are_rejected_without_the_token() -> None:
    with pytest.raises(ClarifaiConfigError, match="user_id") as info:
        Auth.from_pat(TOKEN, user_id="my user")
    assert TOKEN not in str(info.value)


def test_env_is_set() -> None:
    assert Auth.env_is_set({"CLARIFAI_PAT": TOKEN})
    assert not Auth.env_is_set({"CLARIFAI_PAT": " ", "CLARIFAI_USER_ID": "u"})
