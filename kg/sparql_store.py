"""``SPARQLStore``: the store protocol over a SPARQL 1.1 endpoint (Oxigraph server, Fuseki, ...).

Each source lives in a named graph of its own, ``urn:kgnlu:<kg>:source:<name>:<token>``, where
``<kg>`` identifies one KG directory and ``<token>`` is new for every load. A KG's graphs are not
covered by the KG directory's generation swap, so a write never touches a graph that a published
generation lists: it loads into new graphs, the new manifest lists them (``describe()``), and
the graphs no manifest lists any more are dropped after publishing (``collect_garbage``). A write
that fails or is killed leaves only unlisted graphs, which the next write drops. Readers see only
the graphs their manifest lists.

The triples of all sources are also kept merged in one graph (``...:union:<token>``; the source's
own graph when there is one source): SPARQL's default graph for user queries, and the graph
``triples()`` and ``count()`` read. A triple told by two sources is then one triple, as in the
embedded store (Oxigraph repeats it when a query's dataset names several default graphs).

HTTP is the standard library's: SPARQL 1.1 Protocol for queries and updates, and the Graph Store
HTTP Protocol for bulk loads where the server has it (else ``INSERT DATA``).

``url`` is the base of the endpoints: ``<url>/query``, ``<url>/update`` and ``<url>/store`` (or
``<url>/data``) for Oxigraph's root or a Fuseki dataset; a URL ending in ``/sparql`` (Virtuoso,
QLever) takes queries and updates itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import InputError, StoreError
from .ntriples import parse_line, term
from .store import SparqlResult, TripleStore
from .terms import Literal, Term, Triple
from .vocab import ONTOLOGY as OWL_ONTOLOGY, RDF_TYPE, XSD_STRING

RESULTS_JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"
DEFAULT_TIMEOUT = 300.0
INSERT_CHUNK = 5000  # triples per INSERT DATA request


def check_url(url: str) -> str:
    """``url`` without a trailing ``/``, or an ``InputError`` when it is not an http(s) URL."""
    if not isinstance(url, str):
        raise InputError(f"bad SPARQL store URL {url!r}")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"bad SPARQL store URL {url!r}: expected http(s)://host[:port][/path]")
    return url.strip().rstrip("/")


class SPARQLStore(TripleStore):
    """A KG's sources in the named graphs of one SPARQL 1.1 endpoint.

    Args:
        url: the endpoint base (see the module).
        kg_id: names this KG's graphs (``urn:kgnlu:<kg_id>:``); new and random when None.
        graphs: source name -> graph, the graphs a manifest lists (empty for a new KG).
        union: the merged graph a manifest lists (None: built when first needed).
        keep_removed: do not drop graphs this store stops using (a removed or replaced source, a
            stale union), because a published generation may still list them; ``collect_garbage``
            drops them after publishing. Off, they are dropped at once.
        timeout: seconds for each HTTP request.
    """

    def __init__(self, url: str, kg_id: str | None = None, graphs: dict[str, str] | None = None,
                 union: str | None = None, keep_removed: bool = False, timeout: float = DEFAULT_TIMEOUT):
        self.url = check_url(url)
        if self.url.endswith("/sparql"):
            self.query_url = self.update_url = self.url
            self._gsp_urls = []
        else:
            base = self.url.removesuffix("/query")
            self.query_url, self.update_url = f"{base}/query", f"{base}/update"
            self._gsp_urls = [f"{base}/store", f"{base}/data"]
        self.kg_id = kg_id or uuid.uuid4().hex[:16]
        self.prefix = f"urn:kgnlu:{self.kg_id}:"
        self.graphs = dict(graphs or {})
        self._union = union if self.graphs else None
        self.keep_removed = keep_removed
        self.timeout = timeout

    @classmethod
    def from_manifest(cls, manifest: dict, **kwargs) -> SPARQLStore:
        """The store a manifest records (``manifest["store"]``), seeing only the graphs it lists."""
        rec = manifest["store"]
        return cls(rec["url"], rec["kg"], rec.get("graphs"), rec.get("union"), **kwargs)

    def describe(self) -> dict:
        """What a manifest records: the URL, this KG's id, each source's graph and the union graph."""
        return {"url": self.url, "kg": self.kg_id, "graphs": dict(sorted(self.graphs.items())),
                "union": self._union_graph()}

    def listed(self) -> set[str]:
        return set(self.graphs.values()) | ({self._union} if self._union else set())

    def commit(self) -> None:
        """Every update is committed by the server as it is sent; kept for ``OwlreadyStore``'s callers."""

    # -- HTTP ----------------------------------------------------------------------------------

    def _post(self, url: str, body, content_type: str, accept: str | None = None, query: bool = False,
              params: list[tuple[str, str]] | None = None, length: int | None = None):
        """The open response of a POST; one-line errors (a 4xx to a query is the query's fault)."""
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if length is not None:
            headers["Content-Length"] = str(length)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            detail = " ".join(e.read(2000).decode("utf-8", "replace").split())[:200] or e.reason
            if query and 400 <= e.code < 500:
                raise InputError(f"SPARQL query failed ({e.code}): {detail}") from None
            raise StoreError(f"SPARQL store {url.split('?')[0]} answered {e.code}: {detail}") from None
        except TimeoutError:
            raise StoreError(f"SPARQL store {self.url} did not answer within {self.timeout:g} s") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise StoreError(f"cannot reach the SPARQL store at {self.url}: {reason}") from None

    def _select(self, query: str, default_graphs: Iterable[str] = (), user: bool = False) -> SparqlResult:
        params = [("default-graph-uri", g) for g in default_graphs]
        body = urllib.parse.urlencode([("query", query), *params]).encode()
        with self._post(self.query_url, body, "application/x-www-form-urlencoded",
                        f"{RESULTS_JSON}, {NTRIPLES};q=0.9", query=user) as resp:
            kind = resp.headers.get_content_type()
            try:
                if kind == NTRIPLES:
                    return SparqlResult(["subject", "predicate", "object"],
                                        [list(t) for t in _read_ntriples(resp)])
                if kind in (RESULTS_JSON, "application/json"):
                    data = json.load(resp)
                else:
                    raise StoreError(f"SPARQL store {self.url} answered in {kind}, not SPARQL JSON results or N-Triples")
            except TimeoutError:
                raise StoreError(f"SPARQL store {self.url} did not answer within {self.timeout:g} s") from None
        if "boolean" in data:
            return SparqlResult(["ask"], [[Literal(str(bool(data["boolean"])).lower())]])
        variables = data["head"].get("vars", [])
        rows = [[_json_term(b.get(v)) for v in variables] for b in data["results"]["bindings"]]
        return SparqlResult(variables, rows)

    def _construct(self, query: str) -> Iterator[Triple]:
        """A CONSTRUCT's triples, streamed as N-Triples (a whole KG does not fit a JSON document)."""
        body = urllib.parse.urlencode({"query": query}).encode()
        with self._post(self.query_url, body, "application/x-www-form-urlencoded", NTRIPLES) as resp:
            try:
                yield from _read_ntriples(resp)
            except TimeoutError:
                raise StoreError(f"SPARQL store {self.url} did not answer within {self.timeout:g} s") from None

    def _update(self, update: str) -> None:
        with self._post(self.update_url, update.encode("utf-8"), "application/sparql-update"):
            pass

    def _value(self, query: str) -> int:
        rows = self._select(query).rows
        return int(rows[0][0].value) if rows and rows[0][0] is not None else 0

    # -- graphs --------------------------------------------------------------------------------

    def _new_graph(self, kind: str) -> str:
        return f"{self.prefix}{kind}:{uuid.uuid4().hex[:12]}"

    def _retire(self, graph: str | None) -> None:
        if graph and not self.keep_removed:
            self.drop([graph])

    def drop(self, graphs: Iterable[str]) -> None:
        graphs = sorted(graphs)
        if graphs:
            self._update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs))

    def kg_graphs(self) -> set[str]:
        """Every graph on the server that belongs to this KG, listed or not."""
        rows = self._select(f'SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ }} FILTER(STRSTARTS(STR(?g), "{self.prefix}")) }}').rows
        return {r[0] for r in rows if isinstance(r[0], str)}

    def collect_garbage(self, keep: set[str] | None = None) -> list[str]:
        """Drop this KG's graphs outside ``keep`` (default: the graphs this store lists)."""
        keep = self.listed() if keep is None else keep
        debris = self.kg_graphs() - keep
        self.drop(debris)
        return sorted(debris)

    def _union_graph(self) -> str | None:
        """The graph holding every source's triples once: built when the sources changed."""
        if not self.graphs:
            return None
        if self._union is None:
            if len(self.graphs) == 1:
                self._union = next(iter(self.graphs.values()))
            else:
                union = self._new_graph("union")
                values = " ".join(f"<{g}>" for g in sorted(self.graphs.values()))
                self._update(f"INSERT {{ GRAPH <{union}> {{ ?s ?p ?o }} }} WHERE {{ VALUES ?g {{ {values} }} "
                             f"GRAPH ?g {{ ?s ?p ?o }} }}")
                self._union = union
        return self._union

    def _sources_changed(self) -> None:
        if self._union is not None and self._union.startswith(f"{self.prefix}union:"):
            self._retire(self._union)
        self._union = None

    def declared_ontology_iri(self, source: str) -> str | None:
        rows = self._select(f"SELECT ?o WHERE {{ GRAPH <{self.graphs[source]}> {{ ?o <{RDF_TYPE}> <{OWL_ONTOLOGY}> }} }} "
                            "ORDER BY ?o LIMIT 1").rows
        return rows[0][0] if rows else None

    # -- hooks ---------------------------------------------------------------------------------

    def _load_ntriples(self, source: str, path: Path) -> int:
        graph = self._new_graph(f"source:{source}")
        if not self._graph_store_post(graph, path):
            with open(path, encoding="utf-8") as f:
                self._insert(graph, (line for line in f if line.strip() and not line.lstrip().startswith("#")))
        self.graphs[source] = graph
        self._sources_changed()
        return self._count(source)

    def _graph_store_post(self, graph: str, path: Path) -> bool:
        """Load ``path`` with the Graph Store Protocol; False when the server has none."""
        size = Path(path).stat().st_size
        while self._gsp_urls:
            try:
                with open(path, "rb") as f, self._post(self._gsp_urls[0], f, NTRIPLES, params=[("graph", graph)],
                                                       length=size):
                    return True
            except StoreError as e:
                if not any(f"answered {code}" in str(e) for code in (404, 405)):
                    raise
                self._gsp_urls.pop(0)  # not this server's path: try the next, then INSERT DATA
        return False

    def _insert(self, graph: str, lines: Iterable[str]) -> None:
        """``INSERT DATA`` in chunks. A blank node's label means one node only within one request,
        so the triples that share blank nodes go in the same chunk."""
        for chunk in _chunks_keeping_blank_nodes_together(list(lines), INSERT_CHUNK):
            self._update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{''.join(chunk)}\n}} }}")

    def _add(self, source: str, triples: list[Triple]) -> int:
        before = self._count(source) if source in self.graphs else 0
        graph = self.graphs.get(source) or self._new_graph(f"source:{source}")
        self._insert(graph, (f"{term(s)} <{p}> {term(o)} .\n" for s, p, o in triples))
        self.graphs[source] = graph
        self._sources_changed()
        return self._count(source) - before

    def _remove_source(self, source: str) -> int:
        n = self._count(source)
        graph = self.graphs.pop(source)
        self._sources_changed()
        self._retire(graph)
        return n

    def _triples(self, s, p, o, source) -> Iterator[Triple]:
        graph = self.graphs[source] if source is not None else self._union_graph()
        if graph is None:
            return
        # A blank node in a query pattern is a variable, not that node: match it by its label here.
        slots = []
        for name, t in (("s", s), ("p", p), ("o", o)):
            blank = isinstance(t, str) and t.startswith("_:")
            slots.append(f"?{name}" if t is None or blank else term(t) if isinstance(t, Literal) else f"<{t}>")
        pattern = " ".join(slots)
        filters = " ".join(f"FILTER(isBlank(?{n}))" for n, t in (("s", s), ("o", o))
                           if isinstance(t, str) and t.startswith("_:"))
        for triple in self._construct(f"CONSTRUCT {{ {pattern} }} WHERE {{ GRAPH <{graph}> {{ {pattern} }} {filters} }}"):
            if all(want is None or got == want for got, want in zip(triple, (s, p, o))):
                yield triple

    def _sparql(self, query: str) -> SparqlResult:
        # A dataset given in the protocol replaces the query's own FROM clauses; a KG with no source
        # still names one (absent) graph, or the server would use its whole default graph.
        union = self._union_graph() or f"{self.prefix}empty"
        return self._select(query, [union], user=True)

    def _sources(self) -> list[str]:
        return sorted(self.graphs)

    def _count(self, source: str | None) -> int:
        graph = self.graphs[source] if source is not None else self._union_graph()
        if graph is None:
            return 0
        return self._value(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")


def _json_term(b: dict | None) -> Term | None:
    if b is None:
        return None
    kind, value = b["type"], b["value"]
    if kind == "uri":
        return value
    if kind == "bnode":
        return f"_:{value}"
    lang = b.get("xml:lang")
    datatype = b.get("datatype")
    return Literal(value, None if lang or datatype == XSD_STRING else datatype, lang)


def _read_ntriples(lines) -> Iterator[Triple]:
    for raw in lines:
        t = parse_line(raw.decode("utf-8"))
        if t is not None:
            s, p, o = t
            if isinstance(o, Literal) and o.datatype == XSD_STRING:
                o = Literal(o.value)  # as OwlreadyStore: both backends give equal triples
            yield s, p, o


def _chunks_keeping_blank_nodes_together(lines: list[str], size: int) -> Iterator[list[str]]:
    """``lines`` (N-Triples) in chunks of about ``size``; lines linked through blank nodes stay in one."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    blanks_of = []
    for line in lines:
        t = parse_line(line)
        blanks = [x for x in (t[0], t[2]) if isinstance(x, str) and x.startswith("_:")] if t else []
        if len(blanks) == 2:
            parent[find(blanks[0])] = find(blanks[1])
        blanks_of.append(blanks)
    groups: dict[str, list[str]] = {}
    chunk: list[str] = []
    for line, blanks in zip(lines, blanks_of):
        if blanks:
            groups.setdefault(find(blanks[0]), []).append(line)
        else:
            chunk.append(line)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    for group in groups.values():
        chunk.extend(group)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- a KG directory's use of the store -------------------------------------------------------------


def open_for_write(manifest: dict, url: str | None, kg_root: Path) -> SPARQLStore | None:
    """The SPARQL store a write to a KG goes to (None: the KG is embedded), after dropping the
    debris of earlier writes that failed. The first write with ``url`` records it in the manifest;
    later writes use the recorded store and refuse another URL."""
    rec = manifest.get("store")
    if url is not None:
        url = check_url(url)
        if rec and rec["url"] != url:
            raise InputError(f"the KG at {kg_root} lives in the SPARQL store {rec['url']}, not {url}: "
                             "give that URL or none")
        if not rec and manifest["sources"]:
            raise InputError(f"the KG at {kg_root} is embedded (its own quadstore); "
                             f"ingest into a new KG directory to use the SPARQL store {url}")
    if not rec and url is None:
        return None
    store = SPARQLStore.from_manifest(manifest, keep_removed=True) if rec else SPARQLStore(url, keep_removed=True)
    store.collect_garbage()
    manifest["store"] = store.describe()
    return store


def collect_after_publish(manifest: dict) -> None:
    """Drop the graphs the just-published ``manifest`` no longer lists (a removed or replaced
    source, the old union). Best effort: what stays is dropped by the next write."""
    if manifest.get("store"):
        try:
            SPARQLStore.from_manifest(manifest).collect_garbage()
        except StoreError:
            pass
