"""The engine core: the memory configuration (config), rotary positions (positions), the layer products in each
precision (layers, quant), the memories (memory/: one registry, one module per kind), adapters (adapter), the
block-by-block reader (engine) and its state (state), decoding (generate) and several continuations decoded
in the same steps (branches).

May import: famcli.common, famcli.text, famcli.recall (a saved state carries its index), famcli.kernels (and
the kernels it dispatches to, famcli_kernels) (docs/design.md, section 11).
"""
