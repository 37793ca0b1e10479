#!/usr/bin/env bash
# FAM on a GPU, ready to run (issue 36, step 5): train the FAM adapter for MINUTES on one large GPU in bf16, then
# measure it against the untrained FAM and bswa with recall off. Data is generated on the machine (facts hidden in
# synthetic filler: no corpus needed). A checkpoint left in OUT from an earlier run is continued (--resume).
#   bash examples/gpu_fam.sh OUT
# Environment: FAMCLI (the famcli command), MODEL (a .gguf or model folder; default: famcli's default model),
# DEVICE (cuda), DTYPE (bf16), MINUTES (9), STEPS (an upper bound: 100000), BLOCKS (longest document in blocks: 16),
# EVAL (passkey lengths: 1k,4k), PIECE (64M). Files in OUT larger than PIECE are cut into OUT/NAME.part-NN pieces
# (a device call brings back files of at most 64 MiB); `cat NAME.part-* > NAME` joins them.
set -euo pipefail
out=${1:?usage: bash examples/gpu_fam.sh OUT}
famcli=${FAMCLI:-famcli}
piece=${PIECE:-64M}
mkdir -p "$out"
for f in "$out"/*.part-00; do  # pieces brought back from an earlier run: join them first
  [ -e "$f" ] && cat "${f%.part-00}".part-* > "${f%.part-00}" && rm "${f%.part-00}".part-*
done
model=()
[ -n "${MODEL:-}" ] && model=(--model "$MODEL")
resume=()
[ -f "$out/adapter.safetensors.ckpt" ] && resume=(--resume)
common=("${model[@]}" --device "${DEVICE:-cuda}")
"$famcli" train "${common[@]}" "${resume[@]}" --memory fam --dtype "${DTYPE:-bf16}" --steps "${STEPS:-100000}" \
  --minutes "${MINUTES:-9}" --max-blocks "${BLOCKS:-16}" --block-sizes 64,128,256 --checkpoint-every 200 \
  --out "$out/adapter.safetensors" --log "$out/train.jsonl" -q
"$famcli" passkey "${common[@]}" --dtype "${DTYPE:-bf16}" --adapter "$out/adapter.safetensors" \
  --memory fam,fam-zero-shot,bswa --no-recall --length "${EVAL:-1k,4k}" --depth 0.1,0.5,0.9 --trials 2 --json -q \
  > "$out/passkey.json"
limit=$(numfmt --from=iec "$piece")
for f in "$out"/*; do
  if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt "$limit" ]; then
    split -b "$piece" -d "$f" "$f.part-" && rm "$f"
  fi
done
