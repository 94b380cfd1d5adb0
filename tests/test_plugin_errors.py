"""Plugin behaviour on bad input: one clear message, no traceback wall, no silent skip."""

from __future__ import annotations

import pytest

SUITE = """\
name: tiny
targets: [openai:gpt-4o-mini]
prompt:
  user: "Say {{ word }}"
cases:
  - id: one
    vars: {word: hi}
    assert:
      - {type: contains, value: hi}
"""


def test_malformed_suite_is_one_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/bad": SUITE.replace("prompt:", "promt:")})
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*evals/bad.yaml:3: unknown key 'promt'*", "*fix: *"])
    assert "Traceback" not in result.stdout.str()


def test_template_variable_missing_from_case(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/t": SUITE.replace("{{ word }}", "{{ wrd }}")})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["evals/t.yaml:6: case 'one' lacks template variable(s) [[]'wrd'[]]"]
    )


def test_bad_option_value_names_valid_values(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/ok": SUITE})
    result = pytester.runpytest("--llm-cache=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--llm-cache*invalid cache mode 'sometimes'*use, refresh, replay, off*"]
    )


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/ok": SUITE})
    pytester.makeini("[pytest]\nllm_concurrency = many\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llm_concurrency*expected a whole number*"])


def test_missing_key_skips_naming_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".yaml", **{"evals/ok": SUITE})
    result = pytester.runpytest("-rs", "--llm-report=false")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*OPENAI_API_KEY is not set; set it to run this target*"])


def test_items_have_readable_ids_and_provider_markers(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "evals/ok": SUITE.replace(
                "targets: [openai:gpt-4o-mini]",
                "targets: [openai:gpt-4o-mini, groq:llama-3.1-8b-instant]",
            ).replace("name: tiny", "name: tiny\ntemperatures: [0.0, 0.7]")
        },
    )
    result = pytester.runpytest("--collect-only", "-q", "-m", "groq")
    result.stdout.fnmatch_lines(
        [
            "evals/ok.yaml::one[[]groq:llama-3.1-8b-instant-t0-r0[]]",
            "evals/ok.yaml::one[[]groq:llama-3.1-8b-instant-t0.7-r0[]]",
            "*2/4 tests collected (2 deselected)*",
        ]
    )


def test_bad_price_file_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", prices="openai:\n  gpt-4o-mini: {input: cheap}\n")
    result = pytester.runpytest("--llm-prices=prices.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-prices*gpt-4o-mini*"])
    assert "Traceback" not in result.stderr.str()


def test_price_file_overrides_the_shipped_table(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        prices="openai:\n  my-finetune: {input: 1.0, output: 2.0, source: contract, date: 2026-11-01}\n",
    )
    pytester.makepyfile(
        """
        def test_prices(request):
            from harness.pytest_plugin import SESSION_KEY
            session = request.config.stash[SESSION_KEY]
            price = session.runner.prices.price_for("openai", "my-finetune")
            assert price is not None and price.input == 1.0 and price.output == 2.0
        """
    )
    pytester.runpytest("--llm-prices=prices.yaml").assert_outcomes(passed=1)
