"""Format scorers: is-xml and is-sql.

::

    {type: is-xml, value: [analysis.classification, analysis.confidence]}  # or "a.b, a.c"
    {type: is-sql, dialect: postgres, tables: [orders, customers], columns: [id, total]}

``is-xml``: the answer (surrounding whitespace stripped) is one well-formed XML document;
``value`` (optional) lists elements that must exist, each a dotted path of tag names from
the root (``analysis.classification``: a ``classification`` child of the root
``analysis``), as promptfoo's ``requiredElements``. Parsed with defusedxml, which refuses
DTDs and entity declarations: a model's answer is untrusted input, and the standard
library's parser expands entities (the "billion laughs" answer would hang the run).

``is-sql``: the answer is one or more SQL statements that sqlglot parses in ``dialect``
(default: sqlglot's generic dialect; promptfoo's ``databaseType`` names map onto it, e.g.
MySQL -> mysql). Each statement must be a query, DML or DDL statement (a bare expression
such as ``hello world`` is not SQL here, nor a statement sqlglot only keeps as an opaque
command). ``tables`` / ``columns`` (optional) list the only table / column names the SQL
may use. sqlglot comes with the ``sql`` extra (``pip install
'pytest-llm-harness[sql]'``); without it an is-sql assertion is a collection error.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import render
from harness.types import Score

SQL_EXTRA_HINT = "pip install 'pytest-llm-harness[sql]'"

# -- is-xml ---------------------------------------------------------------------------------


def _elements(raw: Any) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    return [str(x).strip() for x in items if str(x).strip()]


def _validate_xml(spec: Mapping[str, Any]) -> str | None:
    v = spec.get("value")
    if v is None:
        return None
    ok = (isinstance(v, str) and _elements(v)) or (
        isinstance(v, list) and v and all(isinstance(x, str) and x.strip() for x in v))
    if not ok:
        return ("is-xml: 'value' lists the elements that must exist, as dotted paths from "
                "the root: value: [analysis.classification] or value: 'a.b, a.c'")
    return None


@scorer("is-xml", validate=_validate_xml, keys=("value",), text=True)
def is_xml(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    text = ctx.output.strip()
    if not text.startswith("<"):
        return Score("is-xml", False, False, "the answer does not start with an XML tag")
    try:
        root = fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        return Score("is-xml", False, False, f"XML refused: {exc} (DTDs and entities are not "
                                             "accepted in an answer)")
    except ParseError as exc:
        return Score("is-xml", False, False, f"not well-formed XML: {exc}")
    missing = []
    for path in _elements(render(spec.get("value"), ctx)):
        head, *rest = path.split(".")
        node = root if root.tag == head else None
        for tag in rest:
            node = node.find(tag) if node is not None else None
        if node is None:
            missing.append(path)
    if missing:
        return Score("is-xml", False, False, f"missing element(s) {missing}")
    return Score("is-xml", True, True, "")


# -- is-sql ---------------------------------------------------------------------------------


def _validate_sql(spec: Mapping[str, Any]) -> str | None:
    if importlib.util.find_spec("sqlglot") is None:
        return f"is-sql needs the SQL parser sqlglot: {SQL_EXTRA_HINT}"
    from sqlglot import Dialect

    dialect = spec.get("dialect")
    if dialect is not None and (not isinstance(dialect, str)
                                or dialect_name(dialect) not in Dialect.classes):
        known = ", ".join(sorted(k for k in Dialect.classes if k))
        return f"is-sql: unknown dialect {dialect!r}; known: {known}"
    for key in ("tables", "columns"):
        v = spec.get(key)
        if v is not None and not (isinstance(v, list) and v
                                  and all(isinstance(x, str) and x for x in v)):
            return f"is-sql: '{key}' must be a non-empty list of names, got {v!r}"
    return None


#: promptfoo's databaseType names that differ from sqlglot's dialect names.
_DIALECTS = {"postgresql": "postgres", "transactsql": "tsql", "mariadb": "mysql"}


def dialect_name(name: str) -> str:
    key = name.strip().lower()
    return _DIALECTS.get(key, key)


@scorer("is-sql", validate=_validate_sql, keys=("dialect", "tables", "columns"), text=True)
def is_sql(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    import sqlglot
    from sqlglot import expressions as exp

    dialect = dialect_name(spec["dialect"]) if spec.get("dialect") else None
    try:
        statements = [s for s in sqlglot.parse(ctx.output.strip(), read=dialect)
                      if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0]
        return Score("is-sql", False, False, f"not valid SQL: {first}")
    if not statements:
        return Score("is-sql", False, False, "no SQL statement in the answer")
    # The statement kinds; anything else parsed is a bare expression ("hello world" reads
    # as an alias) or a Command, sqlglot's opaque fallback for what it does not know.
    kinds = (exp.Query, exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.TruncateTable, exp.Use,
             exp.Set, exp.Transaction, exp.Commit, exp.Rollback, exp.Describe, exp.Show,
             exp.Grant, exp.Analyze, exp.Pragma, exp.Copy)
    for s in statements:
        if isinstance(s, exp.Command) or not isinstance(s, kinds):
            return Score("is-sql", False, False,
                         f"not a SQL statement: {s.sql()[:60]!r}")
    for key, kind in (("tables", exp.Table), ("columns", exp.Column)):
        allowed = spec.get(key)
        if allowed:
            used = {n.name for s in statements for n in s.find_all(kind)}
            extra = sorted(used - set(allowed))
            if extra:
                return Score("is-sql", False, False, f"uses {key} not allowed: {extra}")
    return Score("is-sql", True, True, "")
