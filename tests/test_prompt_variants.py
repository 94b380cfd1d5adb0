"""Prompt variants (``prompts:``): loading, prompt files, cell expansion, ids, fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import SuiteError
from harness.suite.loader import load_suite

VARIANTS = """\
name: v
targets:
  - openai:gpt-4o-mini
  - {provider: groq, model: llama-3.1-8b-instant, prompts: [v1]}
prompts:
  - id: v1
    system: Be brief.
    user: "Capital of {{ country }}?"
  - id: v2
    file: prompts/v2.txt
  - id: chat
    file: prompts/chat.yaml
cases:
  - id: fr
    vars: {country: France}
    assert: [{type: contains, value: Paris}]
  - id: de
    vars: {country: Germany}
"""


def write(tmp_path: Path, text: str = VARIANTS) -> Path:
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "v2.txt").write_text("Which city is the capital of {{ country }}?")
    (tmp_path / "prompts" / "chat.yaml").write_text(
        "- {role: system, content: You answer geography questions.}\n"
        "- {role: user, content: 'Capital: {{ country }}'}\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_variants_load_from_inline_text_and_files(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path))
    assert [p.id for p in suite.prompts] == ["v1", "v2", "chat"]
    assert suite.prompts[0].templates == (
        ("system", "Be brief."),
        ("user", "Capital of {{ country }}?"),
    )
    assert suite.prompts[1].templates == (
        ("user", "Which city is the capital of {{ country }}?"),
    )
    assert [r for r, _ in suite.prompts[2].templates] == ["system", "user"]
    # The prompt files are sources of the parse: editing one invalidates a cached parse.
    assert tmp_path / "prompts" / "v2.txt" in suite.sources


def test_cells_are_case_x_prompt_x_target_and_a_target_may_restrict_variants(
    tmp_path: Path,
) -> None:
    cells = load_suite(write(tmp_path)).cells()
    names = [c.name for c in cells if c.case.id == "fr"]
    assert names == [
        "fr[v1|openai:gpt-4o-mini-tdefault-r0]",
        "fr[v1|groq:llama-3.1-8b-instant-tdefault-r0]",
        "fr[v2|openai:gpt-4o-mini-tdefault-r0]",
        "fr[chat|openai:gpt-4o-mini-tdefault-r0]",
    ]
    fr_v2 = next(c for c in cells if c.case.id == "fr" and c.prompt_id == "v2")
    assert [m.content for m in fr_v2.messages] == ["Which city is the capital of France?"]


def test_fingerprints_split_test_from_prompt(tmp_path: Path) -> None:
    cells = load_suite(write(tmp_path)).cells()
    fr = [c for c in cells if c.case.id == "fr" and c.target.provider == "openai"]
    # Same case, different prompts: the same test, a different prompt.
    assert len({c.test_fingerprint for c in fr}) == 1
    assert len({c.prompt_fingerprint for c in fr}) == 3
    de = next(c for c in cells if c.case.id == "de")
    assert de.test_fingerprint != fr[0].test_fingerprint  # other vars and assertions


def test_edited_assertion_changes_only_that_cases_test_fingerprint(tmp_path: Path) -> None:
    before = {(c.case.id, c.prompt_id, c.target.id): c for c in load_suite(write(tmp_path)).cells()}
    write(tmp_path, VARIANTS.replace("value: Paris", "value: paris"))
    after = load_suite(tmp_path / "s.yaml").cells()
    changed = {
        c.case.id
        for c in after
        if c.test_fingerprint != before[(c.case.id, c.prompt_id, c.target.id)].test_fingerprint
    }
    assert changed == {"fr"}
    assert all(
        c.prompt_fingerprint == before[(c.case.id, c.prompt_id, c.target.id)].prompt_fingerprint
        for c in after
    )


def test_one_prompt_suite_is_the_default_variant_and_keeps_its_ids(tmp_path: Path) -> None:
    text = VARIANTS.split("prompts:\n")[0].replace(", prompts: [v1]", "")
    text += 'prompt: {user: "Capital of {{ country }}?"}\ncases: [{id: fr, vars: {country: F}}]\n'
    cells = load_suite(write(tmp_path, text)).cells()
    assert [c.prompt_id for c in cells] == ["default", "default"]
    assert cells[0].name == "fr[openai:gpt-4o-mini-tdefault-r0]"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (("file: prompts/v2.txt", "file: prompts/nope.txt"), "prompt file not found"),
        (("file: prompts/v2.txt", "file: prompts/v2.md"), "unsupported prompt file 'v2.md'"),
        (("id: v2", "id: v1"), "duplicate prompt id 'v1'"),
        (("id: v2", "id: 'v 2'"), "prompt id 'v 2' is empty or has one of"),
        (("prompts: [v1]", "prompts: [v9]"), "names unknown prompt variant(s) ['v9']"),
        (("    file: prompts/v2.txt", "    file: prompts/v2.txt\n    user: hi"), "exactly one of"),
        (("name: v\n", "name: v\nprompt: {user: x}\n"), "(it has prompt and prompts)"),
    ],
)
def test_bad_variants_name_the_file_line_and_fix(
    tmp_path: Path, edit: tuple[str, str], problem: str
) -> None:
    path = write(tmp_path, VARIANTS.replace(*edit))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    text = str(info.value)
    assert problem in text
    assert str(path) in text and "fix:" in text.lower()


def test_prompts_written_as_one_mapping_says_use_a_list_or_prompt(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("targets: [openai:gpt-4o-mini]\nprompts:\n  user: hi\ncases: [{id: a}]\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{path}:2: 'prompts:' is a list of labelled variants")
    assert "or 'prompt:' for a single prompt" in str(info.value)


def test_bad_message_file_names_that_file(tmp_path: Path) -> None:
    path = write(tmp_path, VARIANTS.replace("chat.yaml", "chat.json"))
    (tmp_path / "prompts" / "chat.json").write_text(json.dumps([{"role": "robot", "content": "x"}]))
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert "chat.json" in str(info.value) and "message 1" in str(info.value)


def test_missing_variable_in_one_variant_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path)
    (tmp_path / "prompts" / "v2.txt").write_text("Capital of {{ land }}?")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert "lacks template variable(s) ['land']" in str(info.value)
