"""`famcli train`: memory adaptation of a pretrained model (docs/design.md, sections 6 and 7, issues 4 and 6).

What learns: LoRA (peft) on the attention and MLP projections, and the memory's own weights: the N-vector
FAM prompt (--memory fam) or the Memformer writer and initial slots (--memory memformer). What it
learns from: famcli.training.data (facts far back, language modelling, the copy task), a curriculum from
short to long documents, random state passing (with probability p a document starts from the FAM the
previous step ended with, so the memory learns to survive many updates), and MRBP (famcli.training.mrbp) so the
gradient crosses every block and FAM update of a document while memory holds one block's activations.

Checkpoints (every N steps) hold everything a resumed run needs; the data for step s depends only on
(seed, s), so `--resume` continues the same run. `--resume` with a larger `--steps` extends a run (finished
or not); the length curriculum then stretches over the new total.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from famcli.common.errors import UserError
from famcli.core.adapter import save_adapter
from famcli.core.config import MemoryConfig
from famcli.core.engine import ZERO_SHOT_FAM_TEXT, Engine
from famcli.core.memory import trainable_modes
from famcli.models.loading import LoadedModel
from famcli.training.data import TrainingData
from famcli.training.mrbp import cut_blocks, mrbp

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CHECKPOINT_FORMAT = "famcli-train-checkpoint-2"


@dataclass
class TrainConfig:
    steps: int = 300
    lr: float = 1e-3  # LoRA
    prompt_lr: float = 2e-3  # FAM prompt
    warmup: int = 10
    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = LORA_TARGETS
    state_passing: float = 0.5
    min_blocks: int = 3  # shortest document: the needle can lie beyond a one-segment window
    max_blocks: int = 12  # longest document, in blocks (memory updates), reached after `ramp` of the steps
    ramp: float = 0.5  # 0: every document draws from min_blocks..max_blocks from the start (no curriculum)
    block_sizes: tuple[int, ...] = ()  # drawn per document (short blocks: many updates for few tokens)
    lm_weight: float = 0.5
    copy_weight: float = 0.1
    clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 20

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["targets"] = list(self.targets)
        d["block_sizes"] = list(self.block_sizes)
        return d

    def blocks_at(self, step: int) -> int:
        frac = min(1.0, step / max(1.0, self.ramp * self.steps))
        return max(self.min_blocks, round(self.min_blocks + frac * (self.max_blocks - self.min_blocks)))


@dataclass
class StepLog:
    step: int
    kind: str
    tokens: int
    blocks: int
    block_size: int
    loss: float
    seconds: float
    passed_state: bool

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class Trainer:
    """Holds the model with LoRA injected, the engine whose memory learns, the optimiser and the carried memory."""

    def __init__(self, loaded: LoadedModel, memory: MemoryConfig, config: TrainConfig, data: TrainingData):
        from peft import LoraConfig, inject_adapter_in_model

        if not memory.trainable or memory.rows < 1:
            raise UserError(f"training needs a memory with weights of its own ({', '.join(trainable_modes())}) "
                             "and a memory length of at least 1")
        self.loaded, self.memory, self.config, self.data = loaded, memory, config, data
        model = loaded.model
        model.requires_grad_(False)
        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0, bias="none",
                          target_modules=list(config.targets))
        inject_adapter_in_model(lora, model)
        self.lora_modules = {name: m for name, m in model.named_modules()
                             if hasattr(m, "lora_A") and "default" in getattr(m, "lora_A", {})}
        if not self.lora_modules:
            raise UserError(f"no layer of this model matches the LoRA targets {', '.join(config.targets)}")
        lora_params = []
        for m in self.lora_modules.values():
            for p in (m.lora_A["default"].weight, m.lora_B["default"].weight):
                p.data = p.data.float()  # fp32 master weights; base weights stay in the model's dtype
                p.requires_grad_(True)
                lora_params.append(p)
        ids = loaded.tokenizer.encode(ZERO_SHOT_FAM_TEXT, add_special_tokens=False)
        # training starts from the untrained memory: the zero-shot prompt, the seeded writer
        self.engine = Engine(model, memory, context_window=loaded.context_window, prompt_ids=ids)
        memory_params = self.engine.memory.learnable()
        self.optimizer = torch.optim.AdamW([
            {"params": lora_params, "lr": config.lr, "weight_decay": 0.0},
            {"params": memory_params, "lr": config.prompt_lr, "weight_decay": 0.0},
        ], betas=(0.9, 0.99))
        # one engine per block size drawn, sharing the weights (built now: a size that cannot work fails here)
        self.engines = {B: self.engine.resized(B) for B in {memory.block_size, *config.block_sizes}}
        self.step = 0
        self.started_from: str | None = None  # the adapter a warm-started run began with (--init)
        self.carried: torch.Tensor | None = None
        self.history: list[dict] = []

    def describe(self) -> str:
        m = self.memory
        what = f"a {m.fam_length}-vector FAM prompt" if m.mode == "fam" else f"a {m.mode} memory of {m.fam_length} rows"
        sizes = ", ".join(map(str, self.config.block_sizes)) or m.block_size
        return (f"{len(self.lora_modules)} LoRA layers (rank {self.config.rank}) + {what}; block {sizes}, "
                f"{m.memory_segments} memory segment(s)")

    def eta_minutes(self) -> float:
        recent = [h["seconds"] for h in self.history[-20:]]
        return sum(recent) / max(1, len(recent)) * (self.config.steps - self.step) / 60

    # ----- one step ------------------------------------------------------------------------------

    def lr_scale(self, step: int) -> float:
        return min(1.0, (step + 1) / max(1, self.config.warmup))

    def train_step(self) -> StepLog:
        cfg = self.config
        rng = random.Random(cfg.seed * 7919 + self.step)
        B = rng.choice(cfg.block_sizes) if cfg.block_sizes else self.memory.block_size
        engine = self.engines[B]
        n_blocks = rng.randint(cfg.min_blocks, cfg.blocks_at(self.step))
        length = n_blocks * B - rng.randrange(0, B // 2)
        example = self.data.example(self.step, max(length, 64), window=engine.config.window)
        weight = {"facts": 1.0, "lm": cfg.lm_weight, "copy": cfg.copy_weight}[example.kind]
        total = sum(example.weights) or 1.0
        weights = [w * weight / total for w in example.weights]  # mean loss per example, times its weight
        blocks = cut_blocks(example.ids, weights, B)
        passed = self.carried is not None and rng.random() < cfg.state_passing
        t0 = time.perf_counter()
        for group in self.optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
            group["lr"] = group["base_lr"] * self.lr_scale(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        fam0 = self.carried if passed else self.engine.memory.initial()
        loss, final_fam = mrbp(engine, fam0, blocks)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        self.optimizer.step()
        self.carried = final_fam
        log = StepLog(self.step, example.kind, len(example.ids), len(blocks), B, loss / weight,
                      time.perf_counter() - t0, passed)
        self.history.append(dataclasses.asdict(log))
        self.step += 1
        return log

    # ----- adapter and checkpoints ---------------------------------------------------------------

    def lora_weights(self) -> dict:
        return {name: (m.lora_A["default"].weight, m.lora_B["default"].weight)
                for name, m in self.lora_modules.items()}

    def save_adapter(self, path, extra: dict | None = None) -> None:
        info = {"training": self.config.to_dict(), "steps_done": self.step, "data": self.data.summary(),
                "lora": {"rank": self.config.rank, "alpha": self.config.alpha,
                         "targets": list(self.config.targets)},
                "loss_last_50": _recent_losses(self.history), "started_from": self.started_from} | (extra or {})
        save_adapter(path, self.engine.memory.weights(torch.bfloat16), self.lora_weights(),
                     self.config.alpha / self.config.rank, self.memory, self.loaded.identity, info)

    def save_checkpoint(self, path) -> None:
        from famcli.common.outputs import atomic

        with atomic(path) as tmp:
            torch.save({"format": CHECKPOINT_FORMAT, "step": self.step, "config": self.config.to_dict(),
                        "memory": self.memory.to_dict(), "data": json.dumps(self.data.summary(), sort_keys=True),
                        "memory_weights": {n: t.detach() for n, t in self.engine.memory.weights().items()},
                        "lora": {n: (a.detach(), b.detach()) for n, (a, b) in self.lora_weights().items()},
                        "optimizer": self.optimizer.state_dict(), "carried": self.carried,
                        "started_from": self.started_from or "",
                        "history": json.dumps(self.history)}, tmp)

    def start_from(self, adapter) -> None:
        """A warm start: the LoRA and memory weights of an adapter file (same model, memory and LoRA shape);
        the optimiser starts fresh and the run counts its steps from 0."""
        adapter.check(self.loaded.identity)
        where = adapter.path or "the adapter"
        if adapter.config.replace(fam_keep_norm=self.memory.fam_keep_norm) != self.memory:  # the rule may change
            raise UserError(f"{where} was trained with memory {adapter.config.to_json()}; this run uses "
                             f"{self.memory.to_json()} (give the same --memory and sizes)")
        if set(adapter.lora) != set(self.lora_modules) or \
                abs(adapter.scaling - self.config.alpha / self.config.rank) > 1e-6 or \
                any(a.shape[0] != self.config.rank for a, _ in adapter.lora.values()):
            raise UserError(f"{where} has LoRA of another rank or on other layers; give the same --rank")
        self.started_from = str(where)
        self._set_weights(adapter.memory, adapter.lora)

    @torch.no_grad()
    def _set_weights(self, memory: dict, lora: dict) -> None:
        """Copy learned weights (from an adapter or a checkpoint) into the trainer's own tensors."""
        self.engine.memory.load_weights(memory)
        for name, (a, b) in lora.items():
            m = self.lora_modules[name]
            m.lora_A["default"].weight.copy_(a)
            m.lora_B["default"].weight.copy_(b)

    def load_checkpoint(self, path) -> None:
        ckpt = torch.load(path, map_location=self.loaded.device, weights_only=True)
        if ckpt.get("format") != CHECKPOINT_FORMAT:
            raise UserError(f"{path} is not a famcli training checkpoint")
        mine, theirs = self.config.to_dict(), dict(ckpt["config"])
        mine.pop("steps"), theirs.pop("steps")  # --steps may grow: a finished run can be extended
        if ckpt["memory"] != self.memory.to_dict() or mine != theirs or \
                ckpt.get("data") != json.dumps(self.data.summary(), sort_keys=True):
            raise UserError(f"{path} was written by a run with other settings; resume with the same options")
        if ckpt["step"] > self.config.steps:
            raise UserError(f"{path} is already at step {ckpt['step']}; give --steps {ckpt['step']} or more")
        self._set_weights(ckpt["memory_weights"], ckpt["lora"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step, self.carried = ckpt["step"], ckpt["carried"]
        self.started_from = ckpt.get("started_from") or None
        self.history = json.loads(ckpt["history"])


def _recent_losses(history: list[dict]) -> dict:
    out = {}
    for kind in ("facts", "lm", "copy"):
        losses = [h["loss"] for h in history[-50:] if h["kind"] == kind]
        if losses:
            out[kind] = round(sum(losses) / len(losses), 4)
    return out


def run(trainer: Trainer, out: Path, checkpoint: Path, on_step: Callable[[StepLog], None] | None = None,
        should_stop: Callable[[], bool] | None = None) -> None:
    """Train to the configured number of steps, checkpointing and writing the adapter as it goes."""
    t0 = time.perf_counter()
    seconds = sum(h["seconds"] for h in trainer.history)
    while trainer.step < trainer.config.steps:
        log = trainer.train_step()
        if not math.isfinite(log.loss):
            raise UserError(f"loss became {log.loss} at step {log.step}; lower --lr")
        if on_step:
            on_step(log)
        done = trainer.step == trainer.config.steps
        if done or trainer.step % trainer.config.checkpoint_every == 0 or (should_stop and should_stop()):
            trainer.save_checkpoint(checkpoint)
            trainer.save_adapter(out, {"train_seconds": round(seconds + time.perf_counter() - t0, 1)})
            if should_stop and should_stop():
                return


def checkpoint_for(out: Path, resume: bool) -> Path:
    """OUT.ckpt, the run's checkpoint: it must exist to resume and must not to start afresh."""
    checkpoint = out.with_name(out.name + ".ckpt")
    if checkpoint.exists() and not resume:
        raise UserError(f"{checkpoint} exists: pass --resume to continue that run, or delete it")
    if resume and not checkpoint.exists():
        raise UserError(f"--resume: no checkpoint at {checkpoint}")
    return checkpoint


def start_trainer(model, dtype: str, device: str, mode: str, sizes: tuple, keep_norm: bool, config: TrainConfig,
                  books: list[Path], shares: tuple, far: float, resume_from: Path | None = None,
                  init: Path | None = None) -> Trainer:
    """Load the model and build the trainer for `famcli train`, resumed from a checkpoint or warm-started from
    an adapter when asked."""
    from famcli.core.adapter import load_adapter
    from famcli.jobs.options import memory_config
    from famcli.models.loading import load_model

    memory = memory_config(mode, *sizes)
    if keep_norm:
        if memory.mode != "fam":
            raise UserError("--fam-keep-norm: only --memory fam has a FAM to keep the norm of")
        memory = memory.replace(fam_keep_norm=True)
    torch.manual_seed(config.seed)
    if dtype == "int8":
        raise UserError("training runs in fp32 or bf16 (--dtype int8 is for reading)")
    loaded = load_model(model, dtype=dtype, device=device, reading=False)
    data = TrainingData(loaded.tokenizer, books, seed=config.seed, mix=shares, far=far, window=memory.window)
    trainer = Trainer(loaded, memory, config, data)
    if resume_from is not None:
        trainer.load_checkpoint(resume_from)
    elif init is not None:
        trainer.start_from(load_adapter(init))
    return trainer

