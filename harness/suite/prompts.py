"""A suite's prompts: ``prompt:``, ``messages:`` or the labelled variants of ``prompts:``
(inline, or a ``.txt`` / ``.json`` / ``.yaml`` prompt file), templates written
``file://path``, and the template variables every case must give.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pydantic

from harness.errors import SuiteError
from harness.suite import inputs as suite_inputs
from harness.suite import templating
from harness.suite.keys import MessageModel, SuiteModel, pydantic_problem
from harness.suite.model import DEFAULT_PROMPT_ID, PromptVariant
from harness.suite.yamlfile import Fail, Loc, read_yaml


def load_prompts(
    path: Path, m: SuiteModel, fail: Fail, sources: list[Path]
) -> tuple[list[PromptVariant], set[str]]:
    """The suite's prompt variants, file templates read, and the variables their templates
    use. Every file read is appended to ``sources``."""
    variants = [
        # A template written file://path is that file's text (docs/suites.md).
        dataclasses.replace(v, templates=tuple(
            (role, _template_file(path, src, sources, fail,
                                  ("prompts", i) if m.prompts else ("prompt",)))
            for role, src in v.templates
        ))
        for i, v in enumerate(_variants(path, m, fail, sources))
    ]
    needed: set[str] = set()
    for i, variant in enumerate(variants):
        loc: Loc = ("prompts", i) if m.prompts else ("prompt",)
        for _, src in variant.templates:
            try:
                needed |= templating.variables(src)
            except templating.TemplateProblem as exc:
                where = f" (prompt {variant.id!r})" if m.prompts else ""
                raise fail(f"{exc}{where}", "fix the jinja2 template", loc) from None
    return variants, needed


def _template_file(path: Path, src: str, sources: list[Path], fail: Fail, loc: Loc) -> str:
    """A prompt or message written ``file://path`` is that file's text (relative to the
    suite), read as a template."""
    ref = suite_inputs.file_ref(src)
    if ref is None or "\n" in src:
        return src
    template_path = path.parent / ref
    try:
        text = template_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # missing, a directory, unreadable, not UTF-8
        raise fail(f"prompt file not found or not text: {template_path}",
                   "prompt file paths are relative to the suite file", loc) from None
    sources.append(template_path)
    return text


def _variants(path: Path, m: SuiteModel, fail: Fail, sources: list[Path]) -> list[PromptVariant]:
    """The suite's prompt variants: ``prompts:``, or ``prompt:`` / ``messages:`` as the one
    variant labelled ``default``."""
    given = [k for k in ("prompt", "messages", "prompts") if getattr(m, k) is not None]
    if len(given) != 1:
        raise fail(
            "a suite needs exactly one of 'prompt:', 'messages:' or 'prompts:'"
            + (f" (it has {' and '.join(given)})" if given else ""),
            "use prompt: {system: ..., user: ...}, a messages: list, or prompts: [{id: v1, "
            "user: ...}, {id: v2, file: prompts/v2.txt}]",
            (),
        )
    if m.prompt is not None:
        templates = ((("system", m.prompt.system),) if m.prompt.system else ()) + (
            ("user", m.prompt.user),
        )
        return [PromptVariant(DEFAULT_PROMPT_ID, templates, f"{path} prompt:")]
    if m.messages is not None:
        templates = tuple((msg.role, msg.content) for msg in m.messages)
        return [PromptVariant(DEFAULT_PROMPT_ID, templates, f"{path} messages:")]
    assert m.prompts is not None
    out: list[PromptVariant] = []
    for i, v in enumerate(m.prompts):
        loc = ("prompts", i)
        label = str(v.id)
        if not label or any(ch in label for ch in "[]| "):
            raise fail(
                f"prompt id {label!r} is empty or has one of '[', ']', '|', ' '",
                "use letters, digits, '-', '_' or '.' (the id appears in test ids)",
                loc,
            )
        if any(p.id == label for p in out):
            raise fail(f"duplicate prompt id {label!r}", "give each variant a distinct id", loc)
        forms = [
            name
            for name, value in (("user", v.user), ("messages", v.messages), ("file", v.file))
            if value is not None
        ]
        if len(forms) != 1 or (v.system is not None and forms != ["user"]):
            raise fail(
                f"prompt {label!r} needs exactly one of 'user:' (with an optional 'system:'), "
                "'messages:' or 'file:'",
                "give the variant one prompt",
                loc,
            )
        if v.user is not None:
            templates = ((("system", v.system),) if v.system else ()) + (("user", v.user),)
            source = f"{path} prompts[{i}]"
        elif v.messages is not None:
            templates = tuple((msg.role, msg.content) for msg in v.messages)
            source = f"{path} prompts[{i}]"
        else:
            assert v.file is not None
            file_path = path.parent / v.file
            sources.append(file_path)
            templates = _prompt_file(file_path, fail, loc)
            source = str(file_path)
        out.append(PromptVariant(label, templates, source))
    return out


def _prompt_file(file_path: Path, fail: Fail, loc: Loc) -> tuple[tuple[str, str], ...]:
    """A prompt file: ``.txt`` is the user template; ``.json`` / ``.yaml`` chat messages."""
    suffix = file_path.suffix.lower()
    if suffix not in (".txt", ".json", ".yaml", ".yml"):
        raise fail(
            f"unsupported prompt file {file_path.name!r}",
            "use .txt (the user message) or .json / .yaml (a list of {role, content})",
            loc,
        )
    try:
        text = file_path.read_text("utf-8")
    except FileNotFoundError:
        raise fail(
            f"prompt file not found: {file_path}",
            "prompt file paths are relative to the suite file",
            loc,
        ) from None
    except (OSError, UnicodeDecodeError):  # a directory, unreadable, not UTF-8
        raise fail(f"prompt file is a directory or not UTF-8 text: {file_path}",
                   "give a UTF-8 text file", loc) from None
    if suffix == ".txt":
        return (("user", text),)
    if suffix == ".json":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(
                str(file_path), f"not valid JSON: {exc.msg}", "fix the JSON", line=exc.lineno
            ) from None
    else:
        data, _ = read_yaml(file_path)
    fix = 'write a list of messages: [{"role": "system", "content": "..."}, ...]'
    if not isinstance(data, list) or not data:
        raise SuiteError(str(file_path), "a prompt file must hold a list of messages", fix)
    templates = []
    for n, raw in enumerate(data, start=1):
        try:
            msg = MessageModel.model_validate(raw)
        except pydantic.ValidationError as exc:
            problem, _ = pydantic_problem(exc.errors()[0], MessageModel)
            raise SuiteError(str(file_path), f"message {n}: {problem}", fix) from None
        templates.append((msg.role, msg.content))
    return tuple(templates)
