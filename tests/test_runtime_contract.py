"""The contract every registered runtime keeps, one test per part of ``base.Runtime``,
parametrised over ``gp2bm.runtimes.NAMES`` (as ReFrame's unittests/test_containers.py does
for its container platforms): render, prepare, start, stop, lost engine, pre-flight checks,
image digest, source export.

A runtime's own test parameters are its entry in HARNESS: how its command line shows the
data mount, the working directory and the seed, which settings name a missing engine, and
how to have a working one here. Docker, Podman and Apptainer run for real on the private
services of tests/services.py (those cases are marked ``docker``); Enroot cannot be
installed here, so a stand-in ``srun`` (GP2BM_SRUN) plays Slurm with Pyxis and runs the
smoke image's entrypoint on the host; the local runtime always runs.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from campaign_helpers import TRAIN, write_suite

# Fixtures of the per-runtime modules, reused: Podman's API service, Apptainer's binary.
from test_runtime_apptainer import apptainer_binary  # noqa: F401
from test_runtime_podman import podman_service  # noqa: F401

from gp2bm.campaign.folder import Campaign
from gp2bm.errors import InputError
from gp2bm.files.findings import CheckItem, CheckStatus
from gp2bm.files.redact import REDACTED, redact_argv
from gp2bm.run.images import registry_runtime
from gp2bm.run.launch import plan_launch
from gp2bm.run.loop import run_campaign
from gp2bm.run.options import RunOptions
from gp2bm.run.plan import SEED_PLACEHOLDER, container_name, plan_campaign
from gp2bm.runtimes import NAMES, CheckContext, Runtime, get_runtime, runtime_class
from gp2bm.runtimes.base import LABEL_CAMPAIGN, run_spec
from gp2bm.spec.container import ContainerOptions
from gp2bm.spec.manifest import load_manifest
from gp2bm.spec.suite import load_suite

DIGEST = "sha256:" + "e" * 64
OFFLINE_IMAGE = f"127.0.0.1:5000/gp2bm/smoke@{DIGEST}"  # never pulled: no services needed
SECRET = "hf_contractSECRETvalue"
SEED = 7
WORKDIR = "/workspace/smoke"  # the smoke image's own, where its source lives
MLLOG = ":::MLLOG "


# ---------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Harness:
    """One runtime's test parameters."""

    # the data mount and working directory as rendered ({data}: the data folder,
    # {src}: the folder of train.py); mount None: runs on the host, where the data is
    mount: list[str] | None
    workdir: list[str]
    seed: str  # the argument that carries the seed
    missing: dict  # settings naming an engine or binary that is not there
    engine: bool  # runs through an engine's API: a lost engine is the Execution's `lost`
    services: bool  # a real start needs the test services of tests/services.py
    make: Callable[[pytest.FixtureRequest], Runtime]  # a runtime that can start here


def _docker(request) -> Runtime:
    return get_runtime("docker", docker_host=request.getfixturevalue("docker_services").docker_host)


def _podman(request) -> Runtime:
    return get_runtime("podman", podman_host=request.getfixturevalue("podman_service").host)


def _apptainer(request) -> Runtime:
    return get_runtime(
        "apptainer",
        apptainer=request.getfixturevalue("apptainer_binary"),
        image_dir=request.getfixturevalue("sif_dir"),
    )


def _enroot(request) -> Runtime:
    # srun from the environment, as on a cluster: the stand-in
    srun = request.getfixturevalue("srun")
    request.getfixturevalue("monkeypatch").setenv("GP2BM_SRUN", str(srun))
    return get_runtime("enroot")


HARNESS: dict[str, Harness] = {
    "docker": Harness(
        mount=["--mount", "type=bind,source={data},target=/data,ro"],
        workdir=["--workdir", WORKDIR],
        seed=f"SEED={SEED}",
        missing={"docker_host": "unix:///nonexistent/docker.sock"},
        engine=True,
        services=True,
        make=_docker,
    ),
    "podman": Harness(
        mount=["--mount", "type=bind,source={data},target=/data,ro"],
        workdir=["--workdir", WORKDIR],
        seed=f"SEED={SEED}",
        missing={"podman_host": "unix:///nonexistent/podman.sock"},
        engine=True,
        services=True,
        make=_podman,
    ),
    "apptainer": Harness(
        mount=["--bind", "{data}:/data:ro"],
        workdir=["--pwd", WORKDIR],
        seed=f"APPTAINERENV_SEED={SEED}",
        missing={"apptainer": "/nonexistent/apptainer"},
        engine=False,
        services=True,
        make=_apptainer,
    ),
    "enroot": Harness(
        mount=["--container-mounts={data}:/data:ro"],
        workdir=[f"--container-workdir={WORKDIR}"],
        seed=f"SEED={SEED}",
        missing={"srun": "/nonexistent/srun"},
        engine=False,
        services=False,
        make=_enroot,
    ),
    "local": Harness(
        mount=None,
        workdir=["-C", "{src}"],
        seed=f"SEED={SEED}",
        missing={},
        engine=False,
        services=False,
        make=lambda request: get_runtime("local"),
    ),
}


def needs_services(name: str) -> bool:
    return HARNESS[name].services


def runtimes(services: Callable[[str], bool] = needs_services) -> list:
    """Every registered runtime; those that need the test services here are marked docker."""
    return [
        pytest.param(n, marks=pytest.mark.docker, id=n) if services(n) else n for n in NAMES
    ]


def test_every_registered_runtime_has_test_parameters():
    assert set(HARNESS) == set(NAMES)


# ---------------------------------------------------------------------------- helpers


@dataclass
class Case:
    name: str
    harness: Harness
    manifest: object
    data: Path
    tmp: Path

    def spec(self, *extra: str):
        """The run's spec, as the runner makes it, with the container command's extra args."""
        env = {"MLPERF_SUBMISSION_ORG": "contract"}
        labels = {LABEL_CAMPAIGN: f"contract-{self.name}"}
        launch = plan_launch(self.manifest, SEED, None, None, env)
        spec = run_spec(self.manifest, launch, f"gp2bm-contract-{uuid.uuid4().hex[:8]}", labels)
        return replace(spec, command=[*spec.command, *extra])

    def rendered(self, part: list[str]) -> list[str]:
        return [p.format(data=self.data, src=TRAIN.parent) for p in part]


def make_case(name: str, folder: Path, image: str) -> Case:
    """A one-benchmark smoke suite whose manifest has a secret, a data mount and workdirs."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    suite = write_suite(folder / "s", {"resnet": 1}, image=image, env={"HF_TOKEN": SECRET})
    path = suite.parent / "resnet.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["mounts"] = [{"host": str(data), "container": "/data", "what": "data"}]
    doc["workdir"] = WORKDIR
    doc["local"]["workdir"] = str(TRAIN.parent)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return Case(name, HARNESS[name], load_manifest(path), data, folder)


def contains(argv: list[str], part: list[str]) -> bool:
    return any(argv[i : i + len(part)] == part for i in range(len(argv)))


def mllog(text: str) -> list[dict]:
    return [json.loads(line.split(MLLOG, 1)[1]) for line in text.splitlines() if MLLOG in line]


def by_name(items: list[CheckItem]) -> dict[str, CheckItem]:
    return {i.name: i for i in items}


def context(case: Case, **kw) -> CheckContext:
    return CheckContext(manifests={"resnet": case.manifest}, **kw)


# ---------------------------------------------------------------------------- fixtures


STANDIN_SRUN = '''#!{python}
"""Stands in for Slurm's srun with Pyxis: checks the container options it is given, then
runs the smoke image's entrypoint (train.py) on the host with the image's arguments."""
import os, sys
args = sys.argv[1:]
if args == ["--help"]:
    print("Usage: srun [OPTIONS(0)... [executable(0) [args(0)...]]]")
    {pyxis}
    sys.exit(0)
options = []
while args and args[0].startswith("--") and "--no-container-mount-home" not in options:
    options.append(args.pop(0))
image = [o for o in options if o.startswith("--container-image=")]
assert len(image) == 1 and "#" in image[0] and "@sha256:" in image[0], options
for o in options:
    if o.startswith("--container-env="):
        missing = [n for n in o.split("=", 1)[1].split(",") if n not in os.environ]
        assert not missing, missing
os.execv({python!r}, [{python!r}, {train!r}, *args])
'''
PYXIS_HELP = 'print("      --container-image=[USER@][REGISTRY#]IMAGE[:TAG]|PATH")'


def write_srun(path: Path, pyxis: bool = True) -> Path:
    pyxis_line = PYXIS_HELP if pyxis else "pass"
    path.write_text(STANDIN_SRUN.format(python=sys.executable, train=str(TRAIN), pyxis=pyxis_line))
    path.chmod(0o755)
    return path


@pytest.fixture
def srun(tmp_path) -> Path:
    return write_srun(tmp_path / "srun")


@dataclass(frozen=True)
class RegistryImage:
    tag: str  # REGISTRY/gp2bm/smoke:contract
    pinned: str  # REGISTRY/gp2bm/smoke@sha256:...


@pytest.fixture(scope="module")
def registry_image(docker_services) -> RegistryImage:
    """The smoke image pushed to the test registry once for this module."""
    from services import ServicesUnavailable, ensure_smoke_image

    try:
        smoke = ensure_smoke_image(docker_services)
    except ServicesUnavailable as exc:
        pytest.skip(str(exc))
    repo = f"{docker_services.registry}/gp2bm/smoke"
    with closing(docker_services.client()) as client:
        client.images.get(smoke).tag(repo, tag="contract")
        for event in client.images.push(repo, tag="contract", stream=True, decode=True):
            assert "error" not in event, event
        digests = client.images.get(f"{repo}:contract").attrs["RepoDigests"]
    return RegistryImage(f"{repo}:contract", next(d for d in digests if d.startswith(repo + "@")))


@pytest.fixture(scope="module")
def sif_dir(tmp_path_factory):
    """Where the apptainer runtime keeps the SIF of the module's cases (built once)."""
    root = tmp_path_factory.mktemp("apptainer")
    (root / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPTAINER_CACHEDIR", str(root / "cache"))
        mp.setenv("APPTAINER_TMPDIR", str(root / "tmp"))
        yield root / "images"


def open_live(request, name: str, folder: Path) -> tuple[Runtime, Case]:
    """A runtime that can start here, and its case (the services started when needed)."""
    harness = HARNESS[name]
    image = OFFLINE_IMAGE
    if harness.services:
        image = request.getfixturevalue("registry_image").pinned
    return harness.make(request), make_case(name, folder, image)


@pytest.fixture
def live(request, tmp_path):
    """(runtime that can start here, its case); the runtime's connection closed after."""
    rt, case = open_live(request, request.param, tmp_path)
    yield rt, case
    rt.close()


def start(rt: Runtime, case: Case, log: Path, *extra: str):
    info = rt.prepare(case.manifest)
    sink = open(log, "wb")  # noqa: SIM115 - closed by the caller's finish()
    return info, rt.start(case.spec(*extra), sink), sink


# ---------------------------------------------------------------------------- render


@pytest.mark.parametrize("name", NAMES)
def test_settings_are_keyword_only_with_defaults(name):
    rt = get_runtime(name)
    assert isinstance(rt, Runtime) and rt.name == name
    with pytest.raises(InputError, match=f"runtime '{name}'"):
        get_runtime(name, no_such_setting=1)
    settings = list(inspect.signature(runtime_class(name).__init__).parameters.values())[1:]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is None for p in settings), settings


@pytest.mark.parametrize("name", NAMES)
def test_render_is_an_argument_list_with_seed_env_mounts_and_workdir(name, tmp_path):
    case = make_case(name, tmp_path, OFFLINE_IMAGE)
    rt = get_runtime(name, **case.harness.missing)  # rendering needs no engine
    if not rt.uses_images:
        rt.prepare(case.manifest)  # what it runs comes from the manifest
    argv = rt.render(case.spec())
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    assert Path(argv[0]).name not in ("sh", "bash") and "-c" not in argv  # no shell string
    assert case.harness.seed in argv
    assert any(a.endswith("MLPERF_SUBMISSION_ORG=contract") for a in argv)
    if case.harness.mount is not None:
        assert contains(argv, case.rendered(case.harness.mount)), argv
    assert contains(argv, case.rendered(case.harness.workdir)), argv
    assert argv[-2:] == ["--benchmark", "resnet"]
    # the runtime renders the real value; the caller redacts what it writes down
    assert any(SECRET in a for a in argv)
    shown = redact_argv(argv)
    assert not any(SECRET in a for a in shown) and any(REDACTED in a for a in shown)


# ---------------------------------------------------------------------------- prepare, start, stop


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_prepare_records_the_image_that_runs(live):
    rt, case = live
    info = rt.prepare(case.manifest)
    if rt.uses_images:
        assert info.reference == case.manifest.image
        assert case.manifest.image in info.repo_digests
        assert info.id and info.id.startswith("sha256:")
    else:
        assert info.reference.startswith("local:") and info.id is None


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_start_runs_to_completion(live, tmp_path):
    rt, case = live
    _, execution, sink = start(rt, case, tmp_path / "run.log")
    try:
        code = execution.wait(300)
    finally:
        execution.close()
        sink.close()
    text = (tmp_path / "run.log").read_text()
    assert code == 0, text[-2000:]
    records = mllog(text)
    assert [r["value"] for r in records if r["key"] == "seed"] == [SEED]
    assert [r["metadata"]["status"] for r in records if r["key"] == "run_stop"] == ["success"]
    assert execution.lost is None and execution.output_error is None


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_the_dry_run_prints_the_command_the_run_executes(live, tmp_path):
    """The dry run and the run are planned by one function: the command line a dry run
    prints is the one the run record says was started, but for the seed the run drew and
    the container name's random suffix."""
    rt, case = live
    suite = load_suite(case.tmp / "s" / "suite.yaml")
    manifests = {"resnet": case.manifest}
    campaign = Campaign.open(tmp_path / "c", suite, org="Contract", system="X1", runtime=rt.name)
    options = RunOptions(cache_drop_command=["true"])
    dry = plan_campaign(campaign, manifests, rt, ["resnet"])
    assert [row.run for row in dry.rows] == [0]
    assert not (tmp_path / "c").exists()  # a dry run writes nothing
    (outcome,) = run_campaign(campaign, manifests, rt, options, ["resnet"])
    record = outcome.record
    assert record.succeeded, record.reason
    shown = [
        word.replace(SEED_PLACEHOLDER, str(record.seed)).replace(
            container_name(campaign, "resnet", 0), record.container
        )
        for word in dry.rows[0].command
    ]
    assert shown == record.command
    assert any(REDACTED in word for word in shown)  # the secret, redacted in both
    assert SECRET not in " ".join(shown)


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_stop_ends_a_running_run(live, tmp_path):
    rt, case = live
    _, execution, sink = start(rt, case, tmp_path / "run.log", "--sleep-per-epoch", "5")
    try:
        assert execution.wait(2) is None  # still running
        execution.stop(grace_seconds=3)
        assert execution.wait(30) is not None
    finally:
        execution.close()
        sink.close()
    assert execution.lost is None


# ---------------------------------------------------------------------------- lost engine


class _LostContainer:
    """A container whose engine stops answering while it runs (dockerd killed)."""

    name = "gp2bm-contract-lost"

    def wait(self):
        raise ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))")

    def logs(self, **_):
        return iter([b"epoch 1\n"])

    def stop(self, timeout):
        raise ConnectionError("Connection aborted.")

    def remove(self, force):
        raise ConnectionError("Connection aborted.")


class _LostClient:
    class containers:  # noqa: N801 - the SDK's attribute name
        @staticmethod
        def run(**_):
            return _LostContainer()

    def close(self):
        pass


@pytest.mark.parametrize(
    "name", runtimes(lambda n: HARNESS[n].services and not HARNESS[n].engine)
)
def test_lost_engine(name, request, tmp_path, monkeypatch):
    """An engine that goes away is the Execution's `lost` (not the workload's failure); a
    run that is a child process has no engine to lose: killed, it is the workload's exit."""
    log = tmp_path / "run.log"
    if HARNESS[name].engine:
        case = make_case(name, tmp_path, OFFLINE_IMAGE)
        rt = get_runtime(name, **case.harness.missing)
        monkeypatch.setattr(rt, "_client", _LostClient())
        with open(log, "wb") as sink:
            execution = rt.start(case.spec(), sink)
            assert execution.wait(10) == -1
            execution.close()
        assert "Connection aborted" in execution.lost
        assert log.read_bytes() == b"epoch 1\n"
        return
    rt, case = open_live(request, name, tmp_path)
    _, execution, sink = start(rt, case, log, "--sleep-per-epoch", "5")
    try:
        assert execution.ident.startswith("pid ")
        os.killpg(int(execution.ident.split()[1]), signal.SIGKILL)  # as the OOM killer would
        assert execution.wait(30) == -signal.SIGKILL
    finally:
        execution.close()
        sink.close()
        rt.close()
    assert execution.lost is None


# ---------------------------------------------------------------------------- pre-flight


@pytest.mark.parametrize("name", NAMES)
def test_checks_name_a_missing_engine_as_blocking_with_its_fix(name, tmp_path):
    case = make_case(name, tmp_path, OFFLINE_IMAGE)
    items = get_runtime(name, **case.harness.missing).checks(context(case))
    assert items and all(isinstance(i, CheckItem) for i in items)
    engine = by_name(items)["container engine"]
    if not case.harness.missing:  # nothing to miss: it needs no engine
        assert engine.status == CheckStatus.PASS and "not needed" in engine.detail
        return
    assert engine.status == CheckStatus.FAIL and engine.blocking and engine.fix
    assert next(iter(case.harness.missing.values())) in engine.detail


@pytest.mark.parametrize("name", NAMES)
def test_checks_refuse_an_unpinned_image(name, tmp_path):
    case = make_case(name, tmp_path, "gp2bm/smoke:latest")
    rt = get_runtime(name, **case.harness.missing)
    items = by_name(rt.checks(context(case)))
    if not rt.uses_images:
        assert "resnet image" not in items and items["resnet command"].status == CheckStatus.PASS
        return
    image = items["resnet image"]
    assert image.blocking and image.fix == "gp2bm pin resnet gp2bm/smoke:latest"


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_checks_pass_where_the_runtime_works(live):
    rt, case = live
    rt.prepare(case.manifest)
    items = by_name(rt.checks(context(case)))
    assert items["container engine"].status == CheckStatus.PASS, items["container engine"]
    part = "resnet image" if rt.uses_images else "resnet command"
    assert items[part].status == CheckStatus.PASS, items[part]


def test_enroot_checks_that_srun_has_pyxis(tmp_path):
    case = make_case("enroot", tmp_path, OFFLINE_IMAGE)
    bare = get_runtime("enroot", srun=str(write_srun(tmp_path / "srun", pyxis=False)))
    engine = by_name(bare.checks(context(case)))["container engine"]
    assert engine.blocking and "Pyxis" in engine.detail and "plugstack.conf" in engine.fix
    # a tag is refused even where the campaign allows unpinned images: Pyxis gets the digest
    tagged = make_case("enroot", tmp_path / "t", "gp2bm/smoke:latest")
    items = by_name(bare.checks(context(tagged, allow_unpinned=True)))
    assert items["resnet image"].blocking


@pytest.mark.parametrize("name", NAMES)
def test_gpu_check_failures_say_how_to_fix(name, tmp_path):
    case = make_case(name, tmp_path, OFFLINE_IMAGE)
    items = by_name(get_runtime(name, **case.harness.missing).checks(context(case, gpus=1)))
    gpu = items.get("GPU runtime")
    if gpu is None:  # no engine to ask (its failure blocks), or no GPU runtime at all
        assert items["container engine"].blocking or not get_runtime(name).uses_images
    else:
        assert gpu.status == CheckStatus.PASS or gpu.fix
    assert "GPU runtime" not in by_name(
        get_runtime(name, **case.harness.missing).checks(context(case, gpus=0))
    )


# ---------------------------------------------------------------------------- image digest


def can(capability: str) -> Callable[[str], bool]:
    return lambda name: getattr(runtime_class(name), capability)


def refused(call, name: str) -> None:
    with pytest.raises(InputError, match=f"the {name} runtime cannot") as exc:
        call()
    assert "\n" not in str(exc.value)


def live_when(capability: str) -> list:
    """Every runtime; real (on the services) where it has the capability, else refused."""
    return runtimes(lambda n: needs_services(n) and can(capability)(n))


@pytest.mark.parametrize("name", NAMES)
def test_local_image_for_pin(name, tmp_path):
    """Where the runtime's local store cannot be read, or does not hold the image, `gp2bm pin`
    goes to the registry (None); asked for it (--local), the runtime says why not in one
    line (a tag is resolved by the registry's API for every runtime: no runtime is asked)."""
    rt = get_runtime(name, **HARNESS[name].missing)
    missing = str(tmp_path / "no-such-image.sif") if name in ("apptainer", "enroot") else "x/y:1"
    assert rt.local_image(missing, asked=False) is None
    with pytest.raises(InputError) as exc:
        rt.local_image(missing, asked=True)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", live_when("pulls_by_digest"))
def test_pull_by_digest(name, request, tmp_path):
    if not can("pulls_by_digest")(name):
        case = make_case(name, tmp_path, OFFLINE_IMAGE)
        rt = get_runtime(name, **case.harness.missing)
        refused(lambda: rt.pull(case.manifest), name)
        with pytest.raises(InputError, match="runtimes that do: docker, podman$"):
            registry_runtime(name, "pulls_by_digest", "pull images by digest")
        return
    rt, case = open_live(request, name, tmp_path)
    try:
        info = rt.pull(case.manifest)
    finally:
        rt.close()
    assert case.manifest.image in info.repo_digests and info.id.startswith("sha256:")


# ---------------------------------------------------------------------------- source export


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_export_source_of_what_ran(live, tmp_path):
    rt, case = live
    notes: list[str] = []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if rt.name == "enroot":
        with pytest.raises(InputError, match="cannot copy the source") as exc:
            rt.export_source(case.manifest, case.manifest.image, scratch, notes, "resnet source")
        assert "\n" not in str(exc.value)
        return
    info = rt.prepare(case.manifest)
    image = info.id or case.manifest.image  # what the run records name (none: local)
    export = rt.export_source(case.manifest, image, scratch, notes, "resnet source")
    assert (export.folder / "train.py").read_bytes() == TRAIN.read_bytes()
    assert export.origin


# ---------------------------------------------------------------------------- in the image


@pytest.mark.parametrize("live", runtimes(), indirect=True)
def test_run_in_image_reads_a_file_of_the_image_or_refuses_in_one_line(live):
    """What reads a config file or a checksum list inside the image before any run: the
    image's own file, its exit code, stdout and stderr apart; no network, nothing left."""
    rt, case = live
    rt.prepare(case.manifest)
    image = case.manifest.image
    if not rt.uses_images or rt.name == "enroot":
        with pytest.raises(InputError, match="config.in: host") as exc:
            rt.run_in_image(image, ["cat", f"{WORKDIR}/train.py"], None)
        assert "\n" not in str(exc.value)
        return
    code, out, err = rt.run_in_image(image, ["cat", "train.py"], WORKDIR)
    assert code == 0, err
    assert out == TRAIN.read_bytes()
    code, out, err = rt.run_in_image(image, ["sh", "-c", 'echo "$1" >&2; exit 3', "sh", "x"],
                                     None)
    assert (code, out, err.strip()) == (3, b"", b"x")


@pytest.mark.parametrize("name", NAMES)
def test_container_options_are_honoured_or_refused_in_one_line(name):
    rt = get_runtime(name, **HARNESS[name].missing)
    nvidia = ContainerOptions(security_opt=("seccomp=unconfined",), init=True, uts="host")
    if name == "local":
        with pytest.raises(InputError, match="local runtime has no container") as exc:
            rt.check_options(nvidia, "m.yaml")
        assert "\n" not in str(exc.value)
    else:
        rt.check_options(nvidia, "m.yaml")  # NVIDIA's run_with_docker.sh options
    if name in ("apptainer", "enroot", "local"):
        with pytest.raises(InputError, match="m.yaml: the .* cannot honour|no container"):
            rt.check_options(ContainerOptions(security_opt=("apparmor=unconfined",)), "m.yaml")
    else:
        rt.check_options(ContainerOptions(security_opt=("apparmor=unconfined",)), "m.yaml")
