"""The client address rate limits key on: a proxy's X-Forwarded-For is believed only from a trusted proxy."""

from __future__ import annotations

import pytest

from bot.client_address import client_address, parse_trusted

PROXIES = parse_trusted("10.0.0.0/24, 192.0.2.7, ::1")


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("203.0.113.5", "198.51.100.1", ()) == "203.0.113.5"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address("203.0.113.5", "198.51.100.1", PROXIES) == "203.0.113.5"
    assert client_address("203.0.113.5", ["10.0.0.1", "198.51.100.1"], PROXIES) == "203.0.113.5"


def test_from_a_trusted_proxy_the_client_is_the_right_most_untrusted_hop() -> None:
    assert client_address("10.0.0.3", "198.51.100.1", PROXIES) == "198.51.100.1"
    # The client wrote its own header first; the proxy appended the address it saw: the left part is ignored.
    assert client_address("10.0.0.3", "1.2.3.4, 198.51.100.1", PROXIES) == "198.51.100.1"
    # Two proxies of ours in a row (an edge proxy and HAProxy), across repeated headers.
    assert client_address("10.0.0.3", ["1.2.3.4, 198.51.100.1", "192.0.2.7"], PROXIES) == "198.51.100.1"
    assert client_address("::1", "2001:db8::5", PROXIES) == "2001:db8::5"
    assert client_address("10.0.0.3", "198.51.100.1:5123", PROXIES) == "198.51.100.1"
    assert client_address("10.0.0.3", "[2001:db8::5]:443", PROXIES) == "2001:db8::5"
    assert client_address("::ffff:10.0.0.3", "198.51.100.1", PROXIES) == "198.51.100.1"  # v4-mapped peer


def test_a_header_our_proxy_cannot_have_written_or_none_falls_back_to_the_peer() -> None:
    assert client_address("10.0.0.3", None, PROXIES) == "10.0.0.3"
    assert client_address("10.0.0.3", "", PROXIES) == "10.0.0.3"
    assert client_address("10.0.0.3", "198.51.100.1, not-an-address", PROXIES) == "10.0.0.3"
    assert client_address("10.0.0.3", "10.0.0.9", PROXIES) == "10.0.0.3"  # only our own proxies
    assert client_address("", "198.51.100.1", PROXIES) == ""


def test_bad_trusted_proxy_settings_are_named() -> None:
    assert parse_trusted("") == () and parse_trusted(None) == ()
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_trusted("10.0.0.0/8, 10.0.0.300")


def test_the_setting_refuses_a_bad_list_with_a_clear_message(monkeypatch) -> None:
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, proxy.internal")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES.*proxy.internal"):
        load_settings()
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1")
    assert [str(n) for n in load_settings().trusted_proxies] == ["10.0.0.1/32"]
