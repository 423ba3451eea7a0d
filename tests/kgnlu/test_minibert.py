"""The inference copy of BERT (kgnlu.neural.minibert) against transformers + peft, on the real
packaged checkpoint and the shipped adapters: same token ids, same hidden states, same merge."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kgnlu.neural.encoder import default_model_path
from kgnlu.neural.minibert import BertConfig, MiniBert, WordPieceTokenizer, merge_lora
from kgnlu.neural.re_head import MARKER_TOKENS

ASSETS = Path(__file__).resolve().parents[2] / "src" / "kgnlu" / "assets"
BASE = default_model_path()

PREMISES = [
    "The patient has focal seizures.",
    "No fever, cough or rash; denies chest pain.",
    "Ça fait mal — naïve café, Straße, 東京 and ΑΒΓ letters",
    "HbA1c 7.2% (ref <6.5%); BP 140/90 mmHg!!",
    "word " * 200,  # longer than max_length: truncated longest-first with the pair
    "",
]
HYPOTHESES = ["The patient has seizures.", "The patient is febrile.", "naive cafe", "diabetes " * 80, "x", "y"]


def real(hidden: torch.Tensor, batch) -> torch.Tensor:
    """The hidden states of real tokens: MiniBert leaves padding rows zero, BertModel fills them."""
    return hidden[batch["attention_mask"].bool()]


@pytest.fixture(scope="module")
def hf():
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(BASE), local_files_only=True)


@pytest.mark.parametrize("max_length", [128, 16])
def test_pair_token_ids_equal_transformers(hf, max_length):
    ours = WordPieceTokenizer(BASE)(PREMISES, HYPOTHESES, max_length=max_length)
    theirs = hf(PREMISES, HYPOTHESES, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(ours[key], theirs[key]), key


def test_marker_tokens_kept_whole_as_transformers_does(hf):
    hf.add_special_tokens({"additional_special_tokens": list(MARKER_TOKENS)})
    texts = ["[unused0] Aspirin [unused1] treats [unused2] headache [unused3] in adults.",
             "Fever [unused0]x[unused1] and [UNUSED2] upper case"]
    ours = WordPieceTokenizer(BASE, MARKER_TOKENS)
    assert torch.equal(ours(texts, max_length=96)["input_ids"],
                       hf(texts, padding=True, truncation=True, max_length=96, return_tensors="pt")["input_ids"])
    assert ours.convert_tokens_to_ids(list(MARKER_TOKENS)) == hf.convert_tokens_to_ids(list(MARKER_TOKENS))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        WordPieceTokenizer(BASE, ["[E1-not-a-token]"])


def test_hidden_states_equal_bert_model(hf):
    from transformers import AutoModel

    theirs = AutoModel.from_pretrained(str(BASE), local_files_only=True).eval()
    ours = MiniBert.from_pretrained(BASE)
    batch = WordPieceTokenizer(BASE)(PREMISES, HYPOTHESES, max_length=64)
    assert not batch["attention_mask"].bool().all()  # padding, which MiniBert leaves out of its matmuls
    with torch.inference_mode():
        want = theirs(**batch).last_hidden_state
        torch.testing.assert_close(real(ours(**batch).last_hidden_state, batch), real(want, batch),
                                   rtol=1e-5, atol=1e-5)
        # the relation model's path: marker vectors added to the word embeddings
        embeds = ours.get_input_embeddings()(batch["input_ids"]) + 0.01
        kwargs = {"attention_mask": batch["attention_mask"], "token_type_ids": batch["token_type_ids"]}
        torch.testing.assert_close(real(ours(inputs_embeds=embeds, **kwargs).last_hidden_state, batch),
                                   real(theirs(inputs_embeds=embeds, **kwargs).last_hidden_state, batch),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pack", [False, True])
def test_a_padded_batch_gives_each_text_its_own_states(pack):
    """Real tokens come out as if each pair were encoded alone; padding rows come out zero."""
    model = merge_lora(MiniBert.from_pretrained(BASE), ASSETS / "nli" / "adapter")
    if pack and not model.pack_for_cpu():
        pytest.skip("this torch build has no working oneDNN linear")
    tok = WordPieceTokenizer(BASE)
    batch = tok(PREMISES, HYPOTHESES, max_length=64)
    keep = batch["attention_mask"].bool()
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
        assert torch.count_nonzero(hidden[~keep]) == 0
        for i, (p, h) in enumerate(zip(PREMISES, HYPOTHESES)):
            alone = model(**tok([p], [h], max_length=64)).last_hidden_state[0]
            torch.testing.assert_close(hidden[i][keep[i]], alone, rtol=1e-4, atol=1e-5)


def test_first_layers_kept_alike_in_both(hf):
    """``num_layers``: the inference copy and transformers' BertModel keep the same first layers."""
    from kgnlu.neural.lora import load_base
    from kgnlu.neural.minibert import keep_layers

    theirs = load_base(BASE, 3).eval()
    ours = keep_layers(MiniBert.from_pretrained(BASE), 3)
    assert len(ours.encoder.layer) == len(theirs.encoder.layer) == 3 and theirs.config.num_hidden_layers == 3
    batch = WordPieceTokenizer(BASE)(PREMISES, HYPOTHESES, max_length=64)
    with torch.inference_mode():
        torch.testing.assert_close(real(ours(**batch).last_hidden_state, batch),
                                   real(theirs(**batch).last_hidden_state, batch), rtol=1e-5, atol=1e-5)
        full = MiniBert.from_pretrained(BASE)(**batch).last_hidden_state
        assert not torch.allclose(ours(**batch).last_hidden_state, full, atol=1e-2)
    assert keep_layers(ours, None) is ours and keep_layers(ours, 3) is ours
    with pytest.raises(ValueError, match="1..3"):
        keep_layers(ours, 4)


def _layers(adapter: str) -> int | None:
    """The encoder layers the task model of ``adapter`` keeps (its manifest's ``num_layers``)."""
    manifest = ASSETS / Path(adapter).parent / "manifest.json"
    return json.loads(manifest.read_text())["config"].get("num_layers") if manifest.is_file() else None


@pytest.mark.parametrize("adapter", ["nli/adapter", "re/adapter", "linker"])
def test_merge_equals_peft_merge_and_unload(adapter):
    peft = pytest.importorskip("peft")
    from kgnlu.neural.lora import load_base
    from kgnlu.neural.minibert import keep_layers

    layers = _layers(adapter)
    merged_by_peft = peft.PeftModel.from_pretrained(load_base(BASE, layers), str(ASSETS / adapter)).merge_and_unload()
    want = merged_by_peft.state_dict()
    ours = merge_lora(keep_layers(MiniBert.from_pretrained(BASE), layers), ASSETS / adapter).state_dict()
    for name, value in ours.items():
        torch.testing.assert_close(value, want[name], rtol=0, atol=1e-6, msg=name)
    base = MiniBert.from_pretrained(BASE).state_dict()
    changed = sum(not torch.equal(v, base[k]) for k, v in ours.items())
    assert changed == (layers or 6) * 6  # every LoRA target changed


@pytest.mark.parametrize("adapter", ["nli/adapter", "re/adapter"])
def test_packed_for_cpu_gives_the_same_hidden_states(adapter):
    plain = merge_lora(MiniBert.from_pretrained(BASE), ASSETS / adapter)
    packed = merge_lora(MiniBert.from_pretrained(BASE), ASSETS / adapter)
    if not packed.pack_for_cpu():
        pytest.skip("this torch build has no working oneDNN linear")
    assert packed.encoder.layer[0].attention.self.qkv is not None
    assert not any(p.requires_grad for p in packed.parameters())
    batch = WordPieceTokenizer(BASE)(PREMISES, HYPOTHESES, max_length=64)
    with torch.inference_mode():
        torch.testing.assert_close(packed(**batch).last_hidden_state, plain(**batch).last_hidden_state,
                                   rtol=1e-4, atol=1e-5)
        one = {k: v[:1] for k, v in batch.items()}  # a single pair: the shape the packing is for
        torch.testing.assert_close(packed(**one).last_hidden_state, plain(**one).last_hidden_state,
                                   rtol=1e-4, atol=1e-5)


def test_packing_is_skipped_where_onednn_disagrees(monkeypatch):
    import kgnlu.neural.minibert as minibert

    monkeypatch.setattr(minibert, "_onednn_linear_ok", lambda: False)
    model = MiniBert.from_pretrained(BASE)
    assert model.pack_for_cpu() is False
    assert model.encoder.layer[0].attention.self.qkv is None
    assert isinstance(model.encoder.layer[0].attention.self.query, torch.nn.Linear)


def test_packing_leaves_a_model_off_the_cpu_alone():
    model = MiniBert.from_pretrained(BASE).to("meta")  # stands in for CUDA: any non-CPU device
    assert model.pack_for_cpu() is False
    assert model.encoder.layer[0].attention.self.qkv is None


def test_unsupported_adapter_and_config_are_refused(tmp_path):
    adapter = tmp_path / "adapter"
    shutil.copytree(ASSETS / "nli" / "adapter", adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**cfg, "use_dora": True}))
    with pytest.raises(ValueError, match="use_dora"):
        merge_lora(MiniBert.from_pretrained(BASE), adapter)
    model = tmp_path / "model"
    model.mkdir()
    raw = json.loads((BASE / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**raw, "hidden_act": "relu"}))
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig.read(model)


def test_inference_loads_neither_transformers_nor_peft():
    code = ("import sys; from kgnlu.neural.encoder import MiniLMEncoder; "
            f"from kgnlu.neural.fused import FusedNLI; FusedNLI.load({str(ASSETS / 'nli')!r}, merge=True); "
            "e = MiniLMEncoder(device='cpu'); e.encode(['focal seizure']); "
            "print(sorted(m for m in ('transformers', 'peft', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tokenizer_is_thread_safe_across_max_lengths():
    from concurrent.futures import ThreadPoolExecutor

    tok = WordPieceTokenizer(BASE)
    want = {n: tok(PREMISES, HYPOTHESES, max_length=n)["input_ids"] for n in (16, 64)}
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: (16 if i % 2 else 64, tok(PREMISES, HYPOTHESES, max_length=16 if i % 2 else 64)),
                            range(64)))
    assert all(torch.equal(ids["input_ids"], want[n]) for n, ids in got)


def test_the_onednn_self_check_leaves_the_global_rng_alone():
    import kgnlu.neural.minibert as minibert

    torch.manual_seed(5)
    want = torch.rand(3)
    torch.manual_seed(5)
    minibert._onednn_linear_ok.__wrapped__()  # training seeds torch, then loads encoders that pack
    assert torch.equal(torch.rand(3), want)
