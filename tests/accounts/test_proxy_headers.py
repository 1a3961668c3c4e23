"""The log-in throttle locks by the client's address, so who may set that address matters:
`manage.py serve` has uvicorn trust X-Forwarded-For only from the proxies FORWARDED_ALLOW_IPS
names (uvicorn's own default trusts anyone on 127.0.0.1, who could then pick a fresh address
for every try)."""

import subprocess
import sys

import pytest

from convodesk.conversations.management.commands.serve import web_command


@pytest.mark.nodb
def test_without_a_named_proxy_no_forwarding_header_is_trusted(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    command = web_command("python", "127.0.0.1", 8000, 1)
    assert "--no-proxy-headers" in command and "--forwarded-allow-ips" not in command


@pytest.mark.nodb
def test_a_named_proxy_is_the_only_one_trusted(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.5")
    command = web_command("python", "127.0.0.1", 8000, 1)
    flag = command.index("--forwarded-allow-ips")
    assert "--proxy-headers" in command and command[flag + 1] == "10.0.0.5"


@pytest.mark.nodb
def test_uvicorn_takes_the_flags_serve_gives_it(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    help_text = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--help"], capture_output=True, text=True, check=True
    ).stdout
    flags = [a for a in web_command(sys.executable, "127.0.0.1", 8000, 1) if a.startswith("--")]
    assert all(flag in help_text for flag in flags), flags
