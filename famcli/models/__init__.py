"""Models: loading a Hugging Face folder or a GGUF file without running any code it ships (loading, native), the
precision `--dtype auto` picks on this CPU (precision), fast token counts and streamed tokenising (tokens), and
an engine ready for a memory with its adapter merged (runtime), and the prompts put to it (prompts: a reading's
header, an instruction as a turn of the tokenizer's chat template).

May import: famcli.common, famcli.recall, famcli.core (docs/design.md, section 11).
"""
