"""Passwords in URLs (OMNICORD_DB, DASHSCOPE_BASE_URL) are masked in every shape: by
``mask_url`` wherever a URL is shown, and by value once the settings registered them."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from omnicord.secrets import mask_url, redact, url_secrets
from omnicord.settings import load_settings

from tests.cli.test_url_secrets_cli import pieces

#: (URL, the secret it holds as written). Each secret is distinctive, so a leak is visible.
SHAPES = [
    ("postgresql://ada:userinfo-Pw1@db.example:5432/omnicord", "userinfo-Pw1"),
    ("postgresql://ada:pct%40enc%2Fpw@db.example/omnicord", "pct%40enc%2Fpw"),
    ("postgresql://ada@db.example/omnicord?sslmode=require&password=query-Pw2",
     "query-Pw2"),
    ("postgresql://ada@db.example/omnicord?PASS=upper-Pw3", "upper-Pw3"),
    ("postgresql://ada@db.example/omnicord?pwd=pwd-Pw4&x=1", "pwd-Pw4"),
    ("postgresql://ada@db.example/omnicord?sslpassword=ssl-Pw5", "ssl-Pw5"),
    ("https://proxy.example/v1?token=tok-Pw6", "tok-Pw6"),
    ("https://proxy.example/v1?secret=sec-Pw7", "sec-Pw7"),
    ("https://proxy.example/v1?api_key=api-Pw8&key=key-Pw9", "api-Pw8"),
    ("postgresql://ada:hash#in-Pw10@db.example/omnicord", "hash#in-Pw10"),
    ("postgresql://ada:slash/in-Pw11@db.example/omnicord", "slash/in-Pw11"),
    ("postgresql://ada:quest?in-Pw12@db.example/omnicord", "quest?in-Pw12"),
    ("postgresql://ada:at@in-Pw13@db.example/omnicord", "at@in-Pw13"),
    ("postgresql://ada:all#/?@-Pw14@db.example:5432/omnicord", "all#/?@-Pw14"),
    ("http://user:proxy-Pw15@proxy.example:8080/compatible-mode/v1", "proxy-Pw15"),
    ("postgresql://ada@db.example/omnicord?password=frag#ment-Pw16", "frag#ment-Pw16"),
]




@pytest.mark.parametrize(("url", "secret"), SHAPES)
def test_mask_url_hides_every_shape_of_password(url: str, secret: str) -> None:
    shown = mask_url(url)
    assert "***" in shown
    for piece in pieces(secret):
        assert piece not in shown, shown
    assert shown.split("://")[0] == url.split("://")[0]
    assert "example" in shown  # the host stays readable


def test_the_host_user_and_database_stay_readable() -> None:
    assert mask_url("postgresql://ada:pw@db.example:5432/omni?sslmode=require") == (
        "postgresql://ada:***@db.example:5432/omni?sslmode=require")
    assert mask_url("postgresql://ada:a/b#c@db.example/omni") == (
        "postgresql://ada:***@db.example/omni")
    assert mask_url("postgresql://ada@db/omni?password=x&sslmode=require") == (
        "postgresql://ada@db/omni?password=***&sslmode=require")
    for plain in ("omnicord.db", "sqlite:///data/omnicord.db", "sqlite:////srv/a:b@c.db",
                  "postgresql://ada@db.example/omni", "https://dashscope.aliyuncs.com/v1"):
        assert mask_url(plain) == plain
        assert url_secrets(plain) == []


def test_url_secrets_gives_written_and_decoded_forms() -> None:
    assert url_secrets("postgresql://ada:p%40ss%2Fword@db/omni") == ["p%40ss%2Fword",
                                                                     "p@ss/word"]
    assert url_secrets("https://h/v1?api_key=a+b%21c") == ["a+b%21c", "a+b!c", "a b!c"]


@pytest.mark.parametrize(("url", "secret"), SHAPES)
def test_settings_register_url_passwords_by_value(
    url: str, secret: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = "OMNICORD_DB" if url.startswith("postgresql") else "DASHSCOPE_BASE_URL"
    monkeypatch.setenv(name, url)
    load_settings()
    for form in {secret, unquote(secret)}:
        assert form not in redact(f"an error quoting {form}, in a log line")
