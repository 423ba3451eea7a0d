"""The schema of ``tables.sqlite3``: what ``kg.tables_build`` writes and ``kg.tables.ClosureTables`` reads.

Entities (classes, properties, individuals) and sources are interned as integers; every other
table holds ids. A row's ``source`` is the source (or ``reasoner:<name>``) that stated it.

- ``edges``: told and reasoner-added ``sub ⊑ sup`` between named classes (``rdf:type`` is in ``types``).
- ``ancestors``: the transitive closure of ``edges`` and ``equivalents``, with the distance and
  the predecessor on one shortest path, from which a proof chain is read back.
- ``disjoint_decl``: declared disjoint pairs, both ways; ``disjoint_with(cls, via, other)``: ``cls``
  is under ``via`` (or is it) and ``via`` is declared disjoint with ``other``; ``disjoint_notes``:
  how a source derived a declared pair (the ``rdfs:comment`` on its ``owl:Axiom``), both ways.
- ``unsatisfiable``: classes under both sides of a disjoint pair, or proved empty by a reasoner.
- ``relations``: class-level ``C ⊑ ∃p.D`` (``negated``: ``C ⊑ ¬∃p.D``); ``assertions``:
  individual-level ``a p b``.
- ``properties``, ``prop_domain``, ``prop_range``, ``prop_inverse``, ``prop_ancestors``: the
  property inventory and its axioms; ``deprecated``: deprecated entities and their replacements.
"""

# SQLite's memory map for read-mostly databases (address space, not memory: pages load on use).
MMAP_BYTES = 1 << 30

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE entities (id INTEGER PRIMARY KEY, iri TEXT UNIQUE NOT NULL, kind TEXT, label TEXT, source TEXT);
CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE edges (sub INTEGER, sup INTEGER, source INTEGER, PRIMARY KEY (sub, sup, source));
CREATE TABLE ancestors (cls INTEGER, anc INTEGER, dist INTEGER, pred INTEGER, PRIMARY KEY (cls, anc)) WITHOUT ROWID;
CREATE TABLE equivalents (a INTEGER, b INTEGER, source INTEGER, PRIMARY KEY (a, b, source));
CREATE TABLE disjoint_decl (a INTEGER, b INTEGER, source INTEGER, PRIMARY KEY (a, b, source));
CREATE TABLE disjoint_notes (a INTEGER, b INTEGER, note TEXT, PRIMARY KEY (a, b));
CREATE TABLE disjoint_with (cls INTEGER, via INTEGER, other INTEGER, PRIMARY KEY (cls, via, other)) WITHOUT ROWID;
CREATE TABLE unsatisfiable (cls INTEGER PRIMARY KEY, via INTEGER, other INTEGER, reason TEXT);
CREATE TABLE properties (id INTEGER PRIMARY KEY, kind TEXT, transitive INTEGER, symmetric INTEGER, functional INTEGER);
CREATE TABLE prop_domain (prop INTEGER, cls INTEGER, source INTEGER, PRIMARY KEY (prop, cls, source));
CREATE TABLE prop_range (prop INTEGER, cls INTEGER, source INTEGER, PRIMARY KEY (prop, cls, source));
CREATE TABLE prop_inverse (prop INTEGER, inverse INTEGER, PRIMARY KEY (prop, inverse));
CREATE TABLE prop_ancestors (prop INTEGER, anc INTEGER, dist INTEGER, PRIMARY KEY (prop, anc));
CREATE TABLE relations (subj INTEGER, prop INTEGER, obj INTEGER, negated INTEGER, source INTEGER);
CREATE TABLE assertions (subj INTEGER, prop INTEGER, obj INTEGER, source INTEGER);
CREATE TABLE types (ind INTEGER, cls INTEGER, source INTEGER, PRIMARY KEY (ind, cls, source));
CREATE TABLE deprecated (id INTEGER PRIMARY KEY, replaced_by INTEGER);
"""
INDEXES = """
CREATE INDEX edges_sup ON edges (sup);
CREATE INDEX anc_anc ON ancestors (anc);
CREATE INDEX rel_subj ON relations (subj);
CREATE INDEX rel_obj ON relations (obj);
CREATE INDEX asr_subj ON assertions (subj);
CREATE INDEX asr_obj ON assertions (obj);
CREATE INDEX types_cls ON types (cls);
"""
