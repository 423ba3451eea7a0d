"""The dev set a model's manifest records, rebuilt for the gate fit (``kgnlu.training.nli_gate``)."""

from __future__ import annotations

import json

import pytest

from kgnlu.training.nli_gate import recorded_dev_set
from kgnlu.training.nli_train import file_sha256, read_extra
from kgnlu.types import InputError


def _rows(n: int, source: str = "X_train") -> str:
    return "".join(json.dumps({"premise": f"p{i}", "hypothesis": f"h{i}", "label": "neutral", "source": source}) + "\n"
                   for i in range(n))


def test_a_moved_file_gives_the_dev_part_training_drew(tmp_path):
    """The split is seeded by the path training read: the same file elsewhere gives the same pairs,
    and a changed file is refused rather than split anew."""
    old, new, data = tmp_path / "old", tmp_path / "new", tmp_path / "data"
    for d in (old, new, data):
        d.mkdir()
    (old / "real.jsonl").write_text(_rows(40))
    (data / "dev.jsonl").write_text(_rows(5, "generated"))
    _, dev, recipe = read_extra([f"{old / 'real.jsonl'}#X_train"], seed=7)
    manifest = {"training": {"dev_sha256": file_sha256(data / "dev.jsonl"),
                             "options": {"seed": 7, "max_dev": 3, "max_extra": None, "extra": recipe}}}
    (old / "real.jsonl").rename(new / "real.jsonl")
    got = recorded_dev_set(manifest, data, real_dir=new)
    assert got[:3] == [json.loads(x) for x in _rows(3, "generated").splitlines()]
    assert got[3:] == dev and len(dev) == 4
    with pytest.raises(InputError, match="pass the folder"):
        recorded_dev_set(manifest, data)
    (new / "real.jsonl").write_text(_rows(41))
    with pytest.raises(InputError, match="not the file this model was trained on"):
        recorded_dev_set(manifest, data, real_dir=new)
