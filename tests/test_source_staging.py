"""The implementation source that a bundle carries: a secret in it (by its name, by a
credential pattern in its text, a value of the manifest) is refused in one line naming the
file, unless shipped by choice (``--allow-file``); so is what ``gp2bm verify`` would refuse
(a file over a member's size, a name with a control character or not UTF-8, case-only
twins). Built from a real smoke campaign whose workload lies in a folder of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from campaign_helpers import NO_DROP, TRAIN, write_suite
from test_report_campaign import ORG, SYSTEM, system_description

from gp2bm.errors import InputError
from gp2bm.files.redact import find_credential, secret_file
from gp2bm.handin.limits import check_tree
from gp2bm.node.systemdesc import detected_fields

# A value of the manifest's environment that the runs were given (the run-log scan knows it)
MANIFEST_SECRET = "s3kr1t-smoke-value-4711"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A real smoke campaign (15 local runs) whose workload lies in ``impl/``; returns the
    campaign, its suite and the implementation folder (tests put files there and remove
    them: the ``impl`` fixture)."""
    base = tmp_path_factory.mktemp("source-staging")
    impl = base / "impl"
    impl.mkdir()
    shutil.copy(TRAIN, impl / "train.py")
    suite = write_suite(
        base / "suite", script=impl / "train.py", env={"SMOKE_API_TOKEN": MANIFEST_SECRET}
    )
    root = base / "campaign"
    proc = subprocess.run(
        [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
         str(root), "--runtime", "local", "--system", SYSTEM, *NO_DROP],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    inventory = json.loads((root / "inventory.json").read_text())
    no_gpu = {"accelerators_per_node": "0", "accelerator_model_name": "N/A",
              "accelerator_memory_capacity": "N/A"}  # fmt: skip
    desc = {**system_description(), **no_gpu, **detected_fields(inventory)}
    (root / ORG / "systems").mkdir(parents=True, exist_ok=True)
    (root / ORG / "systems" / f"{SYSTEM}.json").write_text(json.dumps(desc, indent=2))
    return root, suite, impl


@pytest.fixture
def impl(smoke):
    """The campaign's implementation folder, put back as it was after the test."""
    folder = smoke[2]
    before = set(os.listdir(os.fsencode(folder)))
    yield folder
    for name in set(os.listdir(os.fsencode(folder))) - before:
        path = os.path.join(os.fsencode(folder), name)
        shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)


def package(cli, smoke, out: Path, *extra):
    root, suite, _ = smoke
    return cli("package", root, "--suite", suite, "-o", out, *extra)


def refused(res, out: Path, *words: str) -> str:
    """The one line of a refusal: exit 2, no bundle, every word in it."""
    assert res.code == 2, res.out[-2000:] + res.err[-2000:]
    lines = [line for line in res.err.splitlines() if "error" in line]
    assert len(lines) == 1 and "Traceback" not in res.err, res.err
    for word in words:
        assert word in lines[0], lines[0]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), out
    return lines[0]


def bundle_text(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


# ---------------------------------------------------------------------------- secrets


@pytest.mark.slow
@pytest.mark.reliability("source-secrets")
def test_a_dot_env_with_a_cloud_key_is_refused_then_shipped_by_choice(cli, smoke, impl, tmp_path):
    (impl / "conf").mkdir()
    (impl / "conf" / ".env").write_text(f"REGION=eu\nAWS_ACCESS_KEY_ID={AWS_KEY}\n")
    out = tmp_path / "handin.tar.gz"
    line = refused(package(cli, smoke, out), out, "conf/.env", "environment file", "--allow-file")
    assert AWS_KEY not in line
    res = package(cli, smoke, out, "--allow-file", "conf/.env")
    assert res.code == 0, res.err[-3000:]
    files = bundle_text(out)
    shipped = [n for n in files if n.endswith("/implementations/numpy/conf/.env")]
    assert len(shipped) == 2, sorted(files)  # resnet's and bert's source
    notes = json.loads(files["gp2bm-bundle.json"])["notes"]
    assert any("conf/.env" in n and "shipped by the vendor's choice" in n for n in notes), notes
    assert "conf/.env: an environment file (.env): shipped by the vendor's choice" in (
        files["README.md"].decode()
    )
    # an --allow-file naming nothing is a typo, refused
    missing = tmp_path / "other.tar.gz"
    res = package(cli, smoke, missing, "--allow-file", "conf/.env", "--allow-file", "nope/.env")
    refused(res, missing, "--allow-file nope/.env: no such file")


@pytest.mark.slow
@pytest.mark.reliability("source-secrets")
@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("cloud.py", f'import os\n\nKEY = "{AWS_KEY}"\n', "an AWS access key on line 3"),
        ("hub.py", "# token\n\nGH = 'ghp_" + "a1B2" * 9 + "'\n", "a GitHub token on line 3"),
        ("chat.sh", "#!/bin/sh\nexport SLACK=xoxb-1234567890-abcdefghij\n", "a Slack token"),
        ("db.py", 'def connect():\n    password = "hunter22!"\n', "a secret assigned a literal"),
        ("util/deploy.txt", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", "a private key on"),
        ("run.py", f"\n\nprint('{MANIFEST_SECRET}')\n", "line 3: the value of SMOKE_API_TOKEN"),
        ("keys/server.pem", "not even a key\n", "a private key file (*.pem)"),
        ("id_ed25519", "", "an SSH private key"),
    ],
)
def test_a_credential_in_the_source_is_refused(cli, smoke, impl, tmp_path, name, text, why):
    (impl / name).parent.mkdir(parents=True, exist_ok=True)
    (impl / name).write_text(text)
    out = tmp_path / "handin.tar.gz"
    line = refused(package(cli, smoke, out), out, f"source: {name}: ", why)
    assert MANIFEST_SECRET not in line and AWS_KEY not in line and "ghp_" not in line


@pytest.mark.reliability("source-secrets")
def test_ordinary_source_is_no_secret(tmp_path):
    assert secret_file("tokenization.py") is None and secret_file("id_rsa.pub") is None
    assert secret_file(".ssh/known_hosts") is None and secret_file("keys.py") is None
    code = tmp_path / "tokenization.py"
    code.write_text(
        'def f(unk_token="[UNK]", pad_token="<pad>", token=None):\n'
        "    token = tokenizer_name\n    secret_key = os.environ['SECRET']\n"
        '    if token == "abcdefgh":\n        max_tokens = 512\n'
    )
    assert find_credential(code) is None


# ---------------------------------------------------------------------------- limits


@pytest.mark.slow
@pytest.mark.reliability("source-limits")
def test_a_300_mib_source_file_is_refused_at_package(cli, smoke, impl, tmp_path):
    big = impl / "weights.bin"
    with open(big, "wb") as fh:
        fh.truncate(300 << 20)  # sparse: no disk used
    out = tmp_path / "handin.tar.gz"
    refused(package(cli, smoke, out), out, "source: weights.bin: ", "256 MiB a member may hold")


@pytest.mark.slow
@pytest.mark.reliability("source-limits")
@pytest.mark.parametrize(
    ("names", "shown", "why"),
    [
        ([b"a\nb.py"], "a\\nb.py", "a control character (U+000A) in its name"),
        ([b"caf\xe9.py"], "caf\\udce9.py", "its name is not valid UTF-8"),  # no crash
        ([b"Util.py", b"util.py"], "util.py", "differs from Util.py by case only"),
    ],
    ids=["newline", "not-utf8", "case-twins"],
)
def test_a_name_verify_refuses_is_refused_at_package(cli, smoke, impl, tmp_path, names, shown, why):
    for name in names:  # a bytes path: any name the file system takes
        os.close(os.open(os.fsencode(impl) + b"/" + name, os.O_CREAT | os.O_WRONLY, 0o644))
    out = tmp_path / "handin.tar.gz"
    refused(package(cli, smoke, out), out, f"source: {shown}: {why}")


@pytest.mark.reliability("source-limits")
def test_the_staged_tree_is_checked_whole_before_the_tar(tmp_path):
    """What no source check sees (a name elsewhere in the bundle) is refused before the
    tar, naming it."""
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "run\x1b[2J.json").write_text("{}")
    with pytest.raises(InputError, match=r"records/run\\x1b\[2J.json: a control character"):
        check_tree(tmp_path, Path("handin.tar.gz"))
    (tmp_path / "records" / "run\x1b[2J.json").unlink()
    (tmp_path / "README.md").write_text("a")
    (tmp_path / "readme.md").write_text("b")
    with pytest.raises(InputError, match="by case only"):
        check_tree(tmp_path, Path("handin.tar.gz"))


@pytest.mark.slow
@pytest.mark.reliability("source-limits")
def test_what_package_writes_verifies(cli, smoke, impl, tmp_path):
    """A source with folders, an executable, a file near a member's size (sparse) and a
    secret shipped by choice: package writes it, verify passes it."""
    (impl / "configs" / "deep").mkdir(parents=True)
    (impl / "configs" / "deep" / "run.sh").write_text("#!/bin/sh\necho ok\n")
    (impl / "configs" / "deep" / "run.sh").chmod(0o755)
    (impl / "café.py").write_text("x = 'é'\n")  # UTF-8 names are fine
    with open(impl / "data.bin", "wb") as fh:
        fh.truncate(2 << 20)
    (impl / ".env").write_text(f"AWS_ACCESS_KEY_ID={AWS_KEY}\n")
    out = tmp_path / "handin.tar.gz"
    res = package(cli, smoke, out, "--allow-file", ".env")
    assert res.code == 0, res.err[-3000:]
    res = cli("verify", out, "--suite", smoke[1])
    assert res.code == 0, res.out[-3000:] + res.err[-2000:]
