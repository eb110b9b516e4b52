"""The only writer of query SQL: a planned query becomes one parameterized statement.

Names reach SQL through sql.Identifier (sql.Literal for the JSON keys of names
already checked against the schema); every value is a numbered parameter.
A statement's text depends only on the query's shape (which columns, which
operators, which branches), so it is rendered once per shape and collection
definition. Each builder `_x_sql` binds placeholders in order; its twin
`_x_values` lists the values for them in the same order.
Records are built as JSON by Postgres and leave as text.
"""

from core.query.compile.aggregate import AGGREGATES, aggregate
from core.query.compile.columns import Sort, table
from core.query.compile.export import export
from core.query.compile.filters import (
    escape_like,
    filter_shape,
    searchable,
    where_sql,
    where_values,
)
from core.query.compile.order import never_null
from core.query.compile.output import all_columns, record_json
from core.query.compile.pages import Page, count, select_one, select_page
from core.query.compile.params import Binder, Statement, cached, numbered, positional

__all__ = [
    "AGGREGATES",
    "Binder",
    "Page",
    "Sort",
    "Statement",
    "aggregate",
    "all_columns",
    "cached",
    "count",
    "escape_like",
    "export",
    "filter_shape",
    "never_null",
    "numbered",
    "positional",
    "record_json",
    "searchable",
    "select_one",
    "select_page",
    "table",
    "where_sql",
    "where_values",
]
