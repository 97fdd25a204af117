"""How a user task or a start event links its Camunda Form, in every way Camunda 7 Modeler writes the link.

- ``camunda:formRef="<form id>"`` with ``camunda:formRefBinding`` ``latest`` (also when missing),
  ``deployment`` (the version deployed with the diagram) or ``version`` with ``camunda:formRefVersion``;
- ``camunda:formKey="camunda-forms:deployment:PATH.form"``: the form file of that name in the same deployment;
- ``camunda:formKey="camunda-forms:app:PATH.form"``: the form file of that name (in Camunda, a file of the web
  application; here, the form deployed under that file name, its newest version).

Both come down to one :class:`FormLink` (form key, binding, version), which deploy writes into the task spec's
extensions, so running instances read one shape. Everything else (embedded and external forms, generated
forms) is refused at deploy, in words a designer reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BINDINGS = ("latest", "deployment", "version")
FORM_KEY_PREFIXES = {"camunda-forms:deployment:": "deployment", "camunda-forms:app:": "latest"}


@dataclass(frozen=True)
class FormLink:
    """The form a task shows: its key, how its version is chosen, and the version when fixed."""

    key: str
    binding: str
    version: int | None = None

    def extensions(self) -> dict[str, Any]:
        """What the task spec carries (the attributes a formRef would have written)."""
        out: dict[str, Any] = {"formRef": self.key, "formRefBinding": self.binding}
        if self.version is not None:
            out["formRefVersion"] = str(self.version)
        return out


class FormLinkRefused(ValueError):
    """A link that names no usable form; the message says what to write instead (in Chinese)."""


def form_file_key(name: str) -> str:
    """The key a form file deployed without an ``id`` takes: its file name without ``.form``."""
    return PurePosixPath(name.replace("\\", "/")).stem


def read_link(
    element: Any,
    *,
    forms_here: Mapping[str, str],
    forms_deployed: Mapping[str, str],
    known_keys: set[str],
) -> FormLink | None:
    """The form ``element`` links, or None. ``forms_here`` and ``forms_deployed`` map a form's file name to its
    key (this deployment's files; files deployed before); ``known_keys`` are every form key either holds.

    Raises :class:`FormLinkRefused` for a link that cannot work."""
    ref = element.get(f"{{{CAMUNDA_NS}}}formRef")
    form_key = element.get(f"{{{CAMUNDA_NS}}}formKey")
    binding = element.get(f"{{{CAMUNDA_NS}}}formRefBinding")
    version = element.get(f"{{{CAMUNDA_NS}}}formRefVersion")
    if ref is not None and form_key is not None:
        raise FormLinkRefused(
            "camunda:formRef 与 camunda:formKey 只能写一个：请在 Camunda Modeler 中只保留 Camunda Forms 链接"
        )
    if ref is not None:
        return _form_ref(ref, binding, version, known_keys)
    if form_key is None:
        if binding is not None or version is not None:
            raise FormLinkRefused(
                "写了 camunda:formRefBinding 却没有 camunda:formRef：请填写表单编号（表单的 id）"
            )
        return None
    for prefix, how in FORM_KEY_PREFIXES.items():
        if form_key.startswith(prefix):
            name = PurePosixPath(form_key[len(prefix) :].replace("\\", "/")).name
            if not name.endswith(".form"):
                raise FormLinkRefused(
                    f"camunda:formKey “{form_key}”应指向 .form 文件，例如 {prefix}forms/登记.form"
                )
            found = forms_here.get(name)
            if found is None and how == "latest":
                found = forms_deployed.get(name)
            if found is None:
                where = "本次部署中" if how == "deployment" else "本次部署和已部署的表单中"
                raise FormLinkRefused(
                    f"camunda:formKey “{form_key}”：{where}没有名为 {name} 的表单文件，请把它一起部署"
                )
            return FormLink(found, how)
    raise FormLinkRefused(
        f"不支持表单链接 camunda:formKey “{form_key}”（嵌入式、外部或生成的表单）：请在 Camunda Modeler 中把表单类型改为"
        "“Camunda Forms”并填写表单编号（camunda:formRef），或写 camunda-forms:deployment:文件名.form"
    )


def _form_ref(ref: str, binding: str | None, version: str | None, known_keys: set[str]) -> FormLink:
    if not ref.strip() or "${" in ref or "#{" in ref:
        raise FormLinkRefused(f"camunda:formRef “{ref}”应是表单编号（表单的 id），不支持表达式")
    binding = binding or "latest"
    if binding not in BINDINGS:
        raise FormLinkRefused(
            f"camunda:formRefBinding “{binding}”无效：只能是 latest（最新版本）、deployment（同一部署）或 version（指定版本）"
        )
    number: int | None = None
    if binding == "version":
        if version is None or not version.strip().isdigit() or int(version) < 1:
            raise FormLinkRefused(
                f"camunda:formRefBinding=“version” 需要 camunda:formRefVersion 写正整数版本号（现为“{version or ''}”），不支持表达式"
            )
        number = int(version)
    elif version is not None:
        raise FormLinkRefused("camunda:formRefVersion 只与 camunda:formRefBinding=“version” 一起使用")
    if ref not in known_keys:
        raise FormLinkRefused(f"camunda:formRef 指向的表单“{ref}”既未部署，也不在本次部署中")
    return FormLink(ref, binding, number)
