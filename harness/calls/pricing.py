"""Model prices and the cost of a call.

The price table lives in ``harness/data/prices.yaml`` (USD per million tokens, one row per
provider and model, each with its source and date). Configuration may override or extend it
with the same shape: ``{provider: {model: {input: ..., output: ..., ...}}}``.

Billing rule, the same for every provider because adapters normalise usage
(``Usage.input_tokens`` is the TOTAL input including cached and cache-write tokens, and
``output_tokens`` includes any reasoning tokens, as all four providers report them):

- the row's prices are chosen first: a call the provider reports as billed in its batch
  tier (``Usage.service_tier == "batch"``) uses the row's ``batch`` prices (unpriced when the
  row has none); then, when the row has a ``long_context`` tier and the call's total input
  exceeds its ``above`` (e.g. Anthropic's 200K, OpenAI's 272K), EVERY token of the call is
  billed at the tier's prices, as both providers bill it;
- uncached input  = input - cached - cache_write, at ``input``;
- cached input    at ``cached_input``; a row without one is a provider that gives no
  discount (e.g. Groq's Llama models), so those tokens are billed at ``input``;
- cache writes    at ``cache_write_5m``, except the 1-hour-TTL part
  (``Usage.cache_write_1h_tokens``, from Anthropic's ``usage.cache_creation``) at
  ``cache_write_1h``. A row without write prices bills writes at ``input``; a row with a
  5-minute but no 1-hour write price makes a call with 1-hour writes unpriced rather than
  billing them at the cheaper rate;
- output          at ``output``; reasoning tokens at ``reasoning_output`` only when the row
  has that price, and then they are taken out of the output count first, so no token is
  ever billed twice.

A model without a row costs ``None`` ("unpriced"), never 0.

Model lookup, in order: exact name; the name without a dated snapshot suffix
(``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``, ``claude-haiku-4-5-20251001`` ->
``claude-haiku-4-5``); the provider's ``"*"`` row (the free local model has one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.types import Usage

PER_TOKENS = 1_000_000

#: ``-2024-07-18`` (OpenAI) or ``-20251001`` (Anthropic) at the end of a model name.
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")

_PRICE_FIELDS = (
    "input",
    "cached_input",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "reasoning_output",
)


@dataclass(frozen=True)
class Price:
    """USD per million tokens; an optional price left as None is billed as described in the
    module docstring (never as free).

    ``long_context`` is the tier that bills a whole call whose total input exceeds its
    ``above``; ``batch`` the prices of the provider's batch tier (which may have its own
    ``long_context``). Both are Prices themselves; ``above`` is set only on a tier.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write_5m: float | None = None
    cache_write_1h: float | None = None
    reasoning_output: float | None = None
    above: int | None = None
    long_context: Price | None = None
    batch: Price | None = None
    source: str = ""
    date: str = ""

    def billed(self, input_tokens: int | None, service_tier: str | None = None) -> Price | None:
        """The prices a call with this much total input, in this tier, is billed at
        (None: the provider billed a tier this row has no prices for)."""
        price: Price | None = self
        if service_tier == "batch":
            price = self.batch
        if price is None:
            return None
        tier = price.long_context
        if tier is not None and tier.above is not None and (input_tokens or 0) > tier.above:
            return tier
        return price

    def _rates(self) -> str:
        parts = [f"in ${_fmt(self.input)}/M"]
        if self.cached_input is not None:
            parts.append(f"cached in ${_fmt(self.cached_input)}/M")
        if self.cache_write_5m is not None:
            write = f"cache write ${_fmt(self.cache_write_5m)}/M"
            if self.cache_write_1h is not None:
                write += f" (1h ${_fmt(self.cache_write_1h)}/M)"
            parts.append(write)
        parts.append(f"out ${_fmt(self.output)}/M")
        if self.reasoning_output is not None:
            parts.append(f"reasoning ${_fmt(self.reasoning_output)}/M")
        text = "  ".join(parts)
        if self.long_context is not None:
            text += f"; above {self.long_context.above:,} input: {self.long_context._rates()}"
        return text

    def describe(self) -> str:
        text = self._rates()
        if self.batch is not None:
            text += f"; batch: {self.batch._rates()}"
        return text + f" ({self.source}, {self.date})"


def _fmt(x: float) -> str:
    return f"{x:g}"


class PriceTable:
    """Prices per (provider, model) with the lookup rule of the module docstring.

    ``date`` is the shipped table's date; ``overridden`` names the ``provider:model`` rows
    configuration changed or added (both go to meta.json, so a run says what priced it).
    """

    def __init__(
        self,
        rows: Mapping[str, Mapping[str, Price]],
        date: str,
        overridden: tuple[str, ...] = (),
    ) -> None:
        self._rows = {p: dict(models) for p, models in rows.items()}
        self.date = date
        self.overridden = overridden

    def price_for(self, provider: str, model: str) -> Price | None:
        models = self._rows.get(provider)
        if not models:
            return None
        if model in models:
            return models[model]
        base = _SNAPSHOT_SUFFIX.sub("", model)
        if base != model and base in models:
            return models[base]
        return models.get("*")

    def models_for(self, provider: str) -> list[str]:
        """Human-readable rows for ``llm-harness providers``."""
        models = self._rows.get(provider, {})
        width = max((len(m) for m in models), default=0)
        return [f"{m.ljust(width)}  {p.describe()}" for m, p in sorted(models.items())]

    def providers(self) -> list[str]:
        return sorted(self._rows)


#: Keys of a row that are not prices: nested tiers and the row's provenance.
_TIER_KEYS = ("long_context", "batch")


def _price_from(
    fields_: Mapping[str, Any], where: str, base: Price | None, kind: str = "row"
) -> Price:
    """A Price from a mapping of fields (``base``'s values kept for fields not named).

    ``kind`` is "row" (a model's row), "batch" (its batch tier) or "long_context" (a
    long-context tier, which needs ``above``); tiers inherit the row's source and date.
    """
    known = {f.name for f in fields(Price)} - ({"batch"} if kind != "row" else set())
    if kind != "long_context":
        known.discard("above")
    if kind == "long_context":
        known.discard("long_context")
    unknown = sorted(set(fields_) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown price field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for name, raw in fields_.items():
        if name in _PRICE_FIELDS:
            if raw is None:
                values[name] = None
                continue
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
                raise ConfigError(
                    f"{where}: {name} must be a number >= 0 (USD per million tokens), "
                    f"got {raw!r}"
                )
            values[name] = float(raw)
        elif name == "above":
            if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
                raise ConfigError(
                    f"{where}: above must be a whole number of input tokens > 0 (the tier "
                    f"bills calls whose total input exceeds it), got {raw!r}"
                )
            values[name] = raw
        elif name in _TIER_KEYS:
            if raw is None:
                values[name] = None
                continue
            if not isinstance(raw, Mapping):
                raise ConfigError(
                    f"{where}.{name}: expected a mapping of price fields, got {raw!r}"
                )
            nested_base = getattr(base, name) if base is not None else None
            values[name] = _price_from(raw, f"{where}.{name}", nested_base, name)
        else:
            values[name] = str(raw)
    if base is not None:
        return replace(base, **values)
    required = ("input", "output", "above") if kind == "long_context" else ("input", "output")
    missing = [n for n in required if values.get(n) is None]
    if missing:
        what = "a new price row" if kind == "row" else f"a {kind} tier"
        raise ConfigError(
            f"{where}: {what} needs {' and '.join(missing)} "
            "(prices in USD per million tokens)"
        )
    if kind == "row":
        values.setdefault("source", "configuration")
    return Price(**values)


def _inherit(price: Price) -> Price:
    """Tiers carry their row's source and date (they are read from the same page)."""
    changes: dict[str, Any] = {}
    for name in _TIER_KEYS:
        tier = getattr(price, name)
        if tier is not None:
            tier = replace(tier, source=tier.source or price.source, date=tier.date or price.date)
            changes[name] = _inherit(tier)
    return replace(price, **changes) if changes else price


def _merge(
    rows: dict[str, dict[str, Price]], data: Mapping[str, Any], origin: str
) -> list[str]:
    """Apply ``data`` to ``rows``; returns the ``provider:model`` rows it named."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: prices must be a mapping provider -> model -> fields")
    named: list[str] = []
    for provider, models in data.items():
        if not isinstance(models, Mapping):
            raise ConfigError(
                f"{origin}: prices for {provider!r} must be a mapping model -> fields"
            )
        target = rows.setdefault(str(provider), {})
        for model, row in models.items():
            where = f"{origin}: {provider}:{model}"
            if not isinstance(row, Mapping):
                raise ConfigError(f"{where}: expected a mapping of price fields, got {row!r}")
            target[str(model)] = _inherit(_price_from(row, where, target.get(str(model))))
            named.append(f"{provider}:{model}")
    return named


def _load_builtin() -> tuple[dict[str, dict[str, Price]], str]:
    text = resources.files("harness").joinpath("data/prices.yaml").read_text("utf-8")
    # libyaml's parser when present: the pure-Python one took ~0.05 s of every run's end.
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    rows: dict[str, dict[str, Price]] = {}
    _merge(rows, data["providers"], "harness/data/prices.yaml")
    return rows, str(data["date"])


def read_price_file(path: str | Path) -> Mapping[str, Any]:
    """Overrides from a YAML or JSON file (``--llm-prices`` / ``llm_prices``), in either
    shape: ``{provider: {model: fields}}`` or the data file's ``{providers: {...}}``."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except OSError as exc:
        raise ConfigError(f"cannot read price file {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"price file {p} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"price file {p}: expected a mapping provider -> model -> fields")
    return data


def load_prices(overrides: Mapping[str, Any] | None = None) -> PriceTable:
    """The shipped table, with ``overrides`` (provider -> model -> fields) applied on top.

    An override of an existing row changes only the fields it names; a new row needs at
    least ``input`` and ``output``. ``overrides`` may also be the data file's shape
    (``{"providers": {...}}``). Bad values raise ConfigError naming the row.
    """
    rows, date = _load_builtin()
    named: list[str] = []
    if overrides:
        data = overrides.get("providers", overrides)
        named = _merge(rows, data, "price overrides")
    return PriceTable(rows, date, tuple(named))


def cost_usd(usage: Usage, price: Price | None) -> float | None:
    """USD cost of one call's usage; None when unpriced or when the provider sent no counts."""
    if price is None or usage.input_tokens is None or usage.output_tokens is None:
        return None
    billed = price.billed(usage.input_tokens, usage.service_tier)
    if billed is None:
        return None
    cached = max(usage.cached_input_tokens, 0)
    written = max(usage.cache_write_tokens, 0)
    one_hour = min(max(usage.cache_write_1h_tokens, 0), written)
    uncached = max(usage.input_tokens - cached - written, 0)
    cached_rate = billed.cached_input if billed.cached_input is not None else billed.input
    write_rate = billed.cache_write_5m if billed.cache_write_5m is not None else billed.input
    if billed.cache_write_1h is not None:
        write_1h_rate = billed.cache_write_1h
    elif one_hour and billed.cache_write_5m is not None:
        return None  # 1-hour writes cost more than 5-minute ones: never guess low
    else:
        write_1h_rate = write_rate
    total = (
        uncached * billed.input
        + cached * cached_rate
        + (written - one_hour) * write_rate
        + one_hour * write_1h_rate
    )
    output = usage.output_tokens
    if billed.reasoning_output is not None and usage.reasoning_tokens:
        reasoning = min(usage.reasoning_tokens, output)
        total += reasoning * billed.reasoning_output
        output -= reasoning
    total += output * billed.output
    return total / PER_TOKENS
