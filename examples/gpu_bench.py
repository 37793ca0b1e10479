"""GPU figures for the README: the Triton kernel vs SDPA, and end-to-end reading speed on a model shaped
like SmolLM2-135M (random weights: speed does not depend on the values). Run on a CUDA machine:

    python examples/gpu_bench.py
"""

import json

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from famcli.core.config import MemoryConfig
from famcli.measure.bench import engine_rate, hf_rate, kernel_vs_sdpa, matmul_gflops

device = "cuda"
rows = {"device": torch.cuda.get_device_name(), "bf16_matmul_tflops": matmul_gflops(device=device, n=8192) / 1e3}
rows["kernel"] = [kernel_vs_sdpa(block_size=b, memory_segments=m, fam_length=n, dtype=dt, device=device)
                  for b, m, n in [(256, 1, 16), (1024, 3, 64), (2048, 3, 64)]
                  for dt in (torch.bfloat16, torch.float16)]
config = AutoConfig.for_model("llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                              num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                              max_position_embeddings=8192, rope_theta=100000.0, tie_word_embeddings=True)
model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.bfloat16).to(device).eval()
ids = torch.randint(0, 49152, (32768,), device=device)
with torch.no_grad():
    rows["e2e"] = [hf_rate(model, ids[:8192])]
    for n in (8192, 32768):
        for cfg in (MemoryConfig(), MemoryConfig(mode="bswa"), MemoryConfig(block_size=1024, memory_segments=3, fam_length=64)):
            rows["e2e"].append(engine_rate(model, cfg, ids[:n]) | {"config": cfg.to_dict()})
print(json.dumps(rows, indent=1))
