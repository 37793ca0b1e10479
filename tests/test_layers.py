"""The layer math (famcli.core.layers): fused products that follow in-place changes, LoRA bypassing them."""

from __future__ import annotations

import torch
from conftest import tiny_model

from famcli.core.config import MemoryConfig
from famcli.core.engine import Engine


def ids_of(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def test_fused_projections_follow_in_place_changes_and_biases(arch):
    """q/k/v and gate/up run as one product each; the modules' weights are views of the fused tensors, so an
    adapter merged in place after the engine was built (and biases, as in Qwen2) still reach the engine."""
    from famcli.core.layers import _fused

    model = tiny_model(arch)
    engine = Engine(model, MemoryConfig(mode="bswa", block_size=64, memory_segments=5))
    attn, mlp = model.model.layers[0].self_attn, model.model.layers[0].mlp
    assert _fused(attn) is not None and _fused(mlp) is not None
    assert attn.k_proj.weight.data_ptr() != attn.q_proj.weight.data_ptr()
    with torch.no_grad():  # what merging an adapter does: in-place changes of the modules' weights
        for layer in model.model.layers:
            for lin in (layer.self_attn.q_proj, layer.self_attn.v_proj, layer.mlp.up_proj):
                lin.weight.add_(torch.randn_like(lin.weight) * 0.05)
                if lin.bias is not None:
                    lin.bias.normal_(0, 0.5)
    ids = ids_of(200)
    theirs = model(ids[None]).logits[0]
    ours = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_lora_wrapped_layers_bypass_the_fused_products(llama):
    """LoRA injected after the engine was built (as in training) must not be skipped by the fused path."""
    from peft import LoraConfig, inject_adapter_in_model

    from famcli.core.layers import _fused

    engine = Engine(llama, MemoryConfig(mode="bswa", block_size=64, memory_segments=5))
    ids = ids_of(150)
    base = engine.feed(engine.new_state(), ids, all_logits=True)
    inject_adapter_in_model(LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "gate_proj"]), llama)
    for name, m in llama.named_modules():
        if hasattr(m, "lora_B") and "default" in m.lora_B:
            torch.nn.init.normal_(m.lora_B["default"].weight, 0, 0.2)
    assert _fused(llama.model.layers[0].self_attn) is None and _fused(llama.model.layers[0].mlp) is None
    with torch.no_grad():
        theirs = llama(ids[None]).logits[0]
        ours = engine.feed(engine.new_state(), ids, all_logits=True)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    assert (ours - base).abs().max() > 1e-2
