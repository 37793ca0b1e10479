"""FAM adaptation on a tiny model: data, adapter files, merging, resume, and the train command."""

from __future__ import annotations

import json

import pytest
import torch

from famcli.core.adapter import AdapterError, load_adapter
from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine, build_engine
from famcli.models.loading import load_model
from famcli.models.runtime import prepare, resolve, with_adapter
from famcli.training.data import FACTS, TrainingData
from famcli.training.mrbp import cut_blocks, start_state
from famcli.training.train import TrainConfig, Trainer

MEMORY = MemoryConfig(mode="fam", block_size=16, memory_segments=1, fam_length=4)


def _trainer(path, steps=4, seed=0, **kw):
    loaded = load_model(str(path), dtype="fp32")
    config = TrainConfig(steps=steps, max_blocks=3, rank=4, alpha=8.0, seed=seed, checkpoint_every=2, **kw)
    return Trainer(loaded, MEMORY, config, TrainingData(loaded.tokenizer, seed=seed))


def test_training_data_is_deterministic_and_varied(tiny_model_dirs):
    from conftest import tiny_tokenizer

    data = TrainingData(tiny_tokenizer(), seed=3)
    again = TrainingData(tiny_tokenizer(), seed=3)
    examples = [data.example(s, 800) for s in range(40)]
    assert [e.ids for e in examples] == [again.example(s, 800).ids for s in range(40)]
    assert all(len(e.ids) == 800 for e in examples)
    for e in examples:
        assert len(e.weights) == len(e.ids) and e.answer_tokens > 0
        assert all(w == 0 for w in e.weights[:-e.answer_tokens])  # loss on the answer only
    assert {e.kind for e in examples} == {"facts"}  # without books: facts on synthetic filler
    answers = {tuple(e.ids[-e.answer_tokens:]) for e in examples}
    assert len(answers) > 30
    assert len(FACTS) >= 5


def test_training_data_with_books(tmp_path):
    from conftest import tiny_tokenizer

    book = tmp_path / "book.txt"
    book.write_text("*** START OF THE BOOK ***\r\n" + "the pass key is a story. " * 400 + "\r\n*** END OF IT")
    data = TrainingData(tiny_tokenizer(), [book], seed=1)
    kinds = {data.example(s, 400).kind for s in range(60)}
    assert kinds == {"facts", "lm", "copy"}
    copy = next(data.example(s, 400) for s in range(60) if data.example(s, 400).kind == "copy")
    n = copy.answer_tokens
    assert n == 256
    body = copy.ids[:-n]
    tail = copy.ids[-n:]
    assert any(body[i:i + n] == tail for i in range(len(body) - n + 1))  # copied from earlier


def test_merged_adapter_equals_lora_model(tiny_model_dirs, tmp_path):
    trainer = _trainer(tiny_model_dirs["llama"], steps=3, lr=2e-2, prompt_lr=2e-2)
    for _ in range(3):
        trainer.train_step()
    ids = list(range(5, 60))
    with torch.no_grad():  # the trained model as trained: LoRA unmerged, learned prompt
        state = start_state(trainer.engine, trainer.engine.memory.initial())
        expected = [trainer.engine.chunk_forward(state, b.ids, True) for b in cut_blocks(ids + [0], [0] * 56, 16)]
    out = tmp_path / "a.safetensors"
    trainer.save_adapter(out)
    adapter = load_adapter(out)
    assert adapter.config == MEMORY and adapter.info["steps_done"] == 3
    assert adapter.nbytes < 200_000
    loaded = load_model(str(tiny_model_dirs["llama"]), dtype="fp32")
    loaded, config = prepare(loaded, "auto", str(out))
    assert config == MEMORY and loaded.adapter is not None
    engine = build_engine(loaded, config)
    state = engine.new_state()
    got = engine.feed(state, ids, all_logits=True)
    assert torch.allclose(got, torch.cat(expected), atol=2e-2, rtol=1e-2)
    # and the adapter changed something: the base model disagrees
    base = load_model(str(tiny_model_dirs["llama"]), dtype="fp32")
    plain = build_engine(base, resolve(base, "fam-zero-shot", "none", block_size=16, fam_length=4)[0])
    assert not torch.allclose(plain.feed(plain.new_state(), ids, all_logits=True), got, atol=1e-3)


def test_resume_continues_the_same_run(tiny_model_dirs, tmp_path):
    straight = _trainer(tiny_model_dirs["llama"], steps=4)
    for _ in range(4):
        straight.train_step()
    first = _trainer(tiny_model_dirs["llama"], steps=4)
    for _ in range(2):
        first.train_step()
    first.save_checkpoint(tmp_path / "c.ckpt")
    second = _trainer(tiny_model_dirs["llama"], steps=4)
    second.load_checkpoint(tmp_path / "c.ckpt")
    for _ in range(2):
        second.train_step()
    assert [h["loss"] for h in second.history] == pytest.approx([h["loss"] for h in straight.history], rel=1e-2)
    assert torch.allclose(second.engine.memory.prompt, straight.engine.memory.prompt, atol=1e-3)
    other = _trainer(tiny_model_dirs["llama"], steps=4, lr=5e-3)
    with pytest.raises(ValueError, match="other settings"):
        other.load_checkpoint(tmp_path / "c.ckpt")
    longer = _trainer(tiny_model_dirs["llama"], steps=6)  # extending a run: more steps, same everything else
    longer.load_checkpoint(tmp_path / "c.ckpt")
    assert longer.step == 2 and longer.config.steps == 6
    shorter = _trainer(tiny_model_dirs["llama"], steps=1)
    with pytest.raises(ValueError, match="already at step 2"):
        shorter.load_checkpoint(tmp_path / "c.ckpt")


def test_training_lowers_the_loss(tiny_model_dirs):
    """Not a no-op: steps on one fixed document (needle 2 blocks back) drive its answer loss down."""
    trainer = _trainer(tiny_model_dirs["llama"], steps=20, lr=1e-2, prompt_lr=1e-2, state_passing=0.0)
    trainer.data.rng = lambda step: __import__("random").Random(7)  # the same document every step
    trainer.config.min_blocks = trainer.config.max_blocks = 3
    losses = [trainer.train_step().loss for _ in range(20)]
    assert sum(losses[-4:]) < 0.6 * sum(losses[:4]), losses


def test_adapter_for_another_model_is_refused(tiny_model_dirs, tmp_path):
    trainer = _trainer(tiny_model_dirs["llama"], steps=1)
    trainer.train_step()
    trainer.save_adapter(tmp_path / "a.safetensors")
    from conftest import tiny_model, tiny_tokenizer

    wide = tmp_path / "wide"
    tiny_model("llama", hidden_size=96, intermediate_size=160).save_pretrained(wide)
    tiny_tokenizer().save_pretrained(wide)
    loaded = load_model(str(wide), dtype="fp32")
    with pytest.raises(AdapterError, match="trained for"):
        resolve(loaded, "fam", str(tmp_path / "a.safetensors"))
    (tmp_path / "bad.safetensors").write_bytes(b"not an adapter at all")
    with pytest.raises(AdapterError):
        resolve(loaded, "fam", str(tmp_path / "bad.safetensors"))
    with pytest.raises(AdapterError, match="not found"):
        resolve(loaded, "fam", str(tmp_path / "missing.safetensors"))


def test_train_command_end_to_end(tiny_model_dirs, tmp_path):
    from famcli.__main__ import main

    out = tmp_path / "tiny.safetensors"
    log = tmp_path / "log.jsonl"
    args = ["train", "--model", str(tiny_model_dirs["llama"]), "--out", str(out), "--steps", "3",
            "--block-size", "16", "--fam-length", "4", "--max-blocks", "2", "--rank", "2", "--log", str(log),
            "--dtype", "fp32", "--quiet"]
    assert main(args) == 0
    assert out.is_file() and (tmp_path / "tiny.safetensors.ckpt").is_file()  # kept, so the run can be extended
    assert len(log.read_text().splitlines()) == 3
    assert main(args + ["--steps", "5", "--resume"]) == 0  # extended by two steps
    assert len(log.read_text().splitlines()) == 5 and load_adapter(out).info["steps_done"] == 5
    assert all(json.loads(line)["tokens"] > 0 for line in log.read_text().splitlines())
    adapter = load_adapter(out)
    assert adapter.info["lora"]["rank"] == 2 and adapter.config.block_size == 16
    warm = tmp_path / "warm.safetensors"  # a new run starting from the adapter's weights
    init_args = [a if a != str(out) else str(warm) for a in args if a not in ("--log", str(log))]
    assert main(init_args + ["--init", str(out), "--steps", "1"]) == 0
    started = load_adapter(warm)
    assert started.info["started_from"] == str(out) and started.info["steps_done"] == 1
    assert main(init_args + ["--init", str(out), "--rank", "3", "--out", str(tmp_path / "r3.safetensors")]) == 1
    kept = tmp_path / "kept.safetensors"  # a warm start may switch the FAM update to keep its norm
    assert main([a if a != str(warm) else str(kept) for a in init_args]
                + ["--init", str(out), "--steps", "1", "--fam-keep-norm"]) == 0
    assert load_adapter(kept).config == adapter.config.replace(fam_keep_norm=True)
    assert main(args + ["--memory", "memformer", "--fam-keep-norm", "--out", str(tmp_path / "m.safetensors")]) == 2
    assert main(args + ["--init", str(out), "--resume"]) == 2
    assert main(["passkey", "--model", str(tiny_model_dirs["llama"]), "--adapter", str(out), "--length", "100",
                 "--depth", "0.5", "--trials", "1", "--memory", "fam,fam-zero-shot,bswa", "--json",
                 "--quiet"]) == 0


def test_train_refuses_to_overwrite_a_run(tiny_model_dirs, tmp_path, capsys):
    from famcli.__main__ import main

    out = tmp_path / "x.safetensors"
    (tmp_path / "x.safetensors.ckpt").write_bytes(b"")
    assert main(["train", "--model", str(tiny_model_dirs["llama"]), "--out", str(out), "--quiet"]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--model", str(tiny_model_dirs["llama"]), "--out", str(tmp_path / "y.safetensors"),
                 "--resume", "--quiet"]) == 1
    assert main(["train", "--corpus", str(tmp_path / "nope"), "--quiet"]) == 1
    assert main(["train", "--out", str(tmp_path / "no" / "such" / "dir.safetensors"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot write adapter" in err and "does not exist" in err
    assert main(["train", "--mix", "1,2", "--out", str(tmp_path / "z.safetensors"), "--quiet"]) == 2


def test_shipped_adapter_makes_auto_fam_and_leaves_baselines_alone(tiny_model_dirs, tmp_path, monkeypatch):
    """An adapter in famcli/adapters/ for exactly this model: auto reads with fam through it; bswa and sink
    run the base model; another model (different name) does not pick it up."""
    import famcli.core.adapter as adapter_module

    trainer = _trainer(tiny_model_dirs["llama"], steps=1, lr=5e-2)
    trainer.train_step()
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    trainer.save_adapter(shipped / "tiny.safetensors")
    monkeypatch.setattr(adapter_module, "SHIPPED", shipped)

    loaded = load_model(str(tiny_model_dirs["llama"]), dtype="fp32")
    before = loaded.model.model.layers[0].self_attn.q_proj.weight.clone()
    config, adapter = resolve(loaded, "bswa")
    assert config.mode == "bswa" and adapter is None and loaded.adapter is None
    config, adapter = resolve(loaded, "auto")
    assert config == MEMORY and adapter is not None and loaded.adapter is None
    assert torch.equal(loaded.model.model.layers[0].self_attn.q_proj.weight, before)  # resolving changes nothing
    tuned = with_adapter(loaded, adapter, keep_base=True)
    assert tuned.adapter is adapter and loaded.adapter is None
    assert torch.equal(loaded.model.model.layers[0].self_attn.q_proj.weight, before)  # the base model stays
    assert not torch.equal(tuned.model.model.layers[0].self_attn.q_proj.weight, before)  # LoRA merged in the copy
    engine = build_engine(tuned, config)
    assert torch.allclose(engine.memory.prompt, trainer.engine.memory.prompt.detach())

    other = load_model(str(tiny_model_dirs["mistral"]), dtype="fp32")
    config, adapter = resolve(other, "auto")
    assert config.mode == "sink" and adapter is None


def test_warm_start_copies_the_adapter_weights(tiny_model_dirs, tmp_path):
    first = _trainer(tiny_model_dirs["llama"], steps=2)
    for _ in range(2):
        first.train_step()
    first.save_adapter(tmp_path / "a.safetensors")
    adapter = load_adapter(tmp_path / "a.safetensors")
    second = _trainer(tiny_model_dirs["llama"], steps=2)
    assert not torch.allclose(second.engine.memory.prompt, first.engine.memory.prompt)
    second.start_from(adapter)
    assert torch.equal(second.engine.memory.prompt, first.engine.memory.prompt)
    for name, (a, b) in second.lora_weights().items():
        torch.testing.assert_close(a, first.lora_weights()[name][0], atol=1e-2, rtol=1e-2)
        torch.testing.assert_close(b, first.lora_weights()[name][1], atol=1e-2, rtol=1e-2)
    assert second.step == 0 and second.started_from == str(tmp_path / "a.safetensors")


def test_block_sizes_drawn_per_document_share_one_set_of_weights(tiny_model_dirs):
    """--block-sizes: each document is read at a size drawn for it, by engines that share the memory and LoRA
    weights (training one trains all); the run stays deterministic, and the resized engine reads exactly like
    one built for that size."""
    a = _trainer(tiny_model_dirs["llama"], steps=8, block_sizes=(4, 8, 16), state_passing=0.0)
    start = a.engine.memory.prompt.detach().clone()
    logs = [a.train_step() for _ in range(8)]
    assert {log.block_size for log in logs} == {4, 8, 16}
    assert all(log.blocks >= 3 for log in logs)
    for engine in a.engines.values():
        assert engine.memory.prompt is a.engine.memory.prompt
    assert not torch.allclose(a.engine.memory.prompt, start)
    b = _trainer(tiny_model_dirs["llama"], steps=8, block_sizes=(4, 8, 16), state_passing=0.0)
    assert [b.train_step().loss for _ in range(8)] == pytest.approx([log.loss for log in logs], rel=1e-2)
    resized = a.engine.resized(8)
    own = Engine(a.loaded.model, MEMORY.replace(block_size=8), {"fam_prompt": a.engine.memory.prompt.detach()},
                 a.loaded.context_window)
    ids = torch.arange(40) % 50 + 3
    with torch.no_grad():
        s1, s2 = resized.new_state(), own.new_state()
        assert torch.allclose(resized.feed(s1, ids), own.feed(s2, ids), atol=1e-4)
    assert s1.updates == s2.updates == 5
    with pytest.raises(ValueError, match="context window"):
        _trainer(tiny_model_dirs["llama"], block_sizes=(4, 4_096))


@pytest.mark.slow
def test_the_gpu_training_script_runs_on_a_cpu_with_a_tiny_model(tiny_model_dirs, tmp_path):
    """examples/gpu_fam.sh as a GPU would run it, here on the CPU with a tiny model: its time budget spent after
    one step, the passkey table written, files cut into pieces; run again, it joins the pieces and resumes."""
    import subprocess
    from pathlib import Path

    from conftest import FAMCLI, OUTSIDE, USER_ENV

    out = tmp_path / "out"
    env = USER_ENV | {"FAMCLI": FAMCLI[0], "MODEL": str(tiny_model_dirs["llama"]), "DEVICE": "cpu", "DTYPE": "fp32",
                      "MINUTES": "0", "BLOCKS": "2", "EVAL": "200", "PIECE": "20K"}
    script = Path(__file__).resolve().parents[1] / "examples" / "gpu_fam.sh"

    def run():
        done = subprocess.run(["bash", str(script), str(out)], env=env, cwd=OUTSIDE, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr

    run()
    assert len((out / "train.jsonl").read_text().splitlines()) == 1  # --minutes 0: one step, then saved
    assert set(json.loads((out / "passkey.json").read_text())["accuracy"]) == {"fam", "fam-zero-shot", "bswa"}
    pieces = sorted(out.glob("*.part-*"))
    assert pieces and all(p.stat().st_size <= 20 * 1024 for p in pieces)
    assert not (out / "adapter.safetensors.ckpt").exists()  # larger than a piece: only its pieces remain
    run()
    assert len((out / "train.jsonl").read_text().splitlines()) == 2  # resumed from the joined checkpoint
