"""The failures a user of the engine can cause, one type each.

Each carries a stable machine-readable ``code``, a ``message`` and ``details``; the web layer maps the type to
one HTTP status, so nothing here knows about HTTP. What a caller is told is Chinese: a message the raising code
wrote in Chinese as it stands, any other by its code (``CHINESE``), sharpened by the details where one code covers
several cases. The code stays English: clients and tests key on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

HAN = re.compile(r"[\u4e00-\u9fff]")

# What an official reads for each stable code when the raising code wrote no Chinese of its own.
CHINESE: dict[str, str] = {
    "error": "操作未能完成",
    "not_found": "未找到所请求的对象",
    "invalid_input": "请求的格式或选项不正确",
    "validation_failed": "提交的数据未通过校验",
    "deployment_invalid": "流程图或表单有问题，未部署",
    "conflict": "与当前状态冲突，请刷新后重试",
    "forbidden": "您的角色或所在单位不能执行此操作",
    "invalid_state": "案件当前状态下不能执行此操作",
    "process_error": "流程运行出错，案件未作任何改变",
    "file_refused": "文件类型不在允许范围内，已拒收",
    "unauthorized": "请先登录",
    "cross_site_request": "请求不是从本系统页面发出的，已拒绝",
    "too_many_attempts": "尝试次数过多，请稍后再试",
}

STATE_NAMES = {"active": "办理中", "suspended": "已挂起", "completed": "已办结", "cancelled": "已撤销"}
# What a detail names, for "没有任务 …" and its kin.
THINGS = {
    "task": "任务",
    "petition": "信访事项",
    "instance": "流程实例",
    "document": "文书",
    "form": "表单",
    "key": "流程",
    "username": "用户",
    "user": "用户",
    "message": "短信",
    "notification": "通知",
}


def _not_found(details: dict[str, Any]) -> str | None:
    found = next((key for key in THINGS if details.get(key) not in (None, "")), None)
    return f"没有{THINGS[found]} {details[found]}" if found else None


def _fields(details: dict[str, Any]) -> str | None:
    # The count only: the field keys are variable names, for clients in details.fields, not for the reader.
    fields = details.get("fields")
    return f"{len(fields)} 项填写有误，请按各项提示修改" if isinstance(fields, dict) and fields else None


def _conflict(details: dict[str, Any]) -> str | None:
    if details.get("assignee"):
        return f"任务已由 {details['assignee']} 认领"
    if "assignee" in details:
        return "请先认领此任务"  # the task is nobody's yet
    if details.get("instance"):
        return "该案件刚被他人更新，请刷新后重试"
    if details.get("task"):
        return "任务已办结或已撤销"
    return None


def _invalid_state(details: dict[str, Any]) -> str | None:
    if details.get("definitions"):
        return f"已有 {details.get('instances', 0)} 个案件按此版本启动，不能删除"
    state = details.get("state")
    return f"案件{STATE_NAMES.get(state, state)}，不能执行此操作" if state else None


SHARPER: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "not_found": _not_found,
    "invalid_input": _fields,
    "validation_failed": _fields,
    "deployment_invalid": lambda d: (
        f"发现 {len(d['problems'])} 个问题，未部署" if d.get("problems") else None
    ),
    "conflict": _conflict,
    "invalid_state": _invalid_state,
    "forbidden": lambda d: "此任务不属于本人或所在单位" if d.get("task") else None,
    "file_refused": lambda d: "文件超过大小上限" if d.get("reason") == "size" else None,
}


def chinese_message(code: str, message: str, details: dict[str, Any]) -> str:
    """``message`` when it is Chinese already, else what ``code`` (and the details) say in Chinese."""
    if HAN.search(message):
        return message
    sharper = SHARPER.get(code)
    said = sharper(details) if sharper else None
    return said or CHINESE.get(code) or CHINESE["error"]


class PetitionflowError(Exception):
    """Base of every error a caller can cause and be told about."""

    code = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": chinese_message(self.code, self.message, self.details),
            "details": self.details,
        }


class NotFound(PetitionflowError):
    code = "not_found"


class InvalidInput(PetitionflowError):
    """The request itself is malformed (bad variable, unknown option)."""

    code = "invalid_input"


class ValidationFailed(PetitionflowError):
    """A form submission broke its form's rules; details map each field key to its messages."""

    code = "validation_failed"


class DeploymentInvalid(PetitionflowError):
    """A deployment was refused; details['problems'] lists every problem with file, line and element."""

    code = "deployment_invalid"


class Conflict(PetitionflowError):
    """The state changed under the caller: the task was completed, claimed or the instance moved on."""

    code = "conflict"


class Forbidden(PetitionflowError):
    code = "forbidden"


class InvalidState(PetitionflowError):
    """The command does not apply in the instance's current state (suspended, ended)."""

    code = "invalid_state"


class ProcessError(PetitionflowError):
    """The diagram itself failed while running (an expression raised); the instance is left unchanged."""

    code = "process_error"


class FileRefused(PetitionflowError):
    """An upload was refused for what its bytes are (type sniffed from the content, never the name) or its size;
    details name the file, the type found and why."""

    code = "file_refused"
