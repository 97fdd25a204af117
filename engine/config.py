"""Settings read from the environment, with the embedded defaults a newcomer gets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
# Timer fire processes on PostgreSQL: one per core, at most two (the web workers and PostgreSQL need the rest).
FIRE_PROCESSES = min(2, os.cpu_count() or 1)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _types(name: str, default: str) -> tuple[str, ...]:
    return tuple(t.strip().lower() for t in os.environ.get(name, default).split(",") if t.strip())


@dataclass(frozen=True)
class UploadLimits:
    """What one upload takes: the largest file, the types (as sniffed from the bytes; engine/documents.py) and,
    where a sender may not send without end, how many files at once."""

    max_bytes: int
    types: tuple[str, ...]
    max_files: int | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the engine needs to know about its surroundings.

    ``database_url`` defaults to a SQLite file in the instance folder; production sets ``DATABASE_URL`` to
    PostgreSQL. ``allow_scripts`` stays off unless the operator trusts everyone who may deploy, because a
    script task runs arbitrary Python.
    """

    instance_path: Path = field(
        default_factory=lambda: Path(os.environ.get("PETITIONFLOW_INSTANCE", "instance"))
    )
    database_url: str = ""
    allow_scripts: bool = False
    forms_path: Path = Path("forms")
    workflows_path: Path = Path("workflows")
    # 提级包案: a resolved packaged case that returns more often than this goes to a higher-ranked leader (GK).
    reflux_threshold: int = 2
    # Uploads: the largest file taken, and the types taken (as sniffed from the bytes; engine/documents.py).
    upload_max_bytes: int = 20 * MB
    upload_types: tuple[str, ...] = ("png", "jpg", "pdf", "tif", "docx")
    # Uploads with an online petition (no account): fewer, smaller files of fewer types (the bytes a client
    # address may send a day are counted with the other public limits, engine/public.py).
    public_upload_max_bytes: int = 10 * MB
    public_upload_files: int = 5
    public_upload_types: tuple[str, ...] = ("png", "jpg", "pdf")
    # The organ whose name heads a written notice and numbers it, when the issuing user belongs to no unit.
    organ: str = "信访工作机构"
    # The notifier for messages to petitioners (engine/notifier.py): module:factory, or the outbox when empty.
    notifier: str = ""
    # PostgreSQL, system clock: the scheduler fires timers in this many worker processes, so that a burst's
    # Python work is not held to one core; 0: threads, as on SQLite.
    fire_processes: int = FIRE_PROCESSES

    def __post_init__(self) -> None:
        if not self.database_url:
            url = f"sqlite:///{(self.instance_path / 'petitionflow.db').resolve()}"
            object.__setattr__(self, "database_url", url)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            instance_path=Path(os.environ.get("PETITIONFLOW_INSTANCE", "instance")),
            database_url=os.environ.get("DATABASE_URL", ""),
            allow_scripts=_flag(os.environ.get("PETITIONFLOW_ALLOW_SCRIPTS")),
            forms_path=Path(os.environ.get("PETITIONFLOW_FORMS", "forms")),
            workflows_path=Path(os.environ.get("PETITIONFLOW_WORKFLOWS", "workflows")),
            reflux_threshold=int(os.environ.get("PETITIONFLOW_REFLUX_THRESHOLD", "2")),
            upload_max_bytes=int(os.environ.get("PETITIONFLOW_UPLOAD_MAX_MB", "20")) * MB,
            upload_types=_types("PETITIONFLOW_UPLOAD_TYPES", "png,jpg,pdf,tif,docx"),
            public_upload_max_bytes=int(os.environ.get("PETITIONFLOW_PUBLIC_UPLOAD_MAX_MB", "10")) * MB,
            public_upload_files=int(os.environ.get("PETITIONFLOW_PUBLIC_UPLOAD_FILES", "5")),
            public_upload_types=_types("PETITIONFLOW_PUBLIC_UPLOAD_TYPES", "png,jpg,pdf"),
            organ=os.environ.get("PETITIONFLOW_ORGAN", "").strip() or "信访工作机构",
            notifier=os.environ.get("PETITIONFLOW_NOTIFIER", "").strip(),
            fire_processes=int(os.environ.get("PETITIONFLOW_FIRE_PROCESSES", "").strip() or FIRE_PROCESSES),
        )

    def upload_limits(self, *, public: bool = False) -> UploadLimits:
        """The officials' limits, or (``public``) those of the petitioner's online submission."""
        if public:
            return UploadLimits(
                self.public_upload_max_bytes, self.public_upload_types, self.public_upload_files
            )
        return UploadLimits(self.upload_max_bytes, self.upload_types)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
