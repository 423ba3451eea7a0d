"""`kgnlu train re` trains with the shipped model's torch thread count, whatever the process uses."""

from __future__ import annotations

import pytest


class _Stop(Exception):
    pass


@pytest.mark.parametrize("ambient", [1, 3])
def test_relation_training_pins_the_recipes_thread_count_and_restores_the_callers(monkeypatch, tmp_path, ambient):
    """A backward pass's float sums follow torch's thread count, so a machine with other cores trained
    other weights from the same seed and data; the shipped model records 2 threads."""
    import torch

    from kgnlu.config import RE_RECIPE_THREADS
    from kgnlu.training import re_train

    seen = []

    def first_step(data_dir):  # the first thing training does: stop there, with the count it runs under
        seen.append(torch.get_num_threads())
        raise _Stop

    monkeypatch.setattr(re_train, "label_set", first_step)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(ambient)
        with pytest.raises(_Stop):
            re_train.train(tmp_path / "kg", tmp_path / "data", tmp_path / "out", progress=lambda _: None)
        assert seen == [RE_RECIPE_THREADS] and torch.get_num_threads() == ambient
    finally:
        torch.set_num_threads(before)
