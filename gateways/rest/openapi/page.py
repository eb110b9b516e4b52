"""/api/v1/docs: the document as one self-contained HTML page (no scripts, no CDN),
so the reference works on a machine without internet access."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

import orjson

METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.5rem}
details{margin:.4rem 0;border:1px solid #e4e4e4;border-radius:4px;padding:.3rem .6rem}
summary{cursor:pointer}code,pre{font:13px ui-monospace,monospace}
.m{display:inline-block;width:4.5rem;font-weight:600;text-transform:uppercase}
table{border-collapse:collapse}td,th{border:1px solid #e4e4e4;padding:.2rem .5rem;text-align:left}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:20rem}
"""


def _schema_text(schema: Any) -> str:
    return escape(orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode())


def _operation(path: str, method: str, op: dict[str, Any], shared: list) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td><code>{_schema_text(p.get('schema', {}))}</code></td>"
        f"<td>{escape(p.get('description', ''))}</td></tr>"
        for p in [*shared, *op.get("parameters", [])]
    )
    params = f"<table><tr><th>name</th><th>in</th><th>schema</th><th></th></tr>{rows}</table>"
    body = op.get("requestBody", {}).get("content", {})
    body_html = "".join(
        f"<p>Body (<code>{escape(kind)}</code>):</p><pre>{_schema_text(media['schema'])}</pre>"
        for kind, media in body.items()
    )
    answers = ", ".join(escape(status) for status in op["responses"])
    return (
        f"<details><summary><span class=m>{method}</span><code>{escape(path)}</code> "
        f"— {escape(op['summary'])}</summary>{params if rows else ''}{body_html}"
        f"<p>Answers: {answers}</p></details>"
    )


def render_page(document: dict[str, Any]) -> str:
    by_tag: dict[str, list[str]] = defaultdict(list)
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                by_tag[op["tags"][0]].append(
                    _operation(path, method, op, item.get("parameters", []))
                )
    sections = "".join(
        f"<h2>{escape(tag)}</h2>{''.join(ops)}" for tag, ops in sorted(by_tag.items())
    )
    schemas = "".join(
        f"<details><summary><code>{escape(name)}</code></summary>"
        f"<pre>{_schema_text(schema)}</pre></details>"
        for name, schema in document["components"]["schemas"].items()
    )
    info = document["info"]
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{escape(info['title'])}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(info['title'])}</h1>"
        f"<p>{escape(info['description'])}</p><p>Send <code>Authorization: Bearer &lt;key&gt;"
        "</code> or <code>X-API-Key: &lt;key&gt;</code>. The machine-readable form is "
        f"<a href=openapi.json><code>openapi.json</code></a>.</p>{sections}"
        f"<h2>Schemas</h2>{schemas}</body></html>"
    )
