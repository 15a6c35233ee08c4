"""The statements both metadata backends share are written once (meta/shared_sql.py) and
rendered for each dialect; the dialect modules keep only what really differs."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from headwater.meta import postgres_sql, shared_sql, sqlite_sql

DIALECTS = {"sqlite": (sqlite_sql, "?"), "postgres": (postgres_sql, "%s")}
# Each builder with a few shapes of query: (builder name, keyword arguments).
SHAPES = [
    ("select_runs", dict(num_tags=0, by_user=False, succeeded_only=False)),
    ("select_runs", dict(num_tags=2, by_user=True, succeeded_only=True)),
    ("select_runs_page", dict(by_flow=True, num_tags=1, by_user=True, num_statuses=2)),
    ("select_runs_page", dict(by_flow=False, num_tags=0, by_user=False, num_statuses=0)),
    ("select_flows_with_tags", dict(num_tags=1)),
    ("select_flows_with_tags", dict(num_tags=3)),
]


def _texts(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def _rendered(dialect: str) -> list[tuple[str, str]]:
    """(name, text) of every shared statement and builder shape, as the dialect module has it."""
    module, _ = DIALECTS[dialect]
    out = [(name, text) for name in shared_sql.statement_names()
           for text in _texts(getattr(module, name))]
    out += [(f"{name}({kwargs})", getattr(module, name)(**kwargs)) for name, kwargs in SHAPES]
    return out


def _normal(text: str) -> str:
    """The text with one placeholder style and single spaces: what 'the same statement' means."""
    return re.sub(r"\s+", " ", text.replace("%s", "?")).strip()


def test_there_are_shared_statements_and_every_one_reaches_both_dialects():
    names = shared_sql.statement_names()
    assert len(names) >= 35  # the bulk of the statements; a regression would empty this
    for module, _ in DIALECTS.values():
        missing = [n for n in names if not hasattr(module, n)]
        assert missing == []
        for builder in shared_sql.BUILDERS:
            assert callable(getattr(module, builder.__name__))


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_each_shared_statement_renders_in_the_dialect(dialect: str):
    _, placeholder = DIALECTS[dialect]
    for name, text in _rendered(dialect):
        assert "{" not in text and "}" not in text, f"{name}: a fragment was left unfilled"
        if placeholder == "%s":
            assert "?" not in text, name
            # a literal % is written %% for psycopg (LIKE patterns); a bare one would confuse it
            bare = text.replace("%s", "").replace("%%", "")
            assert "%" not in bare, f"{name}: a bare % would confuse psycopg"
        else:
            assert "%s" not in text, name


def test_both_dialects_bind_the_same_parameters_to_each_shared_statement():
    sqlite_texts, pg_texts = _rendered("sqlite"), _rendered("postgres")
    assert [n for n, _ in sqlite_texts] == [n for n, _ in pg_texts]
    for (name, lite), (_, pg) in zip(sqlite_texts, pg_texts, strict=True):
        assert lite.count("?") == pg.count("%s"), name


def test_the_dialect_specific_fragments_differ():
    lite, pg = dict(_rendered("sqlite")), dict(_rendered("postgres"))
    assert "group_concat" in lite["GET_RUN"] and "string_agg" in pg["GET_RUN"]
    assert "MAX(attempts" in lite["TASK_ATTEMPT_COUNT"]
    assert "GREATEST(attempts" in pg["TASK_ATTEMPT_COUNT"]
    assert 'COLLATE "C"' in pg["LIST_FLOWS"] and "COLLATE" not in lite["LIST_FLOWS"]


def test_a_builder_renders_each_shape_once():
    first = sqlite_sql.select_runs(num_tags=4, by_user=True, succeeded_only=False)
    assert sqlite_sql.select_runs(num_tags=4, by_user=True, succeeded_only=False) is first
    assert first.count("?") == 1 + 4 + 1 + 1


def test_render_refuses_a_missing_fragment():
    with pytest.raises(ValueError, match="text_order"):
        shared_sql.render(placeholder="?", tags_of_run="x", greatest="MAX")


def _own_statements(module) -> dict[str, str]:
    """The statements a dialect module writes itself (not rendered from shared_sql). Its schema
    history (MIGRATIONS) is left out: shipped migrations stay verbatim in each dialect."""
    shared = set(shared_sql.statement_names())
    own: dict[str, str] = {}
    for name, value in vars(module).items():
        if name.startswith("__") or name in shared or name == "MIGRATIONS" or name.startswith("_V"):
            continue
        if isinstance(value, (str, tuple)) and all(isinstance(t, str) for t in _texts(value)):
            for i, text in enumerate(_texts(value)):
                own[f"{name}[{i}]"] = text
    return own


def test_no_statement_text_is_written_in_both_dialect_modules():
    lite = {_normal(t): n for n, t in _own_statements(sqlite_sql).items()}
    pg = {_normal(t): n for n, t in _own_statements(postgres_sql).items()}
    both = sorted((lite[t], pg[t]) for t in lite.keys() & pg.keys())
    assert both == [], f"move these to meta/shared_sql.py: {both}"


def test_the_dialect_modules_do_not_override_a_shared_statement():
    for dialect, (module, placeholder) in DIALECTS.items():
        fragments = {
            "sqlite": dict(greatest="MAX", text_order=""),
            "postgres": dict(greatest="GREATEST", text_order=' COLLATE "C"'),
        }[dialect]
        # tags_of_run is the dialect's own; take it back out of a rendered statement.
        tags_of_run = module.GET_RUN.split(", r.environments, ", 1)[1].split(" FROM runs r WHERE")[0]
        expected = shared_sql.render(placeholder=placeholder, tags_of_run=tags_of_run, **fragments)
        for name in shared_sql.statement_names():
            assert getattr(module, name) == expected[name], (dialect, name)


def test_every_shared_statement_compiles_against_a_real_sqlite_database(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "meta.db")
    for migration in sqlite_sql.MIGRATIONS:  # the newest schema, as the shipped migrations make it
        for statement in migration:
            conn.execute(statement)
    failures = []
    for name, text in _rendered("sqlite"):
        try:
            conn.execute("EXPLAIN " + text, (None,) * text.count("?")).fetchall()  # parses, binds
        except sqlite3.Error as exc:
            failures.append(f"{name}: {exc}")
    conn.close()
    assert failures == []
