"""Memory replay back-propagation (Memformer, docs/design.md, section 6), shared by every trainable memory.

A training example is a token stream cut into blocks. Its loss depends on the weights through every block
and, through the memory (FAM and the ring buffer of keys and values), on every earlier block. Full
back-propagation through time keeps all blocks' activations; MRBP keeps one block's:

1. run the blocks forward without gradients, saving only each block's incoming memory;
2. from the last block to the first, re-run one block with gradients from its saved memory (as leaves),
   back-propagate its own loss plus <gradient arriving at its outgoing memory, outgoing memory>, and hand
   the gradient of its incoming memory to the block before.

The sum of the per-block backward passes is exactly the gradient of the whole loss (the surrogate term
is the chain rule through the memory), so `mrbp` and `bptt` below agree to rounding (tests check it).
The cost is one extra forward pass per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from famcli.core.engine import Engine, State


@dataclass
class Block:
    """One block of a training example: its token ids and, per token, the next token and a loss weight."""

    ids: torch.Tensor  # (c,) long
    targets: torch.Tensor  # (c,) long, the token that follows each id
    weights: torch.Tensor  # (c,) float, 0 where no loss

    @property
    def rows(self) -> torch.Tensor:
        return torch.nonzero(self.weights > 0).flatten()


def cut_blocks(ids: list[int], weights: list[float], block_size: int) -> list[Block]:
    """Teacher forcing: token t predicts token t+1 with weight weights[t+1]; blocks start at position 0."""
    x = torch.tensor(ids[:-1], dtype=torch.long)
    y = torch.tensor(ids[1:], dtype=torch.long)
    w = torch.tensor(weights[1:], dtype=torch.float32)
    return [Block(x[i:i + block_size], y[i:i + block_size], w[i:i + block_size])
            for i in range(0, x.numel(), block_size)]


def block_loss(logits: torch.Tensor | None, block: Block) -> torch.Tensor:
    rows = block.rows
    if logits is None or rows.numel() == 0:
        return torch.zeros(())
    ce = torch.nn.functional.cross_entropy(logits, block.targets[rows], reduction="none")
    return (ce * block.weights[rows]).sum()


def _memory(engine: Engine, state: State) -> list[torch.Tensor]:
    """The tensors that carry information from one block to the next: the ring's keys and values per layer,
    then the memory's carried tensor (FAM, slots) when it has one."""
    carried = _carried(engine, state)
    return list(state.k) + list(state.v) + ([carried] if carried is not None else [])


def _final_memory(engine: Engine, state: State) -> torch.Tensor | None:
    """The memory a document ends with, detached (what state passing hands to the next step)."""
    carried = _carried(engine, state)
    return carried.detach() if carried is not None else None


def _carried(engine: Engine, state: State):
    """The memory's carried tensor in this state (the FAM, the slots), None when it has none."""
    name = engine.memory.carried
    return getattr(state.mem, name) if name is not None else None


def _per_layer(t, L: int):
    return [t[l].detach().clone() for l in range(L)]


def detached_state(engine: Engine, state: State) -> State:
    """A copy of a state with per-layer tensors (lists), detached: what MRBP saves per block."""
    L, memory = engine.n_layers, engine.memory
    mem = state.mem.with_tensors(**{name: t.detach().clone() if name == memory.carried else _per_layer(t, L)
                                    for name, t in state.mem.tensors().items()})
    return State(k=_per_layer(state.k, L), v=_per_layer(state.v, L), mem=mem, n_tokens=state.n_tokens,
                 updates=state.updates)


def _leaves(engine: Engine, state: State) -> tuple[State, list[torch.Tensor]]:
    """A working copy whose memory tensors hang off fresh leaves that collect gradients."""
    leaves = [t.detach().clone().requires_grad_(True) for t in _memory(engine, state)]
    L = len(state.k)
    mem = {name: [t.clone() for t in value] for name, value in state.mem.tensors().items()
           if name != engine.memory.carried}
    if _carried(engine, state) is not None:
        mem[engine.memory.carried] = leaves[2 * L]
    mem = state.mem.with_tensors(**mem)
    work = State(k=[t.clone() for t in leaves[:L]], v=[t.clone() for t in leaves[L:2 * L]], mem=mem,
                 n_tokens=state.n_tokens, updates=state.updates)
    return work, leaves


def start_state(engine: Engine, memory: torch.Tensor | None) -> State:
    """A fresh state in per-layer form, starting from `memory`: the carried memory (the FAM (L, N, d), the
    slots (L, K, d)) the example begins with (the learned initial one, or one passed on from the previous
    step)."""
    state = detached_state(engine, engine.new_state())
    if memory is not None and _carried(engine, state) is not None:
        setattr(state.mem, engine.memory.carried, memory)
    return state


def mrbp(engine: Engine, fam0: torch.Tensor | None, blocks: list[Block]) -> tuple[float, torch.Tensor | None]:
    """Accumulate parameter gradients of sum(block losses) into .grad; returns (loss, final memory, detached).

    fam0 is the incoming carried memory (`engine.memory.initial()`, or one passed on); when it requires grad
    (the learned prompt's output, the learned initial slots), its gradient is back-propagated too."""
    saved = []
    with torch.no_grad():
        state = start_state(engine, None if fam0 is None else fam0.detach())
        for block in blocks:
            saved.append(detached_state(engine, state))
            engine.chunk_forward(state, block.ids, False, rows=block.rows[:0])
    final_fam = _final_memory(engine, state)
    total, grads = 0.0, None
    for block, incoming in zip(reversed(blocks), reversed(saved)):
        work, leaves = _leaves(engine, incoming)
        loss = block_loss(engine.chunk_forward(work, block.ids, False, rows=block.rows), block)
        total += float(loss.detach())
        surrogate = loss
        if grads is not None:
            surrogate = surrogate + sum((out * g).sum() for out, g in zip(_memory(engine, work), grads) if g is not None)
        if surrogate.requires_grad:
            surrogate.backward()
        grads = [leaf.grad for leaf in leaves]
    if fam0 is not None and fam0.requires_grad and grads is not None and grads[-1] is not None:
        fam0.backward(grads[-1])
    return total, final_fam


def bptt(engine: Engine, fam0: torch.Tensor | None, blocks: list[Block]) -> tuple[float, torch.Tensor | None]:
    """Plain back-propagation through all blocks at once (the reference MRBP must equal; memory grows)."""
    state = start_state(engine, fam0)
    loss = torch.zeros(())
    for block in blocks:
        # out-of-place copies between blocks: the next block's writes must not touch saved tensors
        state.k, state.v = [t.clone() for t in state.k], [t.clone() for t in state.v]
        for name in engine.memory.within_block:
            if getattr(state.mem, name) is not None:
                setattr(state.mem, name, list(getattr(state.mem, name)))
        loss = loss + block_loss(engine.chunk_forward(state, block.ids, False, rows=block.rows), block)
    if loss.requires_grad:
        loss.backward()
    return float(loss.detach()), _final_memory(engine, state)
