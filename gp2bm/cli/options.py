"""Every option and argument of gp2bm's commands, declared once (``tests/test_architecture.py``
checks that no other module of ``gp2bm/cli/`` declares one).

A command names the type and gives the default: ``suite: SuiteOpt = None``,
``runtime: RuntimeOpt = DEFAULT`` (``gp2bm.runtimes``). Where two commands take the same
flag with a different meaning, each meaning has its own type (``CampaignOpt``, the campaign
a command reads; ``ResumedCampaignOpt``, the one run-all fills).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gp2bm import __version__
from gp2bm.campaign.trust import ACCEPTANCE_DIFFERENCES, RESERVATIONS
from gp2bm.runtimes import NAMES
from gp2bm.spec.suite import ComplianceMode

# ---------------------------------------------------------------------------- shared

SuiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        help="Suite manifest, or the name of one of gp2bm's suites (smoke, gp2rfp, "
        "nvidia-v4.0, ...). Default: the working folder's (made by gp2bm init), else the "
        "GP2BM RFP's (gp2rfp).",
    ),
]
SuiteFileOpt = Annotated[Path, typer.Option("--suite", help="The campaign's suite manifest.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
CampaignOpt = Annotated[
    Path | None,
    typer.Option("--campaign", help="Campaign folder (default: results/<suite name>)."),
]
ResumedCampaignOpt = Annotated[
    Path | None,
    typer.Option(
        "--campaign", help="Campaign folder (default: results/<suite name>). Resume = run again."
    ),
]
SharedCampaignOpt = Annotated[Path, typer.Option("--campaign", help="The shared campaign folder.")]
CampaignArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="CAMPAIGN",
        help="Campaign folder (default: results/<suite name> of the default or --suite suite).",
    ),
]
RuntimeOpt = Annotated[
    str,
    typer.Option("--runtime", help=f"How each run is started: {', '.join(NAMES)}."),
]
BenchmarkArg = Annotated[str, typer.Argument(help="Benchmark of the suite, e.g. resnet.")]


def _print_version(value: bool) -> None:
    if value:
        print(f"gp2bm {__version__}")
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version."),
]

# ---------------------------------------------------------------------------- runs

OrgOpt = Annotated[str | None, typer.Option(help="Submitter organisation (new campaigns).")]
SystemOpt = Annotated[
    str | None, typer.Option(help="System name (new campaigns; default: host name).")
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the plan and the equivalent command lines; run nothing."),
]
UnpinnedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unpinned", help="Run images not pinned by digest (recorded in every run record)."
    ),
]
CacheDropOpt = Annotated[
    bool,
    typer.Option("--cache-drop/--no-cache-drop", help="Drop the host page cache before each run."),
]
CacheCmdOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-drop-command",
        metavar="COMMAND",
        help="Command that drops the page cache instead of writing /proc/sys/vm/drop_caches "
        "(e.g. 'sudo /usr/local/sbin/drop-caches').",
    ),
]
CacheFailOpt = Annotated[
    bool,
    typer.Option(
        "--allow-cache-drop-failure",
        help="Go on when the cache drop fails (recorded in the log and the record).",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Per-run timeout in seconds (default: the manifest's)."),
]
SkipCheckOpt = Annotated[
    bool, typer.Option("--skip-check", help="Start without the pre-flight check (gp2bm check).")
]
NoGpuOpt = Annotated[
    bool,
    typer.Option("--no-gpu", help="The pre-flight does not require GPUs (suites that need none)."),
]
StopEarlyOpt = Annotated[
    bool,
    typer.Option(
        "--stop-early",
        help="Stop between two runs once the runs so far decide the campaign cannot pass "
        "(e.g. a second failed run of a benchmark): every finished run is kept, run-all again "
        "goes on. Without it gp2bm warns and goes on.",
    ),
]
MixedNodesOpt = Annotated[
    bool,
    typer.Option(
        "--allow-mixed-nodes",
        help="Score runs from nodes of different hardware (the RFP asks for one node type).",
    ),
]
PowerSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--power-source",
        help="Sample node power during every run: redfish (a BMC, or a PDU outlet with "
        "--power-resource), ipmi (DCMI, or an SDR sensor with --power-resource), or nvml "
        "(GPU power only, informative). Kept for the campaign (power.json).",
    ),
]
PowerAddressOpt = Annotated[
    str | None,
    typer.Option("--power-address", help="Redfish base URL (https://bmc) or IPMI host[:port]."),
]
PowerUserOpt = Annotated[str | None, typer.Option("--power-user", help="BMC or PDU user.")]
PowerPasswordEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--power-password-env",
        help="Environment variable holding the BMC's password (never stored; default "
        "GP2BM_POWER_PASSWORD when --power-user is given).",
    ),
]
PowerResourceOpt = Annotated[
    str | None,
    typer.Option(
        "--power-resource",
        help="Redfish: the URI to read (a chassis's Power or EnvironmentMetrics, a PDU "
        "Outlet, a Sensor; default: the first chassis's). IPMI: an SDR sensor's name "
        "(default: DCMI's power reading).",
    ),
]
PowerIntervalOpt = Annotated[
    float,
    typer.Option("--power-interval", help="Seconds between power readings (MLPerf: <= 1)."),
]
ConversionEffOpt = Annotated[
    float | None,
    typer.Option(
        "--conversion-eff",
        help="AC/DC conversion efficiency of the PSUs (MLPerf's conversion_eff; default: "
        "the suite's, else 1).",
    ),
]
MeasurementOpt = Annotated[
    str | None,
    typer.Option("--power-measurement", help="AC or DC: what the source reads."),
]
InterconnectOpt = Annotated[
    float | None,
    typer.Option(
        "--interconnect-power",
        help="Estimated interconnect power in watts (MLPerf's interconnect_power_est).",
    ),
]
SlurmOpt = Annotated[
    bool,
    typer.Option(
        "--slurm",
        help="Submit the missing runs to Slurm as a job array (one exclusive node per run), "
        "wait for them, then score. Resumable like a local run-all.",
    ),
]
PartitionOpt = Annotated[str | None, typer.Option(help="Slurm partition (--slurm).")]
SlurmNodesOpt = Annotated[
    int | None, typer.Option("--nodes", help="At most this many nodes at a time (--slurm).")
]
AccountOpt = Annotated[str | None, typer.Option(help="Slurm account (--slurm).")]
TimeLimitOpt = Annotated[
    str | None,
    typer.Option(
        "--time-limit", help="Slurm time limit per run, e.g. 3:00:00 (--slurm; sbatch --time)."
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait", help="Wait for the array and score (--slurm), or only submit."
    ),
]
TaskBenchmarkOpt = Annotated[
    str | None, typer.Option("--benchmark", help="Benchmark (default: from the task index).")
]
TaskIndexOpt = Annotated[
    int | None,
    typer.Option("--index", help="Run index (default: from $SLURM_ARRAY_TASK_ID)."),
]
StepBenchmarkOpt = Annotated[str, typer.Option("--benchmark", help="The run's benchmark.")]
TelemetryOutOpt = Annotated[
    list[str], typer.Option("--out", help="NODE=CSV: where each node's samples go.")
]
IntervalOpt = Annotated[float, typer.Option("--interval", help="Seconds between samples.")]

# ---------------------------------------------------------------------------- images

ImageArg = Annotated[
    str,
    typer.Argument(
        help="IMAGE[:TAG] to resolve in its registry; REPO@sha256:... as it is; an image "
        "built here (or a SIF/squashfs file) to pin locally."
    ),
]
PinRuntimeOpt = Annotated[
    str,
    typer.Option(
        "--runtime",
        help=f"Whose local store --local reads, and whose images ({', '.join(NAMES)}); a "
        "tag is resolved by its registry, without a daemon, for every runtime.",
    ),
]
LocalPinOpt = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Pin the image the runtime holds here by its image ID (Docker, Podman) or its "
        "file's sha256 (a SIF, a squashfs), without a registry: recorded as pinned locally, "
        "a reservation the evaluator accepts by name (--accept pinned-locally).",
    ),
]
InsecureRegistryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-registry",
        metavar="HOST[:PORT]",
        help="A registry to ask over plain HTTP (loopback ones always are); repeatable.",
    ),
]
BenchmarksArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="BENCHMARK", help="Benchmarks to pull (default: all of the suite)."
    ),
]

# ---------------------------------------------------------------------------- the node

OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Write inventory.json (and nvidia-smi's raw text) here."),
]
DescriptionCheckOpt = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Refuse placeholders and empty fields of the system description (exit 1), "
        "and run MLCommons' system-description checker.",
    ),
]
SystemYamlOpt = Annotated[
    Path | None,
    typer.Option(
        "--system-yaml",
        help="The vendor's MLPerf system fields (default: system.yaml beside the suite).",
    ),
]
InventoryCampaignOpt = Annotated[
    Path | None,
    typer.Option(
        "--campaign",
        help="Write inventory.json and <org>/systems/<system>.json into this campaign.",
    ),
]
CheckCacheCmdOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-drop-command",
        metavar="COMMAND",
        help="The command run-all will use to drop the page cache, if any.",
    ),
]
CheckUnpinnedOpt = Annotated[
    bool, typer.Option("--allow-unpinned", help="Unpinned images only warn.")
]
CheckCacheFailOpt = Annotated[
    bool,
    typer.Option("--allow-cache-drop-failure", help="A cache drop that cannot work only warns."),
]
StatusCampaignOpt = Annotated[
    Path | None,
    typer.Option("--campaign", help="The campaign folder, given as an option (the same)."),
]
StatusCampaignArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="CAMPAIGN",
        help="Campaign folder (default: results/<suite name> of the default or --suite "
        "suite), as report and package take it.",
    ),
]
FolderArg = Annotated[
    Path,
    typer.Argument(
        metavar="FOLDER", help="The working folder to write manifests/ into (created if needed)."
    ),
]
InitSuiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        metavar="SUITE",
        help="A suite file, or the name of one of gp2bm's default suites: gp2rfp (the "
        "default), lp2rfp, nvidia-v4.0, smoke.",
    ),
]

# ---------------------------------------------------------------------------- scores


PathsArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="PATH...",
        help="Benchmark folder(s) with result_*.txt, system folder(s) or a campaign.",
    ),
]
RulesetOpt = Annotated[
    str | None,
    typer.Option(help="mlperf-logging ruleset to check against (default: the suite's)."),
]
# --compliance: the suite's checks.compliance when not given
ComplianceOpt = Annotated[
    ComplianceMode | None,
    typer.Option(
        help="strict: a run failing compliance is a failed run (MLCommons' summarizer); "
        "report: check and report only (older rounds' logs fail today's checker); off: skip.",
    ),
]
RcpOpt = Annotated[
    bool,
    typer.Option(
        "--rcp",
        help="Take the scaling factor from the RCPs instead of scaling.json (a campaign "
        "of a suite with RCP checks always does).",
    ),
]

# ---------------------------------------------------------------------------- hand-in

TemplateOpt = Annotated[
    Path | None,
    typer.Option(
        "--template",
        help="The RFP's Benchmark_Results.xlsx: fill a copy of its MLPerf tab (never the file).",
    ),
]
ChangesOpt = Annotated[
    Path | None,
    typer.Option(
        "--changes",
        help="Text file: the description of changes for the RFP workbook (with --template).",
    ),
]
ProposedOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--proposed",
        metavar="KEY=VALUE",
        help="KEY=VALUE for the workbook's Proposed column: nodes, bert and resnet (in the "
        "form's unit: seconds; or bert=expect, resnet=expect: projected from the published "
        "results for the campaign node's accelerators on the proposed nodes, as gp2bm expect "
        "gives it, the cell commented so), mpi_tasks, omp_threads; repeat it.",
    ),
]
TestOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--test",
        metavar="KEY=VALUE",
        help="KEY=VALUE for Test-column lines a campaign cannot know (mpi_tasks, omp_threads, "
        "compiler, mpi, libraries, compiler_flags, library_flags); repeat it.",
    ),
]
CsvOpt = Annotated[Path | None, typer.Option("--csv", help="Write the spreadsheet-ready CSV here.")]
XlsxOpt = Annotated[
    Path | None,
    typer.Option(
        "--xlsx",
        help="Write gp2bm's workbook here (with --template: the filled RFP workbook).",
    ),
]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Bundle to write (default: <suite>-<org>-<system>.tar.gz beside the campaign "
        "folder, e.g. results/smoke-Acme-X9000.tar.gz).",
    ),
]
AllowIncompleteOpt = Annotated[
    bool,
    typer.Option(
        "--allow-incomplete",
        help="Write the bundle even without a system description or implementation "
        "source, and exit 0 when it is written (what is missing is listed in it).",
    ),
]
UpstreamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--upstream",
        metavar="BENCH=FOLDER",
        help="BENCH=FOLDER: a local copy of the upstream implementation to diff against.",
    ),
]
AllowFileOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-file",
        metavar="PATH",
        help="Ship this file of the implementation source though it holds a secret (PATH "
        "relative to the implementation folder; repeatable); the bundle says it was shipped "
        "by your choice.",
    ),
]
BundleArg = Annotated[
    Path, typer.Argument(metavar="BUNDLE", help="A bundle written by `gp2bm package`.")
]
OwnSuiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        help="Your own copy of the RFP's suite file: the rules the bundle is held to (its name "
        "and manifests do not matter). Default: gp2bm's built-in suite of the bundle's suite's "
        "name, else the GP2BM suite.",
    ),
]
OwnTemplateOpt = Annotated[
    Path | None,
    typer.Option(
        "--template",
        metavar="<path>",
        help="Your own copy of the RFP's workbook (Benchmark_Results.xlsx): the template the "
        "bundle filled (reports/template/) must be it, byte for byte or cell for cell; "
        "otherwise a finding. Without it, whether the template is the RFP's is listed as "
        "unverifiable, with its SHA-256.",
    ),
]
AcceptOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--accept",
        metavar="RESERVATION",
        help="Accept a reservation of the bundle's trust ledger by name (repeat it): "
        + "; ".join(f"{name}: {what}" for name, what in RESERVATIONS.items())
        + ". The verdict says what was accepted.",
    ),
]

ImportSourceArg = Annotated[
    Path,
    typer.Argument(
        metavar="SOURCE",
        help="A folder of result logs (NVIDIA's DATESTAMP_N.log files, or an MLPerf "
        "submission tree's result_N.txt), or one log.",
    ),
]
NewCampaignOpt = Annotated[
    Path,
    typer.Option("--campaign", help="The campaign folder to make (new, or empty)."),
]
BundlesArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="BUNDLE...",
        help="The bundles to compare (each written by `gp2bm package`: a .tar.gz or its folder).",
    ),
]
CompareSuiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        help="Your own copy of the RFP's suite file: the rules every bundle is held to (its "
        "name and manifests do not matter). Default: gp2bm's built-in GP2BM suite, for every "
        "bundle alike.",
    ),
]
CompareXlsxOpt = Annotated[
    Path | None,
    typer.Option("--xlsx", help="Write the comparison's tables here, one sheet each."),
]

AcceptanceCampaignArg = Annotated[
    Path,
    typer.Argument(
        metavar="CAMPAIGN",
        help="The acceptance campaign: run-all's folder of the re-run on the delivered system.",
    ),
]
ToleranceOpt = Annotated[
    float | None,
    typer.Option(
        "--tolerance",
        metavar="PCT",
        help="How much slower than the committed result a benchmark may be, in percent (the "
        "RFP's own). Default, per benchmark: the larger of MLPerf's stated variance (2.5 % "
        "image, 5 % other) and how far the committed result's 95 % interval reaches above it.",
    ),
]
AcceptDifferenceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--accept",
        metavar="NAME",
        help="Accept a difference of the delivered system, or a reservation of the committed "
        "bundle, by name (repeat it): "
        + "; ".join(f"{name}: {what}" for name, what in ACCEPTANCE_DIFFERENCES.items())
        + "; and the reservations: "
        + ", ".join(RESERVATIONS)
        + ". The verdict says what was accepted.",
    ),
]

# ---------------------------------------------------------------------------- the atlas


class BenchmarkChoice(StrEnum):
    resnet = "resnet"
    bert = "bert"


class DivisionChoice(StrEnum):
    closed = "closed"
    open = "open"


AtlasBenchmarkOpt = Annotated[
    BenchmarkChoice | None, typer.Option("--benchmark", help="resnet or bert.")
]
AcceleratorOpt = Annotated[
    str | None,
    typer.Option(
        "--accelerator",
        help='The accelerator, by its one name ("H100-SXM5-80GB") or any published '
        'spelling ("NVIDIA H100 80GB HBM3").',
    ),
]
CountOpt = Annotated[
    int | None, typer.Option("--count", min=1, help="Accelerators in all (per node x nodes).")
]
AtlasNodesOpt = Annotated[int | None, typer.Option("--nodes", min=1, help="Number of nodes.")]
RoundOpt = Annotated[str | None, typer.Option("--round", help="A round, e.g. v4.0 (or 4.0).")]
DivisionOpt = Annotated[DivisionChoice | None, typer.Option("--division", help="closed or open.")]
CsvFlagOpt = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
RequiredAcceleratorOpt = Annotated[
    str,
    typer.Option(
        "--accelerator",
        help='The accelerator, by its one name ("H100-SXM5-80GB") or any published spelling.',
    ),
]
RequiredCountOpt = Annotated[int, typer.Option("--count", min=1, help="Accelerators in all.")]
ExpectNodesOpt = Annotated[
    int | None,
    typer.Option("--nodes", min=1, help="Number of nodes (default: the suite's)."),
]
ExpectRoundOpt = Annotated[
    str | None,
    typer.Option("--round", help="Expect as of this round (default: each benchmark's latest)."),
]
OverheadsFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--overheads-from",
        metavar="<campaign>",
        help="A campaign folder run on the system (a smoke campaign will do): each run's "
        "overhead, its node time less its time to train as gp2bm's clock measured it "
        "(container start, data staging, cache drop, pre-flight), goes into the node time "
        "instead of the published logs' initialisation.",
    ),
]
