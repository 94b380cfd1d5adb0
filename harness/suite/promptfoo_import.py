"""``llm-harness import promptfoo PATH [--out DIR]``: a promptfooconfig.yaml as a suite.

Writes ``evals/<name>.yaml`` (and copies CSV test files to ``datasets/``) under DIR
(default: the current folder) and prints, per item, what it could not convert: a JavaScript
assertion, an unsupported provider, a config key with no equivalent. Nothing is dropped
silently: an item that cannot be converted whole is left out and listed, never converted
half-way (an assertion whose transform is JavaScript would check the wrong text).

The config is read with ``yaml.safe_load`` (data, never code); nothing it names is run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.scoring import SCORERS
from harness.scoring.rubric import MODEL_GRADED

EXIT_USAGE = 2

#: promptfoo assertion types that are ours under the same name.
SAME = {
    "equals", "contains", "icontains", "contains-all", "contains-any", "icontains-all",
    "icontains-any", "regex", "starts-with", "is-json", "contains-json", "levenshtein",
    "llm-rubric", "factuality", "model-graded-closedqa", "similar", "finish-reason",
    "rouge-n", "bleu", "is-xml", "context-faithfulness", "context-relevance",
    "context-recall", "answer-relevance",
}
#: Keys of a promptfoo assertion we carry over as they are.
ASSERT_KEYS = ("value", "weight", "metric")
#: promptfoo provider prefix -> ours; the model id follows the last ':' of known forms.
PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "groq": "groq", "mistral": "mistral"}
#: Top-level keys handled below; any other is reported.
HANDLED = {"description", "prompts", "providers", "targets", "tests", "defaultTest"}


class Importer:
    def __init__(self, config_path: Path, out: Path) -> None:
        self.path = config_path
        self.base = config_path.parent
        self.out = out
        self.notes: list[str] = []

    def note(self, where: str, text: str) -> None:
        self.notes.append(f"{where}: {text}")

    # -- prompts ----------------------------------------------------------------------

    def prompt(self, raw: Any) -> dict[str, Any] | None:
        prompts = raw if isinstance(raw, list) else [raw] if raw is not None else []
        if not prompts:
            self.note("prompts", "none given; wrote prompt: {user: '{{ prompt }}'}")
            return {"prompt": {"user": "{{ prompt }}"}}
        if len(prompts) == 1:
            one = self.one_prompt(prompts[0], "prompts[0]")
            if one is None:
                return None
            return {"messages": one["messages"]} if "messages" in one else {"prompt": one}
        # Several prompts compared: one labelled variant each (docs/suites.md, prompts:).
        variants = []
        for i, item in enumerate(prompts):
            one = self.one_prompt(item, f"prompts[{i}]")
            if one is not None:
                label = item.get("label") if isinstance(item, dict) else None
                variants.append({"id": _slug(str(label)) if label else f"p{i + 1}", **one})
        if not variants:
            return None
        ids = [v["id"] for v in variants]
        if len(set(ids)) != len(ids):  # labels that slug alike: number them instead
            for i, v in enumerate(variants):
                v["id"] = f"p{i + 1}"
        return {"prompts": variants} if len(variants) > 1 else self._single(variants[0])

    @staticmethod
    def _single(variant: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in variant.items() if k != "id"}
        return {"messages": body["messages"]} if "messages" in body else {"prompt": body}

    def one_prompt(self, first: Any, where: str) -> dict[str, Any] | None:
        """One promptfoo prompt as ``{user: ...}`` or ``{messages: [...]}``; None (listed)
        when it cannot be converted."""
        if isinstance(first, dict):
            first = first.get("raw", first.get("id"))
        if not isinstance(first, str):
            self.note(where, f"not converted: {first!r}")
            return None
        if first.startswith("file://"):
            path = self.base / first[len("file://"):]
            if path.suffix in (".py", ".js", ".ts"):
                self.note(where, f"a prompt function ({path.name}) is code: not converted")
                return None
            try:
                text = path.read_text("utf-8")
            except OSError as exc:
                self.note(where, f"cannot read {path}: {exc}")
                return None
            if path.suffix in (".json", ".yaml", ".yml"):
                chat = yaml.safe_load(text)
                if isinstance(chat, list) and all(isinstance(m, dict) for m in chat):
                    return {"messages": [{"role": m.get("role"), "content": m.get("content")}
                                         for m in chat]}
            first = text
        chat = _chat_json(first)
        if chat is not None:
            return {"messages": chat}
        return {"user": first}

    # -- providers ----------------------------------------------------------------------

    def target(self, raw: Any, i: int, where: str | None = None) -> Any:
        where = where or f"providers[{i}]"
        config: dict[str, Any] = {}
        label = None
        if isinstance(raw, dict):
            ident = raw.get("id")
            label = raw.get("label")
            config = dict(raw.get("config") or {})
            extra = set(raw) - {"id", "label", "config"}
            if extra:
                self.note(where, f"keys not converted: {sorted(extra)}")
        else:
            ident = raw
        if not isinstance(ident, str):
            self.note(where, f"not converted: {raw!r}")
            return None
        parts = ident.split(":")
        name = parts[0]
        model = parts[-1] if len(parts) > 1 else ""
        mapping: dict[str, Any]
        if name in PROVIDERS and model:
            mapping = {"provider": PROVIDERS[name], "model": model}
        elif name == "ollama" and model:
            mapping = {"provider": "openai-compatible", "model": model,
                       "base_url": "http://127.0.0.1:11434/v1"}
            self.note(where, "ollama converted to openai-compatible at its default "
                      "http://127.0.0.1:11434/v1")
        else:
            self.note(where, f"provider {ident!r} has no equivalent: not converted")
            return None
        if label:
            mapping["id"] = str(label)
        if "temperature" in config:
            mapping["temperatures"] = [config.pop("temperature")]
        for ours, theirs in (("max_tokens", "max_tokens"), ("tools", "tools"),
                             ("tool_choice", "tool_choice")):
            if theirs in config:
                mapping[ours] = config.pop(theirs)
        if isinstance(mapping.get("tool_choice"), dict):
            fn = mapping["tool_choice"].get("function", {})
            mapping["tool_choice"] = fn.get("name") or mapping["tool_choice"].get("name")
        if config:
            self.note(where, f"config keys not converted: {sorted(config)}")
        if set(mapping) <= {"provider", "model"}:
            return f"{mapping['provider']}:{mapping['model']}"
        return mapping

    # -- assertions -----------------------------------------------------------------------

    def assertion(self, raw: Any, where: str) -> dict[str, Any] | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            self.note(where, f"not an assertion: {raw!r}")
            return None
        kind = raw["type"]
        negate = kind.startswith("not-")
        base = kind[4:] if negate else kind
        spec: dict[str, Any] = {}
        if base == "assert-set":
            return self.assert_set(raw, where)
        extra = set(raw) - {"type", *ASSERT_KEYS, "threshold", "provider", "transform"}
        if extra:
            self.note(where, f"{kind}: keys {sorted(extra)} have no equivalent: not converted")
            return None
        if "transform" in raw:
            self.note(where, f"{kind}: its transform is JavaScript "
                      f"({str(raw['transform'])[:60]!r}): not converted; rewrite it as a "
                      "Python transform: (docs/suites.md)")
            return None
        value = raw.get("value")
        if base in SAME:
            spec = {"type": kind, **{k: raw[k] for k in ASSERT_KEYS if k in raw}}
            if "threshold" in raw:
                spec["threshold"] = raw["threshold"]
            if base == "is-xml" and isinstance(value, dict):
                elements = value.get("requiredElements")
                if set(value) != {"requiredElements"} or not isinstance(elements, list):
                    self.note(where, f"{kind}: value {value!r}: not converted")
                    return None
                spec["value"] = elements
            if "provider" in raw:
                if base not in MODEL_GRADED:
                    self.note(where, f"{kind}: 'provider' only applies to graders: dropped it")
                elif isinstance(raw["provider"], str):
                    spec["provider"] = self.judge(raw["provider"], where)
            if isinstance(value, str) and value.startswith("file://") and base in (
                    "is-json", "contains-json"):
                spec["value"] = value[len("file://"):]
        elif base in ("latency", "cost"):
            limit = raw.get("threshold")
            if limit is None:
                self.note(where, f"{kind}: no threshold: not converted")
                return None
            spec = {"type": kind, ("max_ms" if base == "latency" else "max_usd"): limit}
            spec.update({k: raw[k] for k in ("weight", "metric") if k in raw})
        elif base == "is-sql":
            spec = {"type": kind, **{k: raw[k] for k in ("weight", "metric") if k in raw}}
            known = {"databaseType": "dialect", "allowedTables": "tables",
                     "allowedColumns": "columns"}
            if value is not None and (not isinstance(value, dict) or set(value) - set(known)):
                self.note(where, f"{kind}: value {value!r}: not converted")
                return None
            for theirs, ours in known.items():
                if value and theirs in value:
                    got = value[theirs]
                    # promptfoo whitelists read "select::null::orders": the name is last.
                    spec[ours] = (got if ours == "dialect"
                                  else [str(x).split("::")[-1] for x in got])
        elif base == "python" and isinstance(value, str):
            if value.startswith("file://"):
                ref = value[len("file://"):]
                spec = {"type": kind, "value": ref if ":" in ref else f"{ref}:get_assert"}
                self.note(where, f"{kind}: {ref} must define fn(output, ctx) (ours) rather "
                          "than get_assert(output, context): check its signature")
            elif "\n" not in value.strip() and "return" not in value:
                spec = {"type": "not-expression" if negate else "expression", "value": value}
            else:
                self.note(where, f"{kind}: multi-line Python: not converted; move it to a "
                          "file.py:function and use type: python")
                return None
            spec.update({k: raw[k] for k in ("weight", "metric", "threshold") if k in raw})
        elif base == "javascript":
            self.note(where, f"javascript assertion {str(value)[:70]!r}: not converted; "
                      "write it as an expression, json-path or length assertion")
            return None
        else:
            self.note(where, f"assertion type {kind!r} has no equivalent: not converted")
            return None
        if spec["type"].removeprefix("not-") not in SCORERS:  # pragma: no cover - table bug
            self.note(where, f"{kind}: not converted")
            return None
        return spec

    def assert_set(self, raw: dict[str, Any], where: str) -> dict[str, Any] | None:
        """An assert-set, whole or not at all (a group missing a member would pass what the
        config fails)."""
        extra = set(raw) - {"type", "assert", "threshold", "weight", "metric"}
        if extra:
            self.note(where, f"assert-set: keys {sorted(extra)} have no equivalent: not "
                      "converted")
            return None
        before = len(self.notes)
        inner = [self.assertion(s, f"{where}.assert[{i}]")
                 for i, s in enumerate(raw.get("assert") or [])]
        if len(self.notes) > before or not inner or any(s is None for s in inner):
            self.note(where, "assert-set: not converted, as not every assertion in it was")
            return None
        spec = {"type": raw["type"], "assert": inner}
        spec.update({k: raw[k] for k in ("threshold", "weight", "metric") if k in raw})
        return spec

    def judge(self, raw: Any, where: str) -> str | None:
        target = self.target(raw, 0) if raw is not None else None
        if isinstance(target, dict):
            target = f"{target['provider']}:{target['model']}"
        if target is None:
            self.note(where, f"grader {raw!r} not converted")
        return target

    def assertions(self, raw: Any, where: str) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(raw or []):
            spec = self.assertion(item, f"{where}.assert[{i}]")
            if spec is not None:
                out.append(spec)
        return out

    # -- tests ------------------------------------------------------------------------------

    def tests(self, raw: Any, suite: dict[str, Any], name: str) -> list[dict[str, Any]]:
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        cases: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            where = f"tests[{i}]"
            if isinstance(item, str) and item.startswith("file://"):
                cases.extend(self.test_file(item[len("file://"):], suite, name, where))
                continue
            if not isinstance(item, dict):
                self.note(where, f"not converted: {item!r}")
                continue
            cases.append(self.case(item, where, i))
        return cases

    def case(self, item: dict[str, Any], where: str, i: int) -> dict[str, Any]:
        case: dict[str, Any] = {"id": _slug(item.get("description") or f"case-{i + 1}")}
        if item.get("description"):
            case["description"] = item["description"]
        if item.get("vars"):
            case["vars"] = item["vars"]
        asserts = self.assertions(item.get("assert"), where)
        if asserts:
            case["assert"] = asserts
        if "threshold" in item:
            case["threshold"] = item["threshold"]
        if item.get("metadata"):
            case["metadata"] = item["metadata"]
        if item.get("provider") is not None:
            # promptfoo's per-test provider: the case runs on that target alone.
            target = self.target(item["provider"], 0, f"{where}.provider")
            if isinstance(target, str):
                case["targets"] = [target]
            else:
                self.note(f"{where}.provider", f"{item['provider']!r} not converted (a case "
                          "names a target as provider:model, without settings)")
        extra = set(item) - {"description", "vars", "assert", "threshold", "metadata",
                             "options", "provider"}
        options = item.get("options") or {}
        if options:
            extra |= {f"options.{k}" for k in options}
        if extra:
            self.note(where, f"keys not converted: {sorted(extra)}")
        return case

    def test_file(self, ref: str, suite: dict[str, Any], name: str,
                  where: str) -> list[dict[str, Any]]:
        path = self.base / ref
        if path.suffix.lower() == ".csv":
            target = self.out / "datasets" / f"{name}-{path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, target)
            except OSError as exc:
                self.note(where, f"cannot read {path}: {exc}")
                return []
            datasets = suite.setdefault("dataset", [])
            datasets.append(f"../datasets/{target.name}")
            return []
        if path.suffix.lower() in (".yaml", ".yml", ".json", ".jsonl"):
            if path.suffix.lower() == ".jsonl":
                self.note(where, f"{ref}: JSONL tests read as YAML lines may fail: check them")
            try:
                data = yaml.safe_load(path.read_text("utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                self.note(where, f"cannot read {path}: {exc}")
                return []
            if not isinstance(data, list):
                self.note(where, f"{path} is not a list of tests: not converted")
                return []
            return [self.case(t, f"{ref}[{j}]", j) for j, t in enumerate(data)
                    if isinstance(t, dict)]
        self.note(where, f"test file {ref} ({path.suffix}) not converted")
        return []

    # -- the whole config ------------------------------------------------------------------

    def convert(self) -> tuple[str, dict[str, Any]]:
        data = yaml.safe_load(self.path.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{self.path}: not a promptfoo config (a YAML mapping)")
        name = _slug(str(data.get("description") or self.path.parent.name or "imported"))
        suite: dict[str, Any] = {"name": name}
        if data.get("description"):
            suite["description"] = str(data["description"])
        providers = data.get("providers", data.get("targets")) or []
        providers = providers if isinstance(providers, list) else [providers]
        converted = [self.target(raw, i) for i, raw in enumerate(providers)]
        targets = [t for t in converted if t is not None]
        if not targets:
            self.note("providers", "no convertible provider: wrote openai:gpt-4o-mini")
            targets = ["openai:gpt-4o-mini"]
        suite["targets"] = targets
        # promptfoo leaves temperature to the provider; null keeps that.
        suite["temperatures"] = [None]
        suite.update(self.prompt(data.get("prompts")) or {"prompt": {"user": "{{ prompt }}"}})
        default = data.get("defaultTest") or {}
        if isinstance(default, dict):
            options = default.get("options") or {}
            if options.get("provider") is not None:
                judge = self.judge(options["provider"], "defaultTest.options.provider")
                if judge:
                    suite["judge"] = judge
            for key in set(options) - {"provider"}:
                self.note("defaultTest.options", f"{key} not converted")
            asserts = self.assertions(default.get("assert"), "defaultTest")
            if asserts:
                suite["assert"] = asserts
            if "threshold" in default:
                suite["threshold"] = default["threshold"]
            extra = set(default) - {"options", "assert", "threshold", "vars"}
            if extra:
                self.note("defaultTest", f"keys not converted: {sorted(extra)}")
        default_vars = default.get("vars") if isinstance(default, dict) else None
        if default_vars:
            suite["vars"] = default_vars
        cases = self.tests(data.get("tests"), suite, name)
        seen: dict[str, int] = {}
        for case in cases:
            n = seen.get(case["id"], 0)
            seen[case["id"]] = n + 1
            if n:
                case["id"] = f"{case['id']}-{n + 1}"
        if cases:
            suite["cases"] = cases
        for key in sorted(set(data) - HANDLED):
            self.note(key, "no equivalent: not converted")
        return name, suite


def _chat_json(text: str) -> list[dict[str, Any]] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        chat = yaml.safe_load(stripped)
    except yaml.YAMLError:
        return None
    if isinstance(chat, list) and chat and all(
        isinstance(m, dict) and set(m) <= {"role", "content"} for m in chat
    ):
        return [{"role": m["role"], "content": m["content"]} for m in chat]
    return None


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:60] or "case"


def import_promptfoo(config: Path, out: Path) -> tuple[Path, list[str]]:
    """Convert ``config``; returns the suite written and what was not converted."""
    importer = Importer(config, out)
    name, suite = importer.convert()
    path = out / "evals" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Imported from {config} by llm-harness import promptfoo.\n"
    path.write_text(header + yaml.safe_dump(suite, sort_keys=False, allow_unicode=True))
    return path, importer.notes


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness import",
        description="Convert another tool's eval config into a suite. Prints what it could "
        "not convert.",
    )
    parser.add_argument("tool", choices=["promptfoo"])
    parser.add_argument("config", type=Path, help="promptfooconfig.yaml")
    parser.add_argument("--out", type=Path, default=Path("."),
                        help="folder that gets evals/ and datasets/ (default: here)")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        print(f"llm-harness import: {args.config}: file not found", file=sys.stderr)
        return EXIT_USAGE
    try:
        path, notes = import_promptfoo(args.config, args.out)
    except (ValueError, yaml.YAMLError) as exc:
        print(f"llm-harness import: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}")
    if notes:
        print(f"not converted ({len(notes)}):")
        for line in notes:
            print(f"  {line}")
    else:
        print("everything converted")
    return 0
