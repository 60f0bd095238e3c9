"""The RFP answers given once: ``gp2bm report --template T --changes C --proposed ...``
keeps them in the campaign (``CampaignFiles.answers_dir``: a copy of the template and
``answers.json``), and every later ``report`` and ``package`` of the campaign fills the
workbook from them; an answer given again replaces the kept one (a key of --proposed or
--test one by one). The kept file is read as strictly as the command line: a changed or
broken one is one line naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json, write_json_atomic
from gp2bm.reports.rfp_workbook import RfpAnswers, answer_value, refuse_credentials

SCHEMA = "gp2bm.rfp-answers/1"
ANSWERS_FILE = "answers.json"


def given_any(answers: RfpAnswers) -> bool:
    return bool(answers.template or answers.changes is not None or answers.proposed or answers.test)


def stored_answers(files: CampaignFiles) -> RfpAnswers | None:
    """The answers kept in the campaign, or None."""
    path = files.answers_dir / ANSWERS_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    if data.get("schema") != SCHEMA or not isinstance(data.get("template"), str):
        raise InputError(f"{path}: not gp2bm's RFP answers ({SCHEMA})")
    template = files.answers_dir / Path(data["template"]).name
    if not template.is_file():
        raise InputError(f"{path}: its template {template.name} is missing")
    found = {}
    for option, key in (("--proposed", "proposed"), ("--test", "test")):
        values = data.get(key) or {}
        if not isinstance(values, dict):
            raise InputError(f"{path}: {key} is not a mapping")
        for name, value in values.items():
            answer_value(str(name), str(value), f"{path}: {option}")
        found[key] = {str(k): str(v) for k, v in values.items()}
    changes = data.get("changes")
    if changes is not None and not isinstance(changes, str):
        raise InputError(f"{path}: changes is not text")
    if changes:
        refuse_credentials(changes, path)
    if changes is not None and not changes.strip():
        changes = None  # kept blank by an earlier gp2bm: blank, as the workbook shows it
    return RfpAnswers(template, changes, found["proposed"], found["test"])


def merged(stored: RfpAnswers | None, given: RfpAnswers) -> RfpAnswers:
    """``given`` over ``stored``."""
    if stored is None:
        return given
    return RfpAnswers(
        template=given.template or stored.template,
        changes=given.changes if given.changes is not None else stored.changes,
        proposed={**stored.proposed, **given.proposed},
        test={**stored.test, **given.test},
    )


def save_answers(files: CampaignFiles, answers: RfpAnswers) -> None:
    """Keep ``answers`` (with a template) in the campaign."""
    if answers.template is None:
        return
    folder = files.answers_dir
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / Path(answers.template).name
    if Path(answers.template).resolve() != kept.resolve():
        partial = kept.with_name(kept.name + ".partial")
        shutil.copyfile(answers.template, partial)
        partial.replace(kept)
    write_json_atomic(
        folder / ANSWERS_FILE,
        {
            "schema": SCHEMA,
            "template": kept.name,
            "changes": answers.changes,
            "proposed": dict(answers.proposed),
            "test": dict(answers.test),
        },
    )


def campaign_answers(files: CampaignFiles, given: RfpAnswers) -> RfpAnswers:
    """The answers a command fills the workbook with: those given over those kept (kept
    by ``keep_answers`` once the workbook was filled with them)."""
    answers = merged(stored_answers(files), given)
    if given_any(given) and answers.template is None:
        raise InputError("--changes, --proposed and --test fill the RFP workbook: give --template")
    return answers


def keep_answers(files: CampaignFiles, given: RfpAnswers, answers: RfpAnswers) -> None:
    """Keep ``answers`` when any was given (after a workbook was filled with them: an
    answer the workbook refused is never kept)."""
    if given_any(given):
        save_answers(files, answers)
