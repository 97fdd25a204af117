"""engine.formstore: the one place a deployed form is looked up, parsed once per version."""

from __future__ import annotations

import json

from engine.formstore import FormStore
from engine.runtime import Engine
from tests.helpers import DATA, deploy_data, with_text

KEY = "simple_register"


def _second_version() -> str:
    schema = json.loads((DATA / "simple_register.form").read_text())
    schema["components"].append({"type": "textfield", "id": "f_note", "key": "note", "label": "Note"})
    return json.dumps(schema)


def test_latest_and_pinned_versions(engine: Engine) -> None:
    deploy_data(engine, "simple_register.form")
    first = engine.forms.get(KEY)
    assert first is not None and (first.key, first.version) == (KEY, 1)
    assert "note" not in first.definition.keys

    engine.deploy([with_text("simple_register.form", _second_version())])
    latest = engine.forms.get(KEY)
    assert latest is not None and latest.version == 2
    assert "note" in latest.definition.keys
    assert [c["key"] for c in latest.schema["components"]][-1] == "note"
    # A running task keeps the version it was bound to.
    pinned = engine.forms.get(KEY, 1)
    assert pinned is first and "note" not in pinned.definition.keys


def test_parsed_once_per_version(engine: Engine) -> None:
    deploy_data(engine, "simple_register.form")
    store = FormStore(engine.db)
    form = store.get(KEY, 1)
    assert form is not None
    assert store.get(KEY) is form and store.get(KEY, 1) is form
    assert form.definition is form.definition


def test_not_deployed_is_none(engine: Engine) -> None:
    deploy_data(engine, "simple_register.form")
    assert engine.forms.get("no_such_form") is None
    assert engine.forms.get(KEY, 7) is None


def test_inside_a_command_session(engine: Engine) -> None:
    deploy_data(engine, "simple_register.form")
    with engine.db.transaction() as session:
        form = engine.forms.get(KEY, session=session)
    assert form is not None and form.definition.validate({"name": "张三"})["name"] == "张三"
