"""Every way Camunda 7 Modeler links a Camunda Form works at deploy, start and completion; the rest is refused
at deploy with the element named."""

from __future__ import annotations

import pytest

from engine.definitions import DeployFile, read_files
from engine.errors import DeploymentInvalid, ValidationFailed
from engine.runtime import Engine
from tests.helpers import DATA, only_task, with_text

FORMS = DATA / "camunda_forms"
BPMN = (FORMS / "request.bpmn").read_text()
APPLY = (FORMS / "request_apply.form").read_text()
REVIEW = (FORMS / "request_review.form").read_text()
GOOD_START = {"peopleCount": 3, "request": "协调停车位"}


def files(bpmn: str = BPMN, review: str = REVIEW) -> list[DeployFile]:
    return [
        with_text("request.bpmn", bpmn),
        with_text("forms/request_apply.form", APPLY),
        with_text("forms/request_review.form", review),
    ]


def problems_of(engine: Engine, deployment: list[DeployFile]) -> list[dict]:
    with pytest.raises(DeploymentInvalid) as caught:
        engine.deploy(deployment)
    return caught.value.details["problems"]


def test_forms_without_id_take_their_file_name_and_app_keys_link_them(engine: Engine) -> None:
    result = engine.deploy(read_files([FORMS]))
    assert result.forms == {"request_apply": 1, "request_review": 1}
    with pytest.raises(ValidationFailed) as refused:
        engine.start("visit_request", variables={"peopleCount": 0, "request": "x"})
    assert set(refused.value.details["fields"]) == {"peopleCount"}
    instance_id = engine.start("visit_request", variables=GOOD_START).instance_id
    task = only_task(engine, instance_id, "Activity_review")
    assert (task.form_ref, task.form_version, task.form_key) == (
        "request_review",
        1,
        "camunda-forms:app:forms/request_review.form",
    )
    with pytest.raises(ValidationFailed) as refused:
        engine.complete(task.id, {"decision": "maybe"})
    assert set(refused.value.details["fields"]) == {"decision"}
    assert engine.complete(task.id, {"decision": "approve"}).state == "completed"


def test_a_start_without_its_required_start_field_is_refused(engine: Engine) -> None:
    engine.deploy(files())
    with pytest.raises(ValidationFailed) as refused:
        engine.start("visit_request", variables={"peopleCount": 2})
    assert set(refused.value.details["fields"]) == {"request"}


@pytest.mark.parametrize(
    ("link", "binding", "version"),
    [
        ('camunda:formRef="request_review" camunda:formRefBinding="latest"', "latest", 2),
        ('camunda:formRef="request_review"', "latest", 2),
        ('camunda:formRef="request_review" camunda:formRefBinding="deployment"', "deployment", 1),
        (
            'camunda:formRef="request_review" camunda:formRefBinding="version" camunda:formRefVersion="1"',
            "version",
            1,
        ),
        ('camunda:formKey="camunda-forms:deployment:request_review.form"', "deployment", 1),
        ('camunda:formKey="camunda-forms:app:forms/request_review.form"', "latest", 2),
    ],
)
def test_each_binding_picks_its_version(engine: Engine, link: str, binding: str, version: int) -> None:
    bpmn = BPMN.replace('camunda:formKey="camunda-forms:app:forms/request_review.form"', link)
    [definition] = engine.deploy(files(bpmn)).definitions
    # A later deployment changes the form only: "latest" sees version 2, the others keep version 1.
    engine.deploy([with_text("forms/request_review.form", REVIEW.replace("审核结论", "审核意见"))])
    instance_id = engine.start("visit_request", variables=GOOD_START).instance_id
    task = only_task(engine, instance_id, "Activity_review")
    assert (task.form_ref, task.form_version) == ("request_review", version)
    assert engine.form_link(definition.id, "Activity_review") == {
        "key": "request_review",
        "binding": binding,
        "version": 1 if binding == "version" else None,
    }


@pytest.mark.parametrize(
    ("link", "words"),
    [
        ('camunda:formKey="embedded:app:forms/review.html"', "不支持表单链接"),
        ('camunda:formKey="app:review.html"', "不支持表单链接"),
        ('camunda:formKey="camunda-forms:deployment:missing.form"', "missing.form"),
        ('camunda:formKey="camunda-forms:app:forms/review.html"', ".form"),
        ('camunda:formRef="request_review" camunda:formRefBinding="tenant"', "formRefBinding"),
        ('camunda:formRef="request_review" camunda:formRefBinding="version"', "formRefVersion"),
        ('camunda:formRef="request_review" camunda:formKey="x"', "只能写一个"),
        ('camunda:formRef="${form}"', "表达式"),
        ('camunda:formRef="nowhere"', "nowhere"),
    ],
)
def test_a_link_that_cannot_work_is_refused_naming_the_task(engine: Engine, link: str, words: str) -> None:
    bpmn = BPMN.replace('camunda:formKey="camunda-forms:app:forms/request_review.form"', link)
    [problem] = problems_of(engine, files(bpmn))
    assert problem["element"] == "Activity_review"
    assert words in problem["message"]
    assert engine.validate(files(bpmn))[0].to_dict() == problem


def test_two_forms_with_the_same_id_in_one_deployment_are_refused(engine: Engine) -> None:
    twin = with_text("other/request_review.form", REVIEW)
    [problem] = problems_of(engine, [*files(), twin])
    assert problem["file"] == "other/request_review.form" and "request_review" in problem["message"]


DECIDE = BPMN.replace(
    '<bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_review" targetRef="Event_end" />',
    '<bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_review" targetRef="gw" />'
    '<bpmn:exclusiveGateway id="gw" name="同意？" default="Flow_no" />'
    '<bpmn:sequenceFlow id="Flow_yes" name="同意" sourceRef="gw" targetRef="Event_end">'
    "<bpmn:conditionExpression>${decision == 'approve'}</bpmn:conditionExpression></bpmn:sequenceFlow>"
    '<bpmn:sequenceFlow id="Flow_no" name="不同意" sourceRef="gw" targetRef="Event_rejected" />'
    '<bpmn:endEvent id="Event_rejected" name="不予同意" />',
)


def test_a_dry_run_walks_each_path_with_the_forms_example_data_and_stores_nothing(engine: Engine) -> None:
    from engine import policy, services

    [definition] = engine.deploy(files(DECIDE)).definitions
    walked = services.dry_run(engine, policy.operator(None), definition.id)
    assert walked["complete"] is True
    assert sorted(
        (p["outcome"], p["stoppedAt"], [s["element"] for s in p["steps"]]) for p in walked["paths"]
    ) == [
        ("completed", "Event_end", ["Activity_review"]),
        ("completed", "Event_rejected", ["Activity_review"]),
    ]
    assert {p["steps"][0]["choice"] for p in walked["paths"]} == {None, "审核结论 = reject"}
    with engine.db.reading() as session:
        from engine.queries import Criteria, instance_count

        assert instance_count(session, Criteria()) == 0


def test_a_dry_run_says_where_a_path_stops(engine: Engine) -> None:
    from engine import policy, services

    waiting = DECIDE.replace(
        '<bpmn:endEvent id="Event_rejected" name="不予同意" />',
        '<bpmn:intermediateCatchEvent id="Event_rejected" name="等待复核"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P30D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:sequenceFlow id="Flow_after" sourceRef="Event_rejected" targetRef="Event_late" />'
        '<bpmn:endEvent id="Event_late" name="复核结束" />',
    )
    [definition] = engine.deploy(files(waiting)).definitions
    walked = services.dry_run(engine, policy.operator(None), definition.id)
    outcomes = {(p["outcome"], p["stoppedAt"]) for p in walked["paths"]}
    assert outcomes == {("completed", "Event_end"), ("waiting", "Event_rejected")}
