"""xlm_mlm pieces through the Python API: masking statistics, fresh/fixed masks, whole-word
masking, language ids and sampling, input checks, and the xlm_encoder parameter-name contract."""
import math

import fairseq  # noqa: F401  (the plugin registers when fairseq is imported first)
import numpy as np
import pytest
import torch
from fairseq.data import Dictionary
from fairseq.data.indexed_dataset import MMapIndexedDatasetBuilder

import fairseq_xdomain
from fairseq_xdomain.common.errors import UserError

fairseq_xdomain.register()

from fairseq_xdomain.datasets.mlm_blocks import language_sampling_probs  # noqa: E402
from fairseq_xdomain.models.xlm_encoder import XLMEncoderConfig, XLMEncoderModel  # noqa: E402
from fairseq_xdomain.noise import word_start_table  # noqa: E402
from fairseq_xdomain.tasks.xlm_mlm import XLMMLMConfig, XLMMLMTask  # noqa: E402

torch.set_num_threads(1)


def write_bin(prefix, dictionary, sentences):
    """Binarize tokenized sentences (lists of symbols) into prefix.{bin,idx}."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    builder = MMapIndexedDatasetBuilder(f"{prefix}.bin", dtype=np.int32)
    for sent in sentences:
        ids = [dictionary.index(w) for w in sent] + [dictionary.eos()]
        builder.add_item(torch.tensor(ids, dtype=torch.int32))
    builder.finalize(f"{prefix}.idx")


def make_data(root, n_sent, words_by_lang, seed=0, splits=("train", "valid")):
    rng = np.random.default_rng(seed)
    dictionary = Dictionary()
    for words in words_by_lang.values():
        for w in words:
            dictionary.add_symbol(w)
    root.mkdir(parents=True, exist_ok=True)
    dictionary.save(str(root / "dict.txt"))
    sents = {}
    for lang, words in words_by_lang.items():
        sents[lang] = [list(rng.choice(words, size=rng.integers(4, 12))) for _ in range(n_sent[lang])]
        for split in splits:
            write_bin(root / lang / split, dictionary, sents[lang])
    return sents


def make_task(root, **kw):
    kw.setdefault("langs", "en,fr")
    cfg = XLMMLMConfig(data=str(root), seed=7, tokens_per_sample=kw.pop("tps", 32), **kw)
    return XLMMLMTask.setup_task(cfg)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlmunit") / "DATA"
    vocab = {"en": [f"e{i}" for i in range(50)], "fr": [f"f{i}" for i in range(50)]}
    make_data(root, {"en": 900, "fr": 100}, vocab)
    return root


def masking_stats(task, split):
    ds = task.datasets[split]
    n_tok = n_tgt = n_mask = n_keep = n_rand = 0
    for i in range(len(ds)):
        item = ds[i]
        src, tgt = item["net_input.src_tokens"], item["target"]
        sel = tgt.ne(task.dictionary.pad())
        n_tok += len(src)
        n_tgt += int(sel.sum())
        n_mask += int(src[sel].eq(task.mask_idx).sum())
        n_keep += int(src[sel].eq(tgt[sel]).sum())
        n_rand += int((src[sel].ne(tgt[sel]) & src[sel].ne(task.mask_idx)).sum())
    return n_tok, n_tgt, n_mask, n_keep, n_rand


def original(item):
    """The unmasked block: targets where predicted, inputs elsewhere."""
    tgt = item["target"]
    return torch.where(tgt.ne(1), tgt, item["net_input.src_tokens"])


def test_masking_80_10_10_deterministic_and_fixed_in_valid(plain):
    task = make_task(plain)
    task.load_dataset("train")
    n_tok, n_tgt, n_mask, n_keep, n_rand = masking_stats(task, "train")
    assert abs(n_tgt / n_tok - 0.15) < 0.01, n_tgt / n_tok
    assert abs(n_mask / n_tgt - 0.8) < 0.03
    assert abs(n_keep / n_tgt - 0.1) < 0.03  # kept (+ random draws of the same token, rare)
    assert abs(n_rand / n_tgt - 0.1) < 0.03

    ds = task.datasets["train"]
    first = [ds[i]["target"].clone() for i in range(50)]
    assert all(torch.equal(a, ds[i]["target"]) for i, a in enumerate(first))  # deterministic
    task.load_dataset("valid")
    v = task.datasets["valid"]
    v_first = [v[i]["target"].clone() for i in range(30)]
    v.set_epoch(5)
    assert all(torch.equal(a, v[i]["target"]) for i, a in enumerate(v_first)), "valid masks fixed"


def test_train_masks_change_with_epoch(plain):
    task = make_task(plain, sample_alpha=1.0)  # no resampling: index i is the same block
    task.load_dataset("train")
    ds = task.datasets["train"]
    e1 = [ds[i] for i in range(60)]
    ds.set_epoch(2)
    e2 = [ds[i] for i in range(60)]
    assert all(torch.equal(original(a), original(b)) for a, b in zip(e1, e2))  # same text
    same = sum(torch.equal(a["target"], b["target"]) for a, b in zip(e1, e2))
    assert same < 6, same  # new masks for (almost) every block


def test_language_ids_and_alpha_sampling(plain):
    assert np.allclose(language_sampling_probs([900, 100], 0.5), [0.75, 0.25])
    assert np.allclose(language_sampling_probs([900, 100], 1.0), [0.9, 0.1])
    assert np.allclose(language_sampling_probs([900, 100], 0.0), [0.5, 0.5])
    task = make_task(plain, sample_alpha=0.5)
    task.load_dataset("train")
    ds = task.datasets["train"]
    en_vocab = {task.dictionary.index(f"e{i}") for i in range(50)}
    langs = []
    for i in range(len(ds)):
        item = ds[i]
        lang = int(item["net_input.src_langs"])
        tokens = set(item["target"][item["target"].ne(1)].tolist()) - {0, 2}
        if tokens:  # the language id matches the text
            assert (tokens <= en_vocab) == (lang == 0), (lang, tokens)
        langs.append(lang)
    # natural share of fr blocks is ~0.1; alpha 0.5 lifts it to ~0.25
    assert abs(np.mean(langs) - 0.25) < 0.03, np.mean(langs)


def test_whole_word_masking(tmp_path):
    root = tmp_path / "DATA"
    starts = [f"\u2581w{i}" for i in range(30)]
    conts = [f"c{i}" for i in range(10)]
    dictionary = Dictionary()
    for s in starts + conts:
        dictionary.add_symbol(s)
    root.mkdir(parents=True)
    dictionary.save(str(root / "dict.txt"))
    rng = np.random.default_rng(0)
    sents = []
    for _ in range(300):
        sent = []
        for _ in range(rng.integers(3, 8)):
            sent.append(str(rng.choice(starts)))
            sent.extend(str(c) for c in rng.choice(conts, size=rng.integers(0, 3)))
        sents.append(sent)
    for lang in ("en", "fr"):
        for split in ("train", "valid"):
            write_bin(root / lang / split, dictionary, sents)
    ws = word_start_table(dictionary.symbols, dictionary.nspecial, sentencepiece=True).numpy()
    assert ws[dictionary.index(starts[0])] and not ws[dictionary.index("c0")] and ws[dictionary.eos()]

    task = make_task(root, mask_whole_words=True, sample_alpha=1.0, tps=64)
    task.load_dataset("train")
    ds = task.datasets["train"]
    n_words_partial = n_words_masked = 0
    for i in range(len(ds)):
        item = ds[i]
        tgt = item["target"]
        orig = original(item)
        begins = torch.from_numpy(ws[orig.numpy()])
        word_id = torch.cumsum(begins.long(), 0)
        for w in word_id.unique():
            sel = tgt[word_id == w].ne(1)
            if sel.any():
                n_words_masked += 1
                n_words_partial += int(not sel.all())
    assert n_words_masked > 100 and n_words_partial == 0


def test_input_errors(plain, tmp_path):
    with pytest.raises(UserError, match="dict.txt: dictionary not found"):
        make_task(tmp_path)
    with pytest.raises(UserError, match="'de' is not one of --langs"):
        make_task(plain, data_per_lang="de=/x")
    task = make_task(plain, langs="en,fr,ru")
    with pytest.raises(UserError, match=r"ru/train\.bin: not found"):
        task.load_dataset("train")
    task.load_dataset("valid")  # a language without valid data is skipped with a warning
    assert len(task.datasets["valid"]) > 0
    with pytest.raises(UserError, match="no sentencepiece word-start piece"):
        make_task(plain, mask_whole_words=True)
    other = tmp_path / "other"
    make_data(other, {"en": 5}, {"en": ["zz", "yy"]}, splits=("train",))
    (other / "en" / "dict.txt").write_text((other / "dict.txt").read_text())
    with pytest.raises(UserError, match="differs from"):
        make_task(plain, data_per_lang=f"en={other / 'en'}")


def test_data_per_lang_switches_corpus(plain, tmp_path):
    other = tmp_path / "UN"
    sents = make_data(other, {"en": 40}, {"en": ["e1", "e2"]}, splits=("train",))
    # same dictionary file is required for mixing: write our sentences with plain's dictionary
    d = Dictionary.load(str(plain / "dict.txt"))
    write_bin(other / "en" / "train", d, sents["en"])
    task = make_task(plain, data_per_lang=f"en={other / 'en'}", sample_alpha=1.0)
    task.load_dataset("train")
    ds = task.datasets["train"]
    allowed = {d.index("e1"), d.index("e2"), d.bos(), d.eos()}
    for i in range(len(ds)):
        item = ds[i]
        if int(item["net_input.src_langs"]) == 0:
            assert set(original(item).tolist()) <= allowed
    n_en = sum(int(ds[i]["net_input.src_langs"]) == 0 for i in range(len(ds)))
    assert 0 < n_en < 20  # 40 short sentences of the other corpus, not the 900 of DATA/en


def test_parameter_names_and_every_parameter_gets_a_gradient(plain):
    task = make_task(plain)
    cfg = XLMEncoderConfig(encoder_embed_dim=16, encoder_ffn_embed_dim=32, encoder_layers=2,
                           encoder_attention_heads=2, max_positions=32)
    model = XLMEncoderModel.build_model(cfg, task)
    names = set(model.state_dict())
    expected = {
        "encoder.embed_tokens.weight", "encoder.embed_positions.weight",
        "encoder.embed_langs.weight", "encoder.layernorm_embedding.weight",
        "encoder.layernorm_embedding.bias", "encoder.lm_head.dense.weight",
        "encoder.lm_head.dense.bias", "encoder.lm_head.layer_norm.weight",
        "encoder.lm_head.layer_norm.bias", "encoder.lm_head.bias",
    }
    for i in range(2):
        for part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                     "self_attn.out_proj", "self_attn_layer_norm", "fc1", "fc2",
                     "final_layer_norm"):
            expected |= {f"encoder.layers.{i}.{part}.weight", f"encoder.layers.{i}.{part}.bias"}
    assert names == expected, names ^ expected
    assert model.state_dict()["encoder.embed_langs.weight"].shape == (2, 16)

    task.load_dataset("train")
    ds = task.datasets["train"]
    sample = ds.collater([ds[i] for i in range(8)])
    from fairseq_xdomain.criteria.xlm_mlm_loss import XLMMaskedLMLoss

    crit = XLMMaskedLMLoss(task)
    loss, sample_size, log = crit(model, sample)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert sample_size == int(sample["target"].ne(1).sum())
    assert math.isclose(float(log["loss"]), sum(float(log[f"lang:{lang}:loss"]) for lang in ("en", "fr")),
                        rel_tol=1e-5)


def test_single_language_task_builds_and_orders(plain):
    task = make_task(plain, langs="en")
    task.load_dataset("train")
    ds = task.datasets["train"]
    assert ds.sizes.ndim == 1 and len(ds.sizes) == len(ds) > 0
    from fairseq.data import data_utils

    with data_utils.numpy_seed(3):
        order = ds.ordered_indices()
    assert sorted(order.tolist()) == list(range(len(ds)))
    assert (np.diff(ds.sizes[order]) >= 0).all()  # ordered by size
    assert (ds.num_tokens_vec(order[:5]) == ds.sizes[order[:5]]).all()
    batches = ds.batch_by_size(order, max_tokens=256)
    assert sum(len(b) for b in batches) == len(ds)
    assert all(int(ds[i]["net_input.src_langs"]) == 0 for i in range(len(ds)))


def test_reload_emb_keeps_geometry_and_checks_dimension(plain, tmp_path):
    """--reload-emb: covered rows get the vectors times one scale (cosines kept, mean norm that
    of the random init), uncovered rows keep their init; a wrong dimension or no covered word is
    a one-line error naming the file."""
    from fairseq_xdomain.embeddings.vecio import save_vec

    task = make_task(plain)
    rng = np.random.default_rng(0)
    words = ["e1", "e2", "f3", "not_in_dict"]
    vecs = rng.normal(size=(4, 16)).astype(np.float32) * 5
    save_vec(tmp_path / "a.vec", words[:2], vecs[:2])
    save_vec(tmp_path / "b.vec", words[2:] + ["e1"], np.concatenate([vecs[2:], vecs[3:]]))
    sizes = dict(encoder_embed_dim=16, encoder_ffn_embed_dim=32, encoder_layers=1,
                 encoder_attention_heads=2, max_positions=32)
    torch.manual_seed(0)
    base = XLMEncoderModel.build_model(XLMEncoderConfig(**sizes), task).encoder.embed_tokens.weight
    torch.manual_seed(0)
    cfg = XLMEncoderConfig(reload_emb=f"{tmp_path / 'a.vec'},{tmp_path / 'b.vec'}", **sizes)
    emb = XLMEncoderModel.build_model(cfg, task).encoder.embed_tokens.weight.detach()
    d = task.dictionary
    rows = [d.index(w) for w in words[:3]]
    got = emb[rows].numpy()
    scale = got[0, 0] / vecs[0, 0]
    np.testing.assert_allclose(got, vecs[:3] * scale, rtol=1e-5)  # e1 from a.vec (first wins)
    assert np.isclose(np.linalg.norm(got, axis=1).mean(), base[rows].norm(dim=1).mean().item(), rtol=1e-4)
    other = d.index("e7")
    assert torch.equal(emb[other], base[other].detach())

    save_vec(tmp_path / "wrong.vec", ["e1"], np.ones((1, 8), np.float32))
    with pytest.raises(UserError, match=r"wrong\.vec: vectors have dimension 8, the model's embeddings 16"):
        XLMEncoderModel.build_model(XLMEncoderConfig(reload_emb=str(tmp_path / "wrong.vec"), **sizes), task)
    save_vec(tmp_path / "none.vec", ["zzz"], np.ones((1, 16), np.float32))
    with pytest.raises(UserError, match="no word of the vectors is in the model's dictionary"):
        XLMEncoderModel.build_model(XLMEncoderConfig(reload_emb=str(tmp_path / "none.vec"), **sizes), task)
