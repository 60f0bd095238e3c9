import pytest
from hypothesis import given
from hypothesis import strategies as st

from gp2bm.files.redact import REDACTED, is_secret, redact_argv, redact_env


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
