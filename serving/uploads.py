"""A school's own files, uploaded on a page: staged, previewed, then loaded in one go.

A data officer (or the care committee) uploads one or more files for *their* school,
several of a source if they like (a register per classroom). Each file's source is found
from its name or its headers (a class register is attendance); the load is validated
without writing anything and the page shows every rejected row and blanked value. Only
on confirmation is it loaded, in one transaction, scoped to the school: rows naming
another school or its students are rejected. A staged upload belongs to the person who
made it and expires after an hour. The school's latest upload can be undone
(``schooldata.loads``): its records are put back as they were before it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from core.secrets import secret
from core.settings import Settings
from schooldata.contract import Source
from schooldata.ingest import IngestReport, ingest_directory
from schooldata.loads import CannotUndo, LastLoad, Undone, last_load
from schooldata.loads import undo as undo_load
from schooldata.validate import SUFFIXES, detect_source
from serving.accounts import User

UPLOAD_ROLES = ("data_officer", "committee")
STAGED_SECONDS = 3600
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
ACCEPTED = tuple(s for s in SUFFIXES if s != ".parquet")
ACCEPTED_WORDS = ", ".join(ACCEPTED)


class UploadError(ValueError):
    """The upload cannot be staged or is not this user's; the message says why."""


@dataclass(frozen=True)
class StagedFile:
    name: str  # as the person named it (shown escaped, never used as a path)
    source: str
    stored: str = ""  # where it waits, as the load's report names it: attendance/2.xlsx


@dataclass(frozen=True)
class Staged:
    token: str
    files: tuple[StagedFile, ...]
    report: IngestReport


def scope_of(user: User) -> frozenset[str]:
    if user.role not in UPLOAD_ROLES or not user.school_id:
        raise UploadError("only a school's data officer or care committee uploads its files")
    return frozenset({user.school_id})


def stage(
    settings: Settings,
    engine: sa.Engine,
    user: User,
    files: list[tuple[str, bytes]],
) -> Staged:
    """Keep the files for this user and validate them as a load would, writing nothing."""
    schools = scope_of(user)
    if not files or all(not data for _, data in files):
        raise UploadError(f"choose at least one file ({ACCEPTED_WORDS})")
    settings.upload_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    forget_old(settings.upload_dir)
    token = secrets.token_urlsafe(24)
    folder = settings.upload_dir / token
    data = folder / "data"
    data.mkdir(parents=True, mode=0o700)
    staged: list[StagedFile] = []
    try:
        for index, (name, content) in enumerate(files):
            suffix = Path(name).suffix.lower()
            if suffix not in ACCEPTED:
                raise UploadError(f"{name}: not a file the service reads ({ACCEPTED_WORDS})")
            incoming = folder / f"incoming-{index}{suffix}"
            incoming.write_bytes(content)
            source: Source | None = detect_source(incoming)
            if source is None:
                raise UploadError(
                    f"{name}: cannot tell which data this is; name the file after it "
                    "(students, enrollments, attendance ...) or use the contract's headers"
                )
            # Several files of a source (a register per classroom) wait in its folder.
            stored = f"{source.name}/{index + 1}{suffix}"
            (data / source.name).mkdir(mode=0o700, exist_ok=True)
            incoming.rename(data / stored)
            staged.append(StagedFile(name, source.name, stored))
        (folder / "owner.json").write_text(
            json.dumps({"user_id": user.user_id, "files": [f.__dict__ for f in staged]})
        )
        report = ingest_directory(
            data,
            engine,
            secret(settings, "id_hash_key"),
            None,
            dataset=settings.dataset_path,  # where other schools' days at school are
            schools=schools,
            dry_run=True,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Staged(token, tuple(staged), report)


def confirm(settings: Settings, engine: sa.Engine, user: User, token: str) -> Staged:
    """Load a staged upload of this user's, in one transaction, then forget it. Once: a
    confirm takes the upload for itself first (a rename, which one process wins), so a
    double click, or the same form sent from two tabs, loads it once, and the second is
    told it was loaded. Loaded twice, the school's undo put back the first load's
    records and left the upload in place."""
    schools = scope_of(user)
    staged = _folder(settings, user, token)
    folder = staged.with_name(f"{token}.loading")  # no token's name: no request reaches it
    try:
        staged.rename(folder)
    except OSError:
        raise UploadError("no such upload: it was loaded, cancelled or has expired") from None
    os.utime(folder)  # its hour (``forget_old``) starts again: the load's, not the check's
    owner = json.loads((folder / "owner.json").read_text())
    try:
        report = ingest_directory(
            folder / "data",
            engine,
            secret(settings, "id_hash_key"),
            None,
            dataset=settings.dataset_path,
            schools=schools,
            by=user.user_id,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Staged(token, tuple(StagedFile(**f) for f in owner["files"]), report)


def last_upload(engine: sa.Engine, user: User) -> LastLoad | None:
    """The user's school's latest upload, which the page offers to undo."""
    return last_load(engine, next(iter(scope_of(user))))


def undo(engine: sa.Engine, user: User, load_id: int) -> Undone:
    """Put the user's school's records back as they were before its latest upload."""
    try:
        return undo_load(engine, next(iter(scope_of(user))), load_id, user.user_id)
    except CannotUndo as refusal:
        raise UploadError(str(refusal)) from None


def cancel(settings: Settings, user: User, token: str) -> None:
    shutil.rmtree(_folder(settings, user, token), ignore_errors=True)


def _folder(settings: Settings, user: User, token: str) -> Path:
    if not TOKEN.fullmatch(token):
        raise UploadError("no such upload")
    folder = settings.upload_dir / token
    try:  # read at once: a confirm of the same upload may take it away in between
        owner = json.loads((folder / "owner.json").read_text())
        age = time.time() - (folder / "owner.json").stat().st_mtime
    except (OSError, ValueError):
        raise UploadError("no such upload: it was loaded, cancelled or has expired") from None
    if owner.get("user_id") != user.user_id:
        raise UploadError("no such upload")  # someone else's: not even its existence
    if age > STAGED_SECONDS:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadError("no such upload: it was loaded, cancelled or has expired")
    return folder


def forget_old(root: Path) -> None:
    """Remove uploads staged more than an hour ago and never confirmed (a school's files,
    children's names and IDs in them: none stays on disk once its hour is over). Called
    when a file is staged and every few minutes by each server worker."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir() and time.time() - folder.stat().st_mtime > STAGED_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
