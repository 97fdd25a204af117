"""Settings read from the environment, with the embedded defaults a newcomer gets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


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
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_types: tuple[str, ...] = ("png", "jpg", "pdf", "tif", "docx")
    # The organ whose name heads a written notice and numbers it, when the issuing user belongs to no unit.
    organ: str = "信访工作机构"
    # The notifier for messages to petitioners (engine/notifier.py): module:factory, or the outbox when empty.
    notifier: str = ""

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
            upload_max_bytes=int(os.environ.get("PETITIONFLOW_UPLOAD_MAX_MB", "20")) * 1024 * 1024,
            upload_types=tuple(
                t.strip().lower()
                for t in os.environ.get("PETITIONFLOW_UPLOAD_TYPES", "png,jpg,pdf,tif,docx").split(",")
                if t.strip()
            ),
            organ=os.environ.get("PETITIONFLOW_ORGAN", "").strip() or "信访工作机构",
            notifier=os.environ.get("PETITIONFLOW_NOTIFIER", "").strip(),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
