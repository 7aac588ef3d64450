"""The SQLite-to-PostgreSQL statement translation (pure)."""

from ctrack.store.dialect import to_postgres


def test_placeholders_become_psycopgs_and_quoted_text_is_left_alone():
    assert to_postgres("SELECT 1 WHERE a = ? AND b = :name_1") == "SELECT 1 WHERE a = %s AND b = %(name_1)s"
    assert to_postgres("SELECT '?', ':x', \"a?\" -- why?\n, ?") == "SELECT '?', ':x', \"a?\" -- why?\n, %s"
    assert to_postgres("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_a_literal_percent_survives_psycopgs_formatting():
    assert to_postgres("SELECT x % 24, '100%' LIKE ?") == "SELECT x %% 24, '100%%' LIKE %s"


def test_begin_immediate_is_a_plain_begin():
    assert to_postgres("BEGIN IMMEDIATE") == "BEGIN"
    assert to_postgres("  begin exclusive") == "BEGIN"


def test_integer_casts_truncate_as_sqlite_does_even_nested():
    assert to_postgres("SELECT CAST((a + (b)) / 86400 AS INTEGER) % 24") == (
        "SELECT CAST(trunc(((a + (b)) / 86400)::float8) AS bigint) %% 24"
    )
    assert to_postgres("SELECT CAST(x AS TEXT), CAST(CAST(y AS INTEGER) AS INTEGER)") == (
        "SELECT CAST(x AS TEXT), CAST(trunc((CAST(trunc((y)::float8) AS bigint))::float8) AS bigint)"
    )


def test_fts5_match_reads_the_tsvector():
    assert to_postgres("SELECT rowid FROM transcript_search WHERE transcript_search MATCH ?") == (
        "SELECT rowid FROM transcript_search WHERE transcript_search.document @@ fts5_query(%s)"
    )


def test_is_a_parameter_compares_null_safely_as_sqlite_does():
    assert to_postgres("SELECT 1 WHERE call_id IS ? AND target is not :t") == (
        "SELECT 1 WHERE call_id IS NOT DISTINCT FROM %s AND target IS DISTINCT FROM %(t)s"
    )
    assert to_postgres("SELECT 1 WHERE a IS NULL AND b IS NOT NULL AND 'IS ?' = ?") == (
        "SELECT 1 WHERE a IS NULL AND b IS NOT NULL AND 'IS ?' = %s"
    )
