"""MiniLMEncoder: same vectors as sentence-transformers, deterministic, unit length, LoRA adapters."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.neural.encoder import MiniLMEncoder, TextEncoder, default_model_path  # noqa: E402

TEXTS = ["ascorbic acid", "  Abnormality of the eye ", "type 2 diabetes mellitus", "a", "vitamin C",
         "seizure", "Generalized-onset tonic-clonic seizure with focal features", "héllo wörld"]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder(device="cpu")


def test_is_a_text_encoder(encoder):
    assert isinstance(encoder, TextEncoder)
    assert encoder.dim == 384 and len(encoder.fingerprint) == 16
    assert "MiniLMEncoder" in repr(encoder)


def test_matches_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(default_model_path()), device="cpu")
    ref = st.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encoder.encode(TEXTS, batch_size=3), ref, atol=1e-5)


def test_unit_length_float32_in_input_order(encoder):
    v = encoder.encode(TEXTS)
    assert v.dtype == np.float32 and v.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    single = np.stack([encoder.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(v, single, atol=1e-5)  # batching and sorting do not reorder rows


def test_deterministic(encoder):
    a = encoder.encode(TEXTS, batch_size=4)
    b = encoder.encode(TEXTS, batch_size=4)
    assert (a == b).all()
    rev = encoder.encode(TEXTS[::-1], batch_size=4)[::-1]
    np.testing.assert_allclose(a, rev, atol=1e-5)


def test_empty_and_progress(encoder):
    assert encoder.encode([]).shape == (0, 384)
    calls = []
    encoder.encode(TEXTS, batch_size=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 8), (6, 8), (8, 8)]


def test_lora_adapter_changes_vectors_and_fingerprint(encoder, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel

    import torch

    torch.manual_seed(0)
    base = AutoModel.from_pretrained(str(default_model_path()), local_files_only=True)
    # init_lora_weights=False: random A *and* B, so the adapter is not the identity at init.
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"],
                                                 init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()

    tuned = MiniLMEncoder(adapter=tmp_path / "adapter", device="cpu")
    assert tuned.fingerprint != encoder.fingerprint
    assert MiniLMEncoder(adapter=tmp_path / "adapter", device="cpu").fingerprint == tuned.fingerprint
    v0, v1 = encoder.encode(TEXTS), tuned.encode(TEXTS)
    assert np.abs(v0 - v1).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(v1, axis=1), 1.0, atol=1e-5)

    # The merged model computes what the unmerged peft model computes.
    with torch.inference_mode():
        batch = tuned.tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
        a = peft_model.eval()(**batch).last_hidden_state
        b = tuned.model(**batch).last_hidden_state
    keep = batch["attention_mask"].bool()  # padding rows: zero in MiniBert, filled in BertModel
    assert not keep.all() and torch.allclose(a[keep], b[keep], atol=1e-4)


def test_bad_adapter_and_device(tmp_path):
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        MiniLMEncoder(adapter=tmp_path)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            MiniLMEncoder(device="cuda")


def test_auto_device_is_the_configs(monkeypatch):
    """The encoders read "auto" as ``kgnlu.config.resolve_device`` does (they had a copy of it)."""
    import torch

    from kgnlu import config
    from kgnlu.neural.encoder import _resolve_device

    assert _resolve_device("auto") == config.resolve_device("auto") and _resolve_device("cpu") == "cpu"
    monkeypatch.setattr(config, "resolve_device", lambda device="auto": "meta" if device == "auto" else device)
    assert _resolve_device("auto") == "meta"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="torch sees no CUDA GPU"):
            _resolve_device("cuda:0")

def test_fingerprint_depends_on_max_length():
    from kgnlu.neural.encoder import encoder_fingerprint

    p = default_model_path()
    assert encoder_fingerprint(p, None, 64) != encoder_fingerprint(p, None, 128)


def test_sentence_transformers_folder_encoder(encoder, tmp_path, no_network):
    """The larger encoder's path (mpnet cannot run on minibert), checked on MiniLM's own folder."""
    from kgnlu.neural.encoder import SentenceTransformerEncoder

    st = SentenceTransformerEncoder(default_model_path(), device="cpu")
    assert no_network.attempts == []  # a local folder, read without the hub
    assert isinstance(st, TextEncoder) and st.dim == 384 and len(st.fingerprint) == 16
    calls = []
    v = st.encode(TEXTS, batch_size=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 8), (6, 8), (8, 8)] and v.dtype == np.float32
    np.testing.assert_allclose(v, encoder.encode(TEXTS), atol=1e-5)
    assert st.fingerprint == SentenceTransformerEncoder(default_model_path(), device="cpu", max_length=64).fingerprint
    assert st.fingerprint != SentenceTransformerEncoder(default_model_path(), device="cpu", max_length=32).fingerprint
    assert st.encode([]).shape == (0, 384)
    with pytest.raises(FileNotFoundError, match="no modules.json"):
        SentenceTransformerEncoder(tmp_path)


def test_a_calibrated_threshold_beside_the_model_keeps_its_fingerprint(minilm_folder):
    """kgnlu train linker --calibrate-only writes linker.json into the model folder, for that fingerprint: were the
    file part of the fingerprint, writing it would orphan itself and re-embed the whole lexicon."""
    from kgnlu.neural.encoder import CALIBRATION_FILE, SentenceTransformerEncoder
    from kgnlu.tasks.linking import NIL_FILE

    assert CALIBRATION_FILE == NIL_FILE
    folder = minilm_folder
    before = SentenceTransformerEncoder(folder, device="cpu").fingerprint
    (folder / NIL_FILE).write_text('{"nil_threshold": 0.5, "encoder": "%s"}' % before)
    assert SentenceTransformerEncoder(folder, device="cpu").fingerprint == before
