"""GraphQL relation fields: the SDL they give, what a nested selection asks core for, and
end to end answers over a blog (authors, tags, posts, comments) compared with a Python
reference computed from the seeded records.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from plinth.v1 import common_pb2
from plinth.v1 import query_pb2 as q
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import schema_service_pb2 as schema_pb

from gateways.graphql.engines import Built, build
from gateways.graphql.names import camel, pascal
from tests.test_graphql import data, error_code, post
from tests.test_graphql_query import RecordingCore

# --- the SDL and what core is asked (a recording stand-in for core) ------------------


def _relation(name: str, target: str, cardinality: str, inverse: str = "") -> schema_pb.Field:
    return schema_pb.Field(**relation(name, target, cardinality, inverse))


@functools.cache
def engine() -> Built:
    string = functools.partial(schema_pb.Field, type="string")
    collections = [
        schema_pb.Collection(
            name="writers",
            fields=[
                string(name="full_name"),
                _relation("posts", "articles", "one_to_many", "writer"),
            ],
        ),
        schema_pb.Collection(
            name="articles",
            fields=[
                string(name="title", required=True),
                schema_pb.Field(name="price", type="decimal"),
                _relation("writer", "writers", "many_to_one"),
                _relation("labels", "labels", "many_to_many"),
                _relation("ghost", "missing", "many_to_one"),
            ],
        ),
        schema_pb.Collection(
            name="labels",
            fields=[
                string(name="label_name"),
                _relation("articles", "articles", "many_to_many", "labels"),
            ],
        ),
    ]
    return build(collections, 1)


class WritingCore(RecordingCore):
    def check_writable(self) -> None:
        pass


def run(query: str, core: RecordingCore, variables: dict[str, Any] | None = None) -> dict:
    return asyncio.run(engine().engine.execute(query, context=core, variables=variables))


def block(sdl: str, head: str) -> str:
    return sdl[sdl.index(head + " {") :].split("}")[0]


def test_sdl_of_relation_fields():
    sdl = engine().sdl
    articles = block(sdl, "type Articles")
    assert " writer: Writers\n" in articles
    assert (
        " labels(where: LabelsWhere, orderBy: [LabelsField!], orderDirection: OrderDirection"
        " = ASC, limit: Int, offset: Int): [Labels!]!\n"
    ) in articles
    assert " posts(where: ArticlesWhere," in block(sdl, "type Writers")
    where = block(sdl, "input ArticlesWhere")
    assert "  writer: WritersWhere\n" in where and "  labels: LabelsWhere\n" in where
    create = block(sdl, "input ArticlesCreateInput")
    assert "  writer: ID\n  labels: [ID!]\n" in create
    assert "  writer: ID\n  labels: [ID!]\n" in block(sdl, "input ArticlesUpdateInput")
    # one_to_many and the reverse of a many_to_many are read-only.
    assert "posts" not in block(sdl, "input WritersCreateInput")
    assert "articles" not in block(sdl, "input LabelsCreateInput")
    # Relations are neither sorted, grouped nor aggregated.
    for head in (
        "enum ArticlesField",
        "type ArticlesAggregateGroup",
        "type ArticlesAggregateCount",
    ):
        assert "writer" not in block(sdl, head) and "labels" not in block(sdl, head)
    assert "# field articles.ghost is left out: its target collection 'missing'" in sdl
    assert "ghost" not in articles
    assert build([], 1).sdl.count("#") == 1  # only the version line without notes


NESTED = """query($p: String) { articles(limit: 5) {
  title
  writer { fullName }
  labels(limit: 2, where: {labelName: {startsWith: $p}}) { labelName }
} }"""


def test_a_nested_selection_is_one_call_with_paths_and_relation_options():
    records = (
        b'[{"id": "a1", "title": "T", "writer": {"id": "w1", "full_name": "Ann"},'
        b' "labels": [{"id": "l1", "label_name": "ab"}]}]'
    )
    core = RecordingCore(ListRecords=pb.ListRecordsResponse(records=records))
    answer = run(NESTED, core, {"p": "a"})
    assert answer == {
        "data": {
            "articles": [
                {"title": "T", "writer": {"fullName": "Ann"}, "labels": [{"labelName": "ab"}]}
            ]
        }
    }
    ((rpc, request),) = core.calls
    assert rpc == "ListRecords"
    assert list(request.fields) == [
        "id",
        "title",
        "writer.id",
        "writer.full_name",
        "labels.id",
        "labels.label_name",
    ]
    (options,) = request.relations
    assert (options.path, options.limit, options.offset) == ("labels", 2, 0)
    condition = options.filter.condition
    assert (condition.field, condition.operator) == ("label_name", q.OPERATOR_STARTS_WITH)
    assert condition.value.string_value == "a"


def test_deep_paths_relation_options_and_exact_decimals():
    records = (
        b'[{"id": "w1", "posts": [{"id": "a1", "price": 12345678901234.56789,'
        b' "labels": [{"id": "l1", "articles": []}]}]}]'
    )
    core = RecordingCore(ListRecords=pb.ListRecordsResponse(records=records))
    answer = run(
        """{ writers { ...W } }
        fragment W on Writers { posts(orderBy: [price], orderDirection: DESC, offset: 1) {
          price labels { articles(limit: 0) { id } __typename } } }""",
        core,
    )
    assert answer["data"]["writers"] == [
        {
            "posts": [
                {
                    "price": "12345678901234.56789",
                    "labels": [{"articles": [], "__typename": "Labels"}],
                }
            ]
        }
    ]
    ((_, request),) = core.calls
    assert list(request.fields) == [
        "id",
        "posts.id",
        "posts.price",
        "posts.labels.id",
        "posts.labels.articles.id",
    ]
    posts, articles = request.relations
    assert posts.path == "posts" and posts.offset == 1 and posts.limit == 0
    assert [(s.field, s.descending) for s in posts.sort] == [("price", True)]
    # `limit: 0` reads no related record: core's limit 0 means all, so an empty OR.
    assert articles.path == "posts.labels.articles"
    assert articles.filter.WhichOneof("kind") == "any_of"
    assert not articles.filter.any_of.filters


def test_nested_where_is_a_related_filter_in_the_targets_names():
    core = RecordingCore(CountRecords=pb.CountRecordsResponse(count=0))
    answer = run(
        '{ articlesCount(where: {NOT: {labels: {}}, writer: {fullName: {equals: "Ann"}}}) }',
        core,
    )
    assert answer == {"data": {"articlesCount": 0}}
    ((_, request),) = core.calls
    none, writer = request.filter.all_of.filters
    assert none.negate.related.relation == "labels"
    assert none.negate.related.filter.WhichOneof("kind") == "all_of"  # `{}`: any record
    assert writer.related.relation == "writer"
    assert writer.related.filter.condition.field == "full_name"


def test_the_same_relation_with_different_arguments_is_a_bad_request():
    core = RecordingCore(ListRecords=pb.ListRecordsResponse(records=b"[]"))
    answer = run("{ articles { a: labels(limit: 1) { id } b: labels(limit: 2) { id } } }", core)
    assert error_code(answer) == "BAD_REQUEST"
    assert "Articles.labels" in answer["errors"][0]["message"]
    assert core.calls == []
    same = "{ articles { a: labels(limit: 1) { id } b: labels(limit: 1) { labelName } } }"
    assert "errors" not in run(same, core)


def test_a_write_reading_related_records_reads_the_record_again():
    written = common_pb2.Record(json=b'{"id": "a1", "title": "T", "writer": "w1", "labels": []}')
    again = common_pb2.Record(json=b'{"id": "a1", "title": "T", "writer": {"id": "w1"}}')
    core = WritingCore(
        CreateRecord=pb.CreateRecordResponse(record=written),
        GetRecord=pb.GetRecordResponse(record=again),
    )
    query = 'mutation { createArticles(input: {title: "T", writer: "w1"}) { title %s } }'
    answer = run(query % "writer { id }", core)
    assert answer == {"data": {"createArticles": {"title": "T", "writer": {"id": "w1"}}}}
    assert [rpc for rpc, _ in core.calls] == ["CreateRecord", "GetRecord"]
    assert list(core.calls[1][1].fields) == ["id", "title", "writer.id"]
    core.calls.clear()
    assert run(query % "", core) == {"data": {"createArticles": {"title": "T"}}}
    assert [rpc for rpc, _ in core.calls] == ["CreateRecord"]


# --- end to end: a blog ----------------------------------------------------------------

AUTHORS = {  # key: (name, country)
    "ann": ("Ann", "uk"),
    "bob": ("Bob", "us"),
    "cid": ("Cid", "uk"),
    "dee": ("Dee", "fr"),
    "eve": ("Eve", "us"),
    "fay": ("Fay", "uk"),
}
TAGS = {"alpha": 1, "beta": 5, "gamma": 7, "delta": 2, "apex": 9, "omega": 3}  # name: weight
POSTS = {  # key: (title, score, price, author, tags in link order)
    "p1": ("Apples", 3, "10.10", "ann", ["alpha", "beta"]),
    "p2": ("Bananas", 8, "0.05", "ann", ["gamma"]),
    "p3": ("Cherries", 1, None, "bob", ["beta", "alpha", "delta"]),
    "p4": ("Dates", 5, "99999999999999.99999", "cid", []),
    "p5": ("Elder", 6, "1.5", None, ["omega"]),
    "p6": ("Figs", 2, "3", "eve", ["apex", "alpha"]),
    "p7": ("Grapes", 9, "7.25", "dee", ["apex", "beta"]),
    "p8": ("Hazel", 4, "2", "ann", ["delta"]),
    "p9": ("Ice", 7, None, "bob", ["gamma", "omega", "apex"]),
}
COMMENTS = {  # key: (body, post, author), in creation order
    "c1": ("nice", "p1", "bob"),
    "c2": ("meh", "p1", "dee"),
    "c3": ("yum", "p2", "cid"),
    "c4": ("sour", "p3", "ann"),
    "c5": ("old", "p8", "bob"),
    "c6": ("hmm", "p7", "eve"),
    "c7": ("ok", "p9", "dee"),
    "c8": ("gone", "p1", "cid"),
}
DELETED = {"eve", "omega", "p8", "c8"}  # soft-deleted after seeding


def alive(key: str | None) -> str | None:
    """A related record as a relation reads it: soft-deleted ones are absent."""
    return key if key and key not in DELETED else None


def tags_of(p: str) -> list[str]:
    return [t for t in POSTS[p][4] if alive(t)]


def comments_of(p: str) -> list[str]:
    return [c for c, (_, on, _) in COMMENTS.items() if on == p and alive(c)]


def posts_of(a: str) -> list[str]:
    return [p for p, row in POSTS.items() if alive(p) and alive(row[3]) == a]


def live(rows: dict[str, Any]) -> list[str]:
    return [key for key in rows if alive(key)]


@dataclass(frozen=True)
class Names:
    """A collection and its GraphQL names."""

    collection: str
    type: str  # `C1a2bPosts`
    root: str  # `c1a2bPosts`


def names_of(collection: str) -> Names:
    return Names(collection, pascal(collection), camel(collection))


@dataclass
class Blog:
    authors: Names
    tags: Names
    posts: Names
    comments: Names
    ids: dict[str, str]  # seed key -> record id


def relation(name: str, target: str, cardinality: str, inverse: str = "") -> dict[str, Any]:
    spec = {"name": name, "type": "relation", "target": target, "cardinality": cardinality}
    return {**spec, "inverse": inverse} if inverse else spec


def create_schema(rest: httpx.Client, prefix: str) -> Blog:
    """authors, tags, posts (author: many_to_one, tags: many_to_many), comments (post,
    author); then the reverses authors.posts, posts.comments (one_to_many) and tags.posts
    (a read-only many_to_many)."""
    authors, tags, posts, comments = (
        f"{prefix}_{n}" for n in ("authors", "tags", "posts", "comments")
    )

    def collection(name: str, *fields: dict[str, Any]) -> None:
        answer = rest.post("/api/v1/schema/collections", json={"name": name, "fields": fields})
        assert answer.status_code == 201, answer.text

    collection(authors, {"name": "name", "type": "string"}, {"name": "country", "type": "string"})
    collection(tags, {"name": "name", "type": "string"}, {"name": "weight", "type": "integer"})
    collection(
        posts,
        {"name": "title", "type": "string", "required": True},
        {"name": "score", "type": "integer"},
        {"name": "price", "type": "decimal"},
        relation("author", authors, "many_to_one"),
        relation("tags", tags, "many_to_many"),
    )
    collection(
        comments,
        {"name": "body", "type": "string"},
        relation("post", posts, "many_to_one"),
        relation("author", authors, "many_to_one"),
    )
    for owner, spec in (
        (authors, relation("posts", posts, "one_to_many", "author")),
        (posts, relation("comments", comments, "one_to_many", "post")),
        (tags, relation("posts", posts, "many_to_many", "tags")),
    ):
        answer = rest.post(f"/api/v1/schema/collections/{owner}/fields", json=spec)
        assert answer.status_code == 201, answer.text
    return Blog(*(names_of(c) for c in (authors, tags, posts, comments)), ids={})


def created(rest: httpx.Client, collection: Names, body: dict[str, Any]) -> str:
    answer = rest.post(f"/api/v1/{collection.collection}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]["id"]


def seed(rest: httpx.Client, blog: Blog) -> None:
    ids = blog.ids
    for key, (name, country) in AUTHORS.items():
        ids[key] = created(rest, blog.authors, {"name": name, "country": country})
    for key, weight in TAGS.items():
        ids[key] = created(rest, blog.tags, {"name": key, "weight": weight})
    for key, (title, score, price, author, tags) in POSTS.items():
        body = {"title": title, "score": score, "price": price, "tags": [ids[t] for t in tags]}
        ids[key] = created(rest, blog.posts, {**body, "author": ids.get(author)})
    for key, (body, post_key, author) in COMMENTS.items():
        record = {"body": body, "post": ids[post_key], "author": ids[author]}
        ids[key] = created(rest, blog.comments, record)
    owners = {blog.authors: AUTHORS, blog.tags: TAGS, blog.posts: POSTS, blog.comments: COMMENTS}
    for collection, rows in owners.items():
        for key in set(rows) & DELETED:
            answer = rest.delete(f"/api/v1/{collection.collection}/{ids[key]}")
            assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def blog(stack) -> Blog:
    """One seeded blog for the read-only tests of this module (its own collections)."""
    with httpx.Client(base_url=stack.rest_url, headers=stack.headers(), timeout=30) as rest:
        blog = create_schema(rest, "c_" + uuid.uuid4().hex[:12])
        seed(rest, blog)
    return blog


def author_view(a: str | None) -> dict[str, Any] | None:
    return None if a is None else {"name": AUTHORS[a][0], "country": AUTHORS[a][1]}


def post_view(p: str) -> dict[str, Any]:
    title, _, price, author, _ = POSTS[p]
    return {
        "title": title,
        "price": None if price is None else Decimal(price),
        "author": author_view(alive(author)),
        "tags": [{"name": t, "weight": TAGS[t]} for t in tags_of(p)],
        "comments": [
            {"body": COMMENTS[c][0], "author": author_view(alive(COMMENTS[c][2]))}
            for c in comments_of(p)
        ],
    }


def by_title(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda p: POSTS[p][0])


def decimals(answered: dict[str, Any]) -> dict[str, Any]:
    """A post as answered, its price compared as a number (every digit)."""
    price = answered["price"]
    return {**answered, "price": None if price is None else Decimal(price)}


POST_FIELDS = "title price author { name country } tags { name weight }"
POST_FIELDS += " comments { body author { name country } }"


def test_nested_selection_of_every_cardinality(gql, blog):
    """many_to_one objects, many_to_many lists in link order, one_to_many lists in
    creation order; soft-deleted related records absent."""
    answer = data(gql, f"{{ {blog.posts.root}(orderBy: [title]) {{ {POST_FIELDS} }} }}")
    got = [decimals(p) for p in answer[blog.posts.root]]
    assert got == [post_view(p) for p in by_title(live(POSTS))]


def test_three_levels_deep_and_by_id(gql, blog):
    query = f"""{{
      {blog.authors.root}(orderBy: [name]) {{
        name posts {{ title tags {{ name posts {{ title }} }} }}
      }}
      {blog.comments.root}ById(id: "{blog.ids["c1"]}") {{
        body post {{ title author {{ name posts {{ title comments {{ body }} }} }} }}
      }}
    }}"""
    answer = data(gql, query)

    def titles(posts: list[str]) -> list[dict[str, str]]:
        return [{"title": POSTS[p][0]} for p in posts]

    def tagged(t: str) -> list[str]:
        return [p for p in live(POSTS) if t in tags_of(p)]

    assert answer[blog.authors.root] == [
        {
            "name": AUTHORS[a][0],
            "posts": [
                {
                    "title": POSTS[p][0],
                    "tags": [{"name": t, "posts": titles(tagged(t))} for t in tags_of(p)],
                }
                for p in posts_of(a)
            ],
        }
        for a in sorted(live(AUTHORS), key=lambda a: AUTHORS[a][0])
    ]
    ann_posts = [
        {"title": POSTS[p][0], "comments": [{"body": COMMENTS[c][0]} for c in comments_of(p)]}
        for p in posts_of("ann")
    ]
    assert answer[f"{blog.comments.root}ById"] == {
        "body": "nice",
        "post": {"title": "Apples", "author": {"name": "Ann", "posts": ann_posts}},
    }


def test_soft_deleted_records_never_appear_through_a_relation(gql, blog):
    ids = blog.ids
    query = f"""{{
      figs: {blog.posts.root}ById(id: "{ids["p6"]}") {{ author {{ name }} tags {{ name }} }}
      elder: {blog.posts.root}ById(id: "{ids["p5"]}") {{ tags {{ name }} }}
      ann: {blog.authors.root}ById(id: "{ids["ann"]}") {{ posts {{ title }} }}
      apples: {blog.posts.root}ById(id: "{ids["p1"]}") {{ comments {{ body }} }}
      omega: {blog.tags.root}ById(id: "{ids["omega"]}") {{ name }}
    }}"""
    assert data(gql, query) == {
        "figs": {"author": None, "tags": [{"name": "apex"}, {"name": "alpha"}]},  # not eve
        "elder": {"tags": []},  # omega only
        "ann": {"posts": [{"title": "Apples"}, {"title": "Bananas"}]},  # not Hazel
        "apples": {"comments": [{"body": "nice"}, {"body": "meh"}]},  # not "gone"
        "omega": None,
    }


# --- where across relations ----------------------------------------------------------


def author_is(p: str, test: Callable[[str], bool]) -> bool:
    author = alive(POSTS[p][3])
    return author is not None and test(author)


def some_tag(p: str, test: Callable[[str], bool]) -> bool:
    return any(test(t) for t in tags_of(p))


def starts_a(t: str) -> bool:
    return t.startswith("a")


POST_WHERE = [
    ('{author: {name: {equals: "Ann"}}}', lambda p: author_is(p, lambda a: a == "ann")),
    (
        '{author: {country: {equals: "uk"}}, score: {gte: 5}}',
        lambda p: author_is(p, lambda a: AUTHORS[a][1] == "uk") and POSTS[p][1] >= 5,
    ),
    ('{tags: {name: {equals: "beta"}}}', lambda p: "beta" in tags_of(p)),
    # Conditions of one relation object hold for the same related record...
    (
        '{tags: {name: {startsWith: "a"}, weight: {gte: 5}}}',
        lambda p: some_tag(p, lambda t: starts_a(t) and TAGS[t] >= 5),
    ),
    # ...AND-ed relation objects each find their own.
    (
        '{AND: [{tags: {name: {startsWith: "a"}}}, {tags: {weight: {gte: 5}}}]}',
        lambda p: some_tag(p, starts_a) and some_tag(p, lambda t: TAGS[t] >= 5),
    ),
    ("{tags: {}}", lambda p: bool(tags_of(p))),
    ("{NOT: {tags: {}}}", lambda p: not tags_of(p)),
    ("{NOT: {author: {}}}", lambda p: alive(POSTS[p][3]) is None),
    (
        '{OR: [{author: {name: {equals: "Bob"}}}, {tags: {name: {equals: "delta"}}}]}',
        lambda p: author_is(p, lambda a: a == "bob") or "delta" in tags_of(p),
    ),
    ('{NOT: {tags: {name: {equals: "omega"}}}}', lambda p: True),  # omega is deleted
    ('{NOT: {tags: {name: {equals: "alpha"}}}}', lambda p: "alpha" not in tags_of(p)),
    (
        '{tags: {NOT: {name: {equals: "alpha"}}}}',
        lambda p: some_tag(p, lambda t: t != "alpha"),
    ),
    (
        '{author: {NOT: {country: {equals: "uk"}}}}',
        lambda p: author_is(p, lambda a: AUTHORS[a][1] != "uk"),
    ),
    (
        '{comments: {author: {country: {equals: "fr"}}}}',
        lambda p: any(alive(COMMENTS[c][2]) == "dee" for c in comments_of(p)),
    ),
    (
        "{author: {posts: {score: {gte: 9}}}}",
        lambda p: author_is(p, lambda a: any(POSTS[x][1] >= 9 for x in posts_of(a))),
    ),
    (
        '{tags: {posts: {author: {name: {equals: "Dee"}}}}}',
        lambda p: some_tag(p, lambda t: any(t in tags_of(x) for x in posts_of("dee"))),
    ),
]
AUTHOR_WHERE = [
    ("{posts: {score: {gt: 5}}}", lambda a: any(POSTS[p][1] > 5 for p in posts_of(a))),
    ("{NOT: {posts: {}}}", lambda a: not posts_of(a)),
    (
        '{posts: {tags: {name: {equals: "gamma"}}}, country: {not: "fr"}}',
        lambda a: any("gamma" in tags_of(p) for p in posts_of(a)) and AUTHORS[a][1] != "fr",
    ),
]


@pytest.mark.parametrize(("where", "test"), POST_WHERE, ids=[w for w, _ in POST_WHERE])
def test_where_across_relations(gql, blog, where, test):
    root = blog.posts.root
    answer = data(
        gql,
        f"{{ {root}(where: {where}, orderBy: [title]) {{ title }} {root}Count(where: {where}) }}",
    )
    expected = [POSTS[p][0] for p in by_title(live(POSTS)) if test(p)]
    assert [r["title"] for r in answer[root]] == expected
    assert answer[f"{root}Count"] == len(expected)


@pytest.mark.parametrize(("where", "test"), AUTHOR_WHERE, ids=[w for w, _ in AUTHOR_WHERE])
def test_where_across_to_many_relations(gql, blog, where, test):
    root = blog.authors.root
    answer = data(gql, f"{{ {root}(where: {where}, orderBy: [name]) {{ name }} }}")
    expected = sorted(AUTHORS[a][0] for a in live(AUTHORS) if test(a))
    assert [r["name"] for r in answer[root]] == expected


def test_nested_where_through_variables(gql, blog):
    root, t = blog.posts.root, blog.posts.type
    query = f"query($w: {t}Where) {{ {root}(where: $w, orderBy: [title]) {{ title }} }}"
    where = {"tags": {"weight": {"in": [7, 9]}}, "author": {"name": {"not": "Bob"}}}
    expected = [
        POSTS[p][0]
        for p in by_title(live(POSTS))
        if some_tag(p, lambda t: TAGS[t] in (7, 9)) and author_is(p, lambda a: a != "bob")
    ]
    assert [r["title"] for r in data(gql, query, {"w": where})[root]] == expected


# --- which related records: per-relation where, orderBy, limit, offset --------------


def test_per_relation_where_order_and_limit(gql, blog):
    query = f"""query($min: BigInt) {{
      {blog.authors.root}(orderBy: [name]) {{
        name
        posts(where: {{score: {{gte: $min}}}}, orderBy: [score], orderDirection: DESC, limit: 2) {{
          title score
        }}
      }}
      {blog.posts.root}(orderBy: [title]) {{
        title
        tags(orderBy: name, limit: 2, offset: 1) {{ name }}
        none: comments(limit: 0) {{ body }}
      }}
    }}"""
    answer = data(gql, query, {"min": 2})
    assert answer[blog.authors.root] == [
        {
            "name": AUTHORS[a][0],
            "posts": [
                {"title": POSTS[p][0], "score": POSTS[p][1]}
                for p in sorted(
                    (p for p in posts_of(a) if POSTS[p][1] >= 2), key=lambda p: -POSTS[p][1]
                )[:2]
            ],
        }
        for a in sorted(live(AUTHORS), key=lambda a: AUTHORS[a][0])
    ]
    assert answer[blog.posts.root] == [
        {
            "title": POSTS[p][0],
            "tags": [{"name": t} for t in sorted(tags_of(p))[1:3]],
            "none": [],
        }
        for p in by_title(live(POSTS))
    ]


def test_fragments_aliases_and_directives_in_nested_selections(gql, blog):
    query = f"""query($skip: Boolean!) {{
      {blog.posts.root}(where: {{title: {{equals: "Apples"}}}}) {{
        ...P
        a1: author {{ name }}
        a2: author {{ country }}
        t1: tags(limit: 1) {{ name }}
        t2: tags(limit: 1) {{ weight }}
        comments @skip(if: $skip) {{ body }}
      }}
    }}
    fragment P on {blog.posts.type} {{
      title comments {{ ... on {blog.comments.type} {{ body }} }}
    }}"""
    assert data(gql, query, {"skip": True})[blog.posts.root] == [
        {
            "title": "Apples",
            "comments": [{"body": "nice"}, {"body": "meh"}],
            "a1": {"name": "Ann"},
            "a2": {"country": "uk"},
            "t1": [{"name": "alpha"}],
            "t2": [{"weight": 1}],
        }
    ]
    different = f"{{ {blog.posts.root} {{ t1: tags(limit: 1) {{ name }} t2: tags {{ name }} }} }}"
    assert error_code(post(gql, different)) == "BAD_REQUEST"


@pytest.mark.parametrize(
    "selection",
    [
        "comments { post { author { posts { tags { name } } } } }",  # 5 relations deep
        "tags(limit: -1) { name }",
        "tags(limit: 1001) { name }",
    ],
)
def test_reads_core_refuses_are_bad_requests(gql, blog, selection):
    assert error_code(post(gql, f"{{ {blog.posts.root} {{ {selection} }} }}")) == "BAD_REQUEST"


def test_connection_with_nested_nodes(gql, blog):
    root = blog.posts.root
    query = f"""query($after: String) {{
      {root}Connection(first: 3, after: $after, orderBy: [title], where: {{tags: {{}}}}) {{
        totalCount
        edges {{ cursor node {{ title author {{ name }} tags(orderBy: [name]) {{ name }} }} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}"""
    nodes, after = [], None
    while True:
        page = data(gql, query, {"after": after})[f"{root}Connection"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = [p for p in by_title(live(POSTS)) if tags_of(p)]
    assert page["totalCount"] == len(expected)
    assert nodes == [
        {
            "title": POSTS[p][0],
            "author": None if alive(POSTS[p][3]) is None else {"name": AUTHORS[POSTS[p][3]][0]},
            "tags": [{"name": t} for t in sorted(tags_of(p))],
        }
        for p in expected
    ]


# --- writes ----------------------------------------------------------------------------


@pytest.fixture
def fresh(rest, name) -> Blog:
    """An empty blog of this test's own, with two authors and three tags."""
    blog = create_schema(rest, name)
    for key, (author, country) in list(AUTHORS.items())[:2]:
        blog.ids[key] = created(rest, blog.authors, {"name": author, "country": country})
    for key in ("alpha", "beta", "gamma"):
        blog.ids[key] = created(rest, blog.tags, {"name": key, "weight": TAGS[key]})
    return blog


def test_create_update_and_replace_with_relation_ids(gql, fresh):
    t, ids = fresh.posts.type, fresh.ids
    result = "id title author { name } tags { name }"

    def write(verb: str, variables: dict[str, Any], input_type: str = "CreateInput") -> dict:
        head = "$id: ID!, " if "id" in variables else ""
        target = "id: $id, " if "id" in variables else ""
        mutation = f"mutation({head}$in: {t}{input_type}!) {{ {verb}{t}({target}input: $in)"
        return data(gql, f"{mutation} {{ {result} }} }}", variables)[f"{verb}{t}"]

    made = write(
        "create",
        {"in": {"title": "First", "author": ids["ann"], "tags": [ids["beta"], ids["alpha"]]}},
    )
    assert made["title"] == "First" and made["author"] == {"name": "Ann"}
    assert made["tags"] == [{"name": "beta"}, {"name": "alpha"}]  # link order

    changes = {"author": ids["bob"], "tags": [ids["gamma"]]}
    changed = write("update", {"id": made["id"], "in": changes}, "UpdateInput")
    assert changed == {**made, "author": {"name": "Bob"}, "tags": [{"name": "gamma"}]}
    cleared = write("update", {"id": made["id"], "in": {"author": None, "tags": []}}, "UpdateInput")
    assert cleared == {**made, "author": None, "tags": []}
    replaced = write("replace", {"id": made["id"], "in": {"title": "Again", "author": ids["ann"]}})
    assert replaced == {**made, "title": "Again", "tags": []}

    # The reverse one_to_many sees the post, and is not in the author's inputs.
    authors = fresh.authors
    reverse = data(gql, f'{{ {authors.root}ById(id: "{ids["ann"]}") {{ posts {{ title }} }} }}')
    assert reverse[f"{authors.root}ById"] == {"posts": [{"title": "Again"}]}
    refused = f'mutation {{ create{authors.type}(input: {{name: "X", posts: []}}) {{ id }} }}'
    assert error_code(post(gql, refused)) == "BAD_REQUEST"


def test_batch_create_reads_related_records(gql, fresh):
    t, ids = fresh.posts.type, fresh.ids
    answer = data(
        gql,
        f"mutation($in: [{t}CreateInput!]!) {{ batchCreate{t}(input: $in) {{"
        " successful { title author { name } tags { name } } successCount } }",
        {
            "in": [
                {"title": "B1", "author": ids["bob"], "tags": [ids["gamma"]]},
                {"title": "B0", "tags": [ids["alpha"], ids["beta"]]},
            ]
        },
    )[f"batchCreate{t}"]
    assert answer == {
        "successful": [
            {"title": "B1", "author": {"name": "Bob"}, "tags": [{"name": "gamma"}]},
            {"title": "B0", "author": None, "tags": [{"name": "alpha"}, {"name": "beta"}]},
        ],
        "successCount": 2,
    }


@pytest.mark.parametrize(
    ("field", "value"), [("author", '"no-such-author"'), ("tags", '["no-such-tag"]')]
)
def test_a_missing_target_is_a_validation_error(gql, fresh, field, value):
    t = fresh.posts.type
    body = post(gql, f'mutation {{ create{t}(input: {{title: "x", {field}: {value}}}) {{ id }} }}')
    assert error_code(body) == "VALIDATION_ERROR"
    assert body["errors"][0]["extensions"]["details"][0]["field"] == field
    assert data(gql, f"{{ {fresh.posts.root}Count }}") == {f"{fresh.posts.root}Count": 0}


# --- the schema ------------------------------------------------------------------------


def test_a_relation_to_a_left_out_collection_is_left_out(gql, rest, name):
    # `<name>_where` is named like `<name>`'s where input, so it is left out, and so is a
    # relation to it; the rest of `<name>` works.
    for collection, fields in (
        (f"{name}_where", [{"name": "label", "type": "string"}]),
        (
            name,
            [{"name": "label", "type": "string"}, relation("link", f"{name}_where", "many_to_one")],
        ),
    ):
        answer = rest.post(
            "/api/v1/schema/collections", json={"name": collection, "fields": fields}
        )
        assert answer.status_code == 201, answer.text
    sdl = gql.get("/graphql/schema.graphql").text
    assert f"# collection '{name}_where' is left out" in sdl
    assert (
        f"# field {name}.link is left out: its target collection '{name}_where'"
        " is not in the GraphQL schema"
    ) in sdl
    record_type = sdl[sdl.index(f"type {pascal(name)} {{") :].split("}")[0]
    assert "label" in record_type and "link" not in record_type
    assert gql.get("/graphql/schema.graphql").text == sdl  # the same every time
    assert data(gql, f"{{ {camel(name)}Count }}") == {f"{camel(name)}Count": 0}
