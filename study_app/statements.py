"""Statements the trial routes run: SQLAlchemy Core compiled once per dialect, run on a driver cursor.

Compiling once and executing on the driver connection's own cursor skips
SQLAlchemy's work per execution (cache key, execution context, result object,
events); on PostgreSQL with psycopg2 a statement is also PREPAREd once per
connection, and statements of one transaction travel together
(`Prepared.defer`). The connections are `study_app.driver`'s.
"""

import itertools
import operator
from collections import namedtuple
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from study_app.driver import DriverConnection


class Prepared:
    """A Core statement compiled once per database dialect and run on the driver's own cursor.

    `conn` is a `Driver` connection or a SQLAlchemy Connection (then the
    statement joins its transaction). On a PostgreSQL `Driver` connection the
    statement is PREPAREd once and then EXECUTEd: the server parses and plans it
    once per connection, not on every request.

    Parameters
    ----------
    statement : sqlalchemy Executable
        With named `bindparam` values.
    """

    _numbers = itertools.count()

    def __init__(self, statement):
        self._statement = statement
        self._name = f"p2p_study_{next(self._numbers)}"
        self._compiled: dict[str, list] = {}

    def _compile(self, dialect: Dialect, key: str) -> list:
        """[SQL to run, parameters in order (None: by name), literals, row type, PREPARE or None]."""
        prepare = None
        if key == "server-side":
            compiled = self._statement.compile(dialect=type(dialect)(paramstyle="numeric_dollar"))  # $1, $2, ...
            prepare = f"PREPARE {self._name} AS {compiled.string}"
            marks = ", ".join(["%s"] * len(compiled.positiontup))
            sql = f"EXECUTE {self._name}" + (f" ({marks})" if marks else "")
        else:
            compiled = self._statement.compile(dialect=dialect)
            sql = compiled.string
        order = None
        if compiled.positional:  # a tuple of the parameters in order (itemgetter of one name gives no tuple)
            names = compiled.positiontup
            order = operator.itemgetter(*names) if len(names) > 1 else lambda params: (params[names[0]],)
        # params: the literals in it; the row type is made at the first execution
        self._compiled[key] = [sql, order, compiled.params, None, prepare]
        return self._compiled[key]

    def _bound(self, conn: DriverConnection, cursor, params: dict) -> tuple[list, Any, Any]:
        """This statement compiled for `conn` (PREPAREd there first, if it has prepared statements),
        its SQL and its arguments."""
        key = conn.dialect.name if getattr(conn, "prepared", None) is None else "server-side"
        compiled = self._compiled.get(key) or self._compile(conn.dialect, key)
        sql, order, literals, _, prepare = compiled
        if prepare is not None and self._name not in conn.prepared:
            cursor.execute(prepare)  # not undone by a rollback: it lives as long as the connection
            conn.prepared.add(self._name)
        params = literals | params
        return compiled, sql, order(params) if order is not None else params

    def run(self, conn: DriverConnection | Connection, **params) -> tuple[int, list[tuple]]:
        """Execute on `conn` (inside its transaction, if any): the rowcount and the rows returned
        (named tuples: attribute access as on SQLAlchemy's rows)."""
        cursor = conn.connection.cursor()
        try:
            compiled, sql, args = self._bound(conn, cursor, params)
            if getattr(conn, "pending", None):  # the BEGIN and deferred statements go with this one
                statements, conn.pending, conn.begun = conn.pending + [cursor.mogrify(sql, args)], [], True
                sql, args = b"; ".join(statements), None
            cursor.execute(sql, args)
            if not cursor.description:
                return cursor.rowcount, []
            if compiled[3] is None:
                compiled[3] = namedtuple("Row", [column[0] for column in cursor.description])
            return cursor.rowcount, [compiled[3]._make(values) for values in cursor.fetchall()]
        finally:
            cursor.close()

    def defer(self, conn: DriverConnection | Connection, **params) -> None:
        """Run on `conn` later in its `Driver.write` transaction: with its next statement, or with its
        COMMIT. For a statement whose result nobody reads (an INSERT): on PostgreSQL one round trip
        fewer. Anywhere else (SQLite, a SQLAlchemy connection) it runs now. A failure shows at the next
        statement or at the commit, and rolls the whole transaction back all the same."""
        if not getattr(conn, "writing", False) or conn.prepared is None:
            self.run(conn, **params)
            return
        with conn.connection.cursor() as cursor:
            _, sql, args = self._bound(conn, cursor, params)
            conn.pending.append(cursor.mogrify(sql, args))
