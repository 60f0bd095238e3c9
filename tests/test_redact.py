import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gp2bm.files.redact import (
    REDACTED,
    SCAN_CHUNK,
    SecretFound,
    find_secrets,
    is_secret,
    redact_argv,
    redact_document,
    redact_env,
    secret_values,
)


def test_names():
    for name in ["HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "api_key", "REGISTRY_AUTH",
                 "DOCKER_CONFIG", "WANDB_API_KEY"]:
        assert is_secret(name), name
    for name in ["SEED", "DGXSYSTEM", "NEXP", "PATH", "MLPERF_SUBMISSION_ORG"]:
        assert not is_secret(name), name


def test_env():
    assert redact_env({"SEED": "1", "HF_TOKEN": "abc"}) == {"SEED": "1", "HF_TOKEN": REDACTED}


def test_docker_argv():
    argv = ["docker", "run", "--env", "HF_TOKEN=abc", "--env", "SEED=3", "-e", "MY_PASSWORD=x",
            "--env=API_KEY=y", "img", "--token-file", "TOKEN=z"]
    assert redact_argv(argv) == [
        "docker", "run", "--env", f"HF_TOKEN={REDACTED}", "--env", "SEED=3", "-e",
        f"MY_PASSWORD={REDACTED}", f"--env=API_KEY={REDACTED}", "img", "--token-file", "TOKEN=z",
    ]


def test_env_prefix_argv():
    argv = ["env", "-C", "/w", "SECRET_X=1", "SEED=2", "python3", "train.py", "KEY=literal"]
    assert redact_argv(argv) == ["env", "-C", "/w", f"SECRET_X={REDACTED}", "SEED=2", "python3",
                                 "train.py", "KEY=literal"]


@pytest.mark.reliability("security-secrets")
@given(st.dictionaries(st.from_regex(r"[A-Z_]{1,12}", fullmatch=True), st.text(min_size=1)))
def test_no_secret_value_survives(env):
    argv = ["docker", "run"]
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    out = redact_argv(argv)
    for k, v in env.items():
        if is_secret(k):
            assert f"{k}={v}" not in out or v == REDACTED
    assert len(out) == len(argv)


# ----------------------------------------------------------------- issue 13, point 6
SECRET = "s3cr3t-Value-42"


@pytest.mark.reliability("secrets-names-options-urls")
def test_more_secret_names():
    for name in ["MY_PASS", "DB_PASSWD", "db_pass", "DB_PWD", "PASS", "LDAP_PASS_2"]:
        assert is_secret(name), name
    # PASS and PWD only as a word; the shell's working folders are not secrets
    for name in ["BYPASS_CACHE", "PASSTHROUGH", "COMPASS", "PWD", "OLDPWD", "SEED"]:
        assert not is_secret(name), name


@pytest.mark.reliability("secrets-names-options-urls")
def test_url_passwords_and_secret_options_are_redacted():
    url = f"postgres://admin:{SECRET}@db.example:5432/mlperf"
    env = redact_env({"MY_PASS": SECRET, "DB_URL": url, "PLAIN": "https://host/x:y@z"})
    assert env == {
        "MY_PASS": REDACTED,
        "DB_URL": f"postgres://admin:{REDACTED}@db.example:5432/mlperf",
        "PLAIN": "https://host/x:y@z",  # no userinfo: a path is not a password
    }
    argv = ["python", "train.py", f"--api-key={SECRET}", "--password", SECRET, f"--token={SECRET}",
            "--auth-token", SECRET, "--token-file", "/run/secrets/t", "--verbose",
            f"--data={url}", "--env", f"DB_URL={url}", "--seed", "3"]
    out = redact_argv(argv)
    assert len(out) == len(argv)
    assert not any(SECRET in arg for arg in out), out
    assert out[2] == f"--api-key={REDACTED}" and out[4] == REDACTED
    assert out[8:11] == ["--token-file", "/run/secrets/t", "--verbose"]  # a file is no secret
    assert out[-2:] == ["--seed", "3"]


@pytest.mark.reliability("secrets-names-options-urls")
def test_every_runtime_renders_no_secret(tmp_path):
    """The dry-run lines and the run records' command come from render + redact_argv."""
    from campaign_helpers import write_suite

    from gp2bm.run.launch import plan_launch
    from gp2bm.runtimes import NAMES, get_runtime
    from gp2bm.runtimes.base import run_spec
    from gp2bm.spec.manifest import load_manifest

    env = {"MY_PASS": SECRET, "DB_PASSWD": SECRET, "DB_URL": f"mysql://u:{SECRET}@h/db"}
    extra = [f"--api-key={SECRET}", "--password", SECRET, f"--token={SECRET}"]
    write_suite(tmp_path, {"resnet": 3}, env=env, local_env=env, extra_args=extra)
    manifest = load_manifest(tmp_path / "resnet.yaml")
    spec = run_spec(manifest, plan_launch(manifest, 1, None), "run", {})
    for name in NAMES:
        runtime = get_runtime(name)
        if name == "local":
            runtime.prepare(manifest)
        shown = redact_argv(runtime.render(spec))
        assert not any(SECRET in arg for arg in shown), (name, shown)


@pytest.mark.reliability("secrets-names-options-urls")
def test_redact_document_covers_a_manifest():
    doc = {
        "benchmark": "bert",
        "command": ["./run.sh", f"--api-key={SECRET}"],
        "environment": {"HF_TOKEN": SECRET, "DB_URL": f"https://u:{SECRET}@h", "N": 1},
        "local": {"command": ["{python}", "x.py", "--password", SECRET],
                  "environment": {"MY_PASS": SECRET}},
        "seed": {"env": "SEED"},
    }
    out, where = redact_document(doc)
    assert SECRET not in repr(out)
    assert sorted(where) == ["command[1]", "environment.DB_URL", "environment.HF_TOKEN",
                             "local.command[3]", "local.environment.MY_PASS"]
    assert out["seed"] == {"env": "SEED"} and out["environment"]["N"] == 1
    assert doc["environment"]["HF_TOKEN"] == SECRET  # the input is left as it was


@pytest.mark.reliability("secret-in-log")
def test_find_secrets_names_the_variable_never_the_value(tmp_path):
    env = {"HF_TOKEN": SECRET, "DB_URL": "postgres://u:an0ther-pw@h/db", "SEED": "1234",
           "FLAG": "true"}
    values = secret_values(env)
    assert values == {"HF_TOKEN": SECRET, "DB_URL (URL password)": "an0ther-pw"}
    log = tmp_path / "result_0.txt"
    # a log far larger than one read, the secret across a chunk boundary and repeated
    with open(log, "wb") as fh:
        fh.write(b"x" * (SCAN_CHUNK - 5) + SECRET.encode() + b"\n")
        fh.write(b"line\n" * 1000 + b"pw=an0ther-pw " + SECRET.encode() + b"\n")
    found = find_secrets(log, values)
    assert [(f.name, f.line, f.count) for f in found] == [
        ("HF_TOKEN", 1, 2), ("DB_URL (URL password)", 1002, 1)]
    assert all(SECRET not in str(f) for f in found)
    assert find_secrets("nothing here; SEED 1234 true", values) == []
    assert find_secrets(f"a\nb {SECRET}", [SECRET]) == [SecretFound("#0", 2, 1)]


@pytest.mark.reliability("secret-in-log")
def test_find_secrets_never_opens_a_fifo(tmp_path):
    import os

    from gp2bm.errors import InputError

    fifo = tmp_path / "result_1.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        find_secrets(fifo, [SECRET])


@pytest.mark.reliability("secrets-names-options-urls")
def test_campaign_records_and_dry_run_hold_no_secret(cli, tmp_path):
    from campaign_helpers import run_all_local, write_suite

    env = {"MY_PASS": SECRET, "DB_URL": f"postgres://u:{SECRET}@h/db"}
    suite = write_suite(tmp_path / "suite", {"resnet": 1}, env=env, local_env=env,
                        extra_args=[f"--api-key={SECRET}"])
    campaign = tmp_path / "c"
    dry = run_all_local(cli, suite, campaign, "--dry-run")
    assert dry.code == 0 and "--api-key=" in dry.out, dry.err
    assert SECRET not in dry.out + dry.err
    run_all_local(cli, suite, campaign, "--json")  # the smoke workload refuses --api-key
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert f"--api-key={REDACTED}" in record["command"]
    assert SECRET not in json.dumps(record["command"])
    assert SECRET not in json.dumps(record.get("launch", {}).get("environment", {}))


@pytest.mark.reliability("secret-in-log")
def test_a_secret_printed_by_a_run_is_named_in_its_record(cli, tmp_path):
    import yaml
    from campaign_helpers import run_all_local, write_suite

    suite = write_suite(tmp_path / "suite", {"resnet": 1}, local_env={"MY_PASS": SECRET})
    manifest = tmp_path / "suite/resnet.yaml"
    doc = yaml.safe_load(manifest.read_text())
    # the workload prints the secret it was given, then trains as usual
    doc["local"]["command"] = ["sh", "-c", 'echo "connecting with $MY_PASS"; exec "$@"', "sh",
                               *doc["local"]["command"]]
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign)
    record = json.loads((campaign / "records/resnet/run_0.json").read_text())
    assert record["status"] == "success", record.get("reason")
    assert record["secrets_in_log"] == ["line 3: the value of MY_PASS"], record["secrets_in_log"]
    assert "shows a secret" in res.err and "MY_PASS" in res.err and SECRET not in res.err
    log = campaign.rglob("result_0.txt")
    assert SECRET in next(log).read_text()  # the log is evidence: kept as written
