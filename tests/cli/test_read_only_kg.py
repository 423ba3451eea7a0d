"""Answering from a KG directory that cannot be written (mounted read-only after a first use, as
docs/scaling.md suggests): the caches a first use built are read, and what is missing and cannot
be built is a one-line error."""

from __future__ import annotations

from tests.conftest import run_cli

PAIR = ("--premise", "I like eating apples", "--hypothesis", "I like eating fruit")


def test_infer_and_dense_link_answer_from_a_read_only_kg(kg_copy, freeze, hash_tree):
    warm = [run_cli("infer", "--kg", kg_copy, *PAIR), run_cli("link", "--kg", kg_copy, "--dense", "-k", "3", "apple")]
    assert all(r.returncode == 0 for r in warm), [r.stderr for r in warm]
    before = hash_tree(freeze(kg_copy))
    infer = run_cli("infer", "--kg", kg_copy, *PAIR)
    assert infer.returncode == 0 and infer.stdout == warm[0].stdout, infer.stderr
    link = run_cli("link", "--kg", kg_copy, "--dense", "-k", "3", "apple")
    assert link.returncode == 0 and link.stdout == warm[1].stdout, link.stderr
    assert hash_tree(kg_copy) == before


def test_a_dense_index_a_read_only_kg_lacks_is_a_one_line_error(kg_copy, freeze, minilm_folder, hash_tree):
    """Another encoder needs its own index, which the read-only KG cannot hold."""
    warm = run_cli("infer", "--kg", kg_copy, *PAIR)
    assert warm.returncode == 0, warm.stderr
    before = hash_tree(freeze(kg_copy))
    res = run_cli("infer", "--kg", kg_copy, "--dense", "--encoder", minilm_folder, *PAIR)
    assert res.returncode == 2 and len(res.stderr_lines) == 1, res.stderr
    assert "no usable dense lexicon index" in res.stderr and "read-only" in res.stderr
    assert hash_tree(kg_copy) == before


def test_link_on_a_read_only_kg_without_its_rewrite_cache_answers_as_on_a_writable_one(kg_copy, freeze, hash_tree):
    """A cache built under older settings is rebuilt on first use, which a read-only KG cannot
    hold: the rules are mined for the process instead of linking without them."""
    text = "Fruit, citrus"  # a whole term only a rewrite names
    warm = run_cli("link", "--kg", kg_copy, "--json", text)
    assert warm.returncode == 0 and '"via": "rewrite"' in warm.stdout, warm.stdout
    for cache in (kg_copy / "cache").glob("rewrite-*"):
        cache.unlink()
    before = hash_tree(freeze(kg_copy))
    res = run_cli("link", "--kg", kg_copy, "--json", text)
    assert res.returncode == 0 and res.stdout == warm.stdout, res.stderr
    assert hash_tree(kg_copy) == before
