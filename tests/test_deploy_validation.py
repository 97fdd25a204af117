"""Deploy-time validation: every problem names the file, the line and the element, and nothing is stored."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import DeploymentInvalid
from engine.parsing import SCHEMA_REFUSED
from engine.runtime import Engine
from tests.helpers import DATA, with_text

ROOT = Path(__file__).resolve().parent.parent
SIMPLE = (DATA / "simple.bpmn").read_text()
FORM = (DATA / "simple_register.form").read_text()

PAYLOADS = [
    "__import__('os')",
    "().__class__.__base__.__subclasses__()",
    "open('/etc/passwd')",
    "getattr(x, '__globals__')",
]


def problems_of(engine: Engine, *files) -> list[dict]:
    with pytest.raises(DeploymentInvalid) as caught:
        engine.deploy(list(files))
    return caught.value.details["problems"]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_dangerous_condition_is_refused_naming_the_flow(engine: Engine, payload: str) -> None:
    bpmn = SIMPLE.replace("${accepted}", payload)
    [problem] = problems_of(engine, with_text("simple.bpmn", bpmn), with_text("f.form", FORM))
    assert problem["element"] == "f_yes"
    assert problem["line"] == line_of(bpmn, 'id="f_yes"')
    assert "无法接受" in problem["message"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_dangerous_timer_is_refused_naming_the_boundary_event(engine: Engine, payload: str) -> None:
    bpmn = SIMPLE.replace("${wait}", payload)
    [problem] = problems_of(engine, with_text("simple.bpmn", bpmn), with_text("f.form", FORM))
    assert problem["element"] == "late"
    assert problem["message"].startswith("定时器")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_script_task_is_refused_whatever_it_contains(engine: Engine, payload: str) -> None:
    script = (
        f'<bpmn:scriptTask id="run_it" name="Run"><bpmn:script>x = {payload}</bpmn:script></bpmn:scriptTask>'
    )
    bpmn = SIMPLE.replace(
        '<bpmn:endEvent id="done" name="Done"/>', '<bpmn:endEvent id="done" name="Done"/>' + script
    )
    problems = problems_of(engine, with_text("simple.bpmn", bpmn), with_text("f.form", FORM))
    assert [(p["element"], "脚本任务未启用" in p["message"]) for p in problems] == [("run_it", True)]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_dangerous_input_mapping_and_assignee_are_refused(engine: Engine, payload: str) -> None:
    child = (DATA / "child.bpmn").read_text().replace("${'hello ' + who}", "${" + payload + "}")
    child = child.replace('camunda:candidateUsers="carol"', 'camunda:candidateUsers="${' + payload + '}"')
    problems = problems_of(engine, with_text("child.bpmn", child))
    assert [p["element"] for p in problems] == ["child_task", "child_task"]


def test_nothing_is_stored_when_one_file_of_a_deployment_is_bad(engine: Engine) -> None:
    bad = SIMPLE.replace("${accepted}", "__import__('os')")
    problems_of(engine, with_text("good.bpmn", (DATA / "child.bpmn").read_text()), with_text("bad.bpmn", bad))
    from engine.errors import NotFound

    with pytest.raises(NotFound):
        engine.start("child")


def test_malformed_xml_names_the_line(engine: Engine) -> None:
    broken = SIMPLE.replace('<bpmn:endEvent id="done" name="Done"/>', '<bpmn:endEvent id="done" name="Done">')
    [problem] = problems_of(engine, with_text("broken.bpmn", broken))
    assert problem["file"] == "broken.bpmn"
    assert problem["line"] >= line_of(broken, 'id="done"')
    assert "malformed XML" in problem["message"]


@pytest.mark.parametrize("reserved", ["Start", "End", "simple.EndJoin"])
def test_an_id_the_engine_reserves_is_refused(engine: Engine, reserved: str) -> None:
    bpmn = SIMPLE.replace('id="done"', f'id="{reserved}"').replace('"done"', f'"{reserved}"')
    [problem] = problems_of(engine, with_text("simple.bpmn", bpmn), with_text("f.form", FORM))
    assert (problem["element"], problem["line"]) == (reserved, line_of(bpmn, f'id="{reserved}"'))
    assert "reserved" in problem["message"]


def test_missing_called_process_names_the_call_activity(engine: Engine) -> None:
    parent = (DATA / "parent.bpmn").read_text()
    [problem] = problems_of(engine, with_text("parent.bpmn", parent))
    assert (problem["element"], problem["line"]) == ("call_child", line_of(parent, 'id="call_child"'))
    assert "'child'" in problem["message"]


def test_called_process_deployed_earlier_resolves(engine: Engine) -> None:
    engine.deploy([with_text("child.bpmn", (DATA / "child.bpmn").read_text())])
    result = engine.deploy([with_text("parent.bpmn", (DATA / "parent.bpmn").read_text())])
    assert [d.key for d in result.definitions] == ["parent"]


def test_missing_form_names_the_user_task(engine: Engine) -> None:
    [problem] = problems_of(engine, with_text("simple.bpmn", SIMPLE))
    assert problem["element"] == "register" and "simple_register" in problem["message"]


def test_schema_violation_names_a_line(engine: Engine) -> None:
    bad = SIMPLE.replace('<bpmn:userTask id="notify"', '<bpmn:userTask idx="x" id="notify"')
    [problem] = problems_of(engine, with_text("s.bpmn", bad), with_text("f.form", FORM))
    assert problem["line"] == line_of(bad, 'idx="x"')
    assert problem["message"].startswith(SCHEMA_REFUSED)


def test_scripts_run_when_the_operator_enables_them(settings, clock) -> None:
    from dataclasses import replace

    engine = Engine(replace(settings, allow_scripts=True), clock=clock)
    engine.migrate()
    script = (
        '<bpmn:scriptTask id="calc" name="Calc"><bpmn:script>total = 2 + 3</bpmn:script></bpmn:scriptTask>'
    )
    bpmn = (DATA / "child.bpmn").read_text()
    bpmn = bpmn.replace('targetRef="child_task"', 'targetRef="calc"').replace(
        '<bpmn:endEvent id="c_end" name="End"/>',
        '<bpmn:endEvent id="c_end" name="End"/>'
        + script
        + '<bpmn:sequenceFlow id="cs" sourceRef="calc" targetRef="child_task"/>',
    )
    engine.deploy([with_text("child.bpmn", bpmn)])
    instance_id = engine.start("child", variables={"who": "x"}).instance_id
    from tests.helpers import instance

    assert '"total":5' in instance(engine, instance_id).state_json
    engine.db.dispose()


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webapi.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_cli_validate_prints_file_line_element_and_fails(tmp_path: Path) -> None:
    parent = tmp_path / "parent.bpmn"
    parent.write_text((DATA / "parent.bpmn").read_text())
    broken = tmp_path / "broken.bpmn"
    broken.write_text(SIMPLE.replace('name="Done"/>', 'name="Done">'))
    result = run_cli("validate", str(parent), str(broken))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    call_line = line_of(parent.read_text(), 'id="call_child"')
    assert any(line.startswith(f"{parent}:{call_line}: call_child: ") for line in lines), lines
    assert any(line.startswith(f"{broken}:") and "malformed XML" in line for line in lines)


def test_cli_validate_accepts_the_shipped_workflows() -> None:
    result = run_cli("validate", "workflows", "forms")
    assert result.returncode == 0, result.stdout + result.stderr
    # A shell user is told that the check ran and found nothing, not left with silence.
    diagrams, forms = len(list(Path("workflows").glob("*.bpmn"))), len(list(Path("forms").glob("*.form")))
    assert result.stdout == f"ok: {diagrams} diagrams and {forms} forms, no problems\n"
