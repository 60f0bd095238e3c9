"""``gp2bm pin`` from a registry that asks for a login, with the credentials ``docker login``
or ``podman login`` kept (runtimes/credentials.py): the real Debian ``docker-registry``,
its store pushed to openly and then served with htpasswd (HTTP Basic) authentication. No
daemon runs; the password never reaches gp2bm's output."""

from __future__ import annotations

import base64
import json
import shutil
import warnings

import pytest
from campaign_helpers import write_suite
from test_pin_anywhere import free_port, push_image, serving_registry

from gp2bm.errors import InputError
from gp2bm.runtimes.credentials import credentials_for

USER, PASSWORD = "vendor", "s3cret-Pa55word"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # the registry's htpasswd takes bcrypt only; libxcrypt makes it

    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc's crypt(3) makes no bcrypt hash for the registry's htpasswd")
    return hashed


@pytest.fixture
def private_registry(tmp_path, monkeypatch):
    """An image pushed to the registry, which then asks for a login; no auth file is kept
    yet (HOME and the auth-file variables point into the test's folder)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    addr = f"127.0.0.1:{free_port()}"
    with serving_registry(tmp_path, addr):
        pushed = push_image(addr, "vendor/bert", "v4")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    auth = {"htpasswd": {"realm": "gp2bm-test", "path": str(htpasswd)}}
    with serving_registry(tmp_path, addr, auth):
        yield addr, pushed


def _login(tmp_path, addr: str, password: str = PASSWORD) -> None:
    """What ``docker login ADDR`` writes."""
    config = tmp_path / "home" / ".docker" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    config.write_text(json.dumps({"auths": {addr: {"auth": auth}}}))


def test_pin_asks_for_a_login_then_pins_with_docker_logins_credentials(
    cli, private_registry, tmp_path
):
    addr, pushed = private_registry
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    ref = f"{addr}/vendor/bert:v4"
    res = cli("pin", "resnet", ref, "--suite", suite, "--runtime", "apptainer")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert f"registry {addr} asks for a login" in res.err and "docker login" in res.err
    _login(tmp_path, addr)
    res = cli("pin", "resnet", ref, "--suite", suite, "--runtime", "apptainer", "--json")
    assert res.code == 0, res.err
    assert res.json()["pinned"] == f"{addr}/vendor/bert@{pushed}"
    assert PASSWORD not in res.out + res.err


def test_a_wrong_password_is_refused_naming_whose(cli, private_registry, tmp_path):
    addr, _ = private_registry
    _login(tmp_path, addr, "not-the-password")
    suite = write_suite(tmp_path / "s", {"resnet": 1})
    res = cli("pin", "resnet", f"{addr}/vendor/bert:v4", "--suite", suite)
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    assert f"registry {addr} refused access to" in res.err
    assert "with the credentials of " in res.err and "config.json" in res.err
    assert "not-the-password" not in res.err


def test_podmans_auth_file_is_read_first(private_registry, tmp_path, monkeypatch):
    addr, _ = private_registry
    _login(tmp_path, addr, "dockers")
    podman = tmp_path / "auth.json"
    auth = base64.b64encode(f"{USER}:podmans".encode()).decode()
    podman.write_text(json.dumps({"auths": {f"https://{addr}/v2/": {"auth": auth}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(podman))
    found = credentials_for(addr)
    assert found is not None and found.password == "podmans" and found.source == str(podman)
    assert repr(found) == f"Credentials('{USER}', from {podman})"  # never the password
    assert credentials_for("other.example.org") is None


def test_a_credential_helper_is_asked_as_docker_asks_it(tmp_path, monkeypatch):
    """``credHelpers`` names a helper: it is run with the host on its input; one that is
    named but missing or failing is one line, never an anonymous try."""
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-test"
    helper.write_text(
        '#!/bin/sh\nread host\n[ "$host" = "reg.example.org:5000" ] || exit 3\n'
        'echo \'{"ServerURL":"reg.example.org:5000","Username":"u","Secret":"from-helper"}\'\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    (tmp_path / "docker").mkdir()
    config = tmp_path / "docker" / "config.json"
    config.write_text(json.dumps({"credHelpers": {"reg.example.org:5000": "test"}}))
    found = credentials_for("reg.example.org:5000")
    assert found is not None and (found.username, found.password) == ("u", "from-helper")
    config.write_text(json.dumps({"credHelpers": {"reg.example.org:5000": "absent"}}))
    with pytest.raises(InputError, match="docker-credential-absent .*not installed"):
        credentials_for("reg.example.org:5000")
    config.write_text(json.dumps({"auths": {"other:1": {}}, "credsStore": "test"}))
    with pytest.raises(InputError, match="docker-credential-test get other:1: exit 3"):
        credentials_for("other:1")
    config.write_text("{not json")
    with pytest.raises(InputError, match="config.json: not a readable auth file"):
        credentials_for("reg.example.org:5000")


def test_credentials_never_go_to_a_token_service_over_plain_http():
    """A registry whose challenge names a plain-HTTP token service (not loopback, not
    listed as insecure) is refused before anything is sent: the login stays here."""
    from gp2bm.runtimes.credentials import Credentials
    from gp2bm.runtimes.registry import _token, parse_reference

    ref = parse_reference("registry.example.org/vendor/bert:v4")
    creds = Credentials(USER, PASSWORD, "config.json")
    challenge = 'Bearer realm="http://token.example.org/token",service="registry.example.org"'
    with pytest.raises(InputError, match="is plain HTTP: gp2bm sends the credentials") as err:
        _token(challenge, ref, creds)
    assert PASSWORD not in str(err.value)
