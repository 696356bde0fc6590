#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/TARGET, not committed) from the shipped
# scenarios, the bad-scenario fixtures and the public Wi-Fi Display vectors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
root=..
mkdir -p corpus/scenario corpus/replay_token corpus/rtsp_message corpus/wfd_params
find "$root/scenarios" "$root/tests/data/bad-scenarios" -name '*.json' ! -name schema.json |
  while read -r f; do cp "$f" "corpus/scenario/$(sha1sum "$f" | cut -c1-16).json"; done
python3 - "$root/tests/data/wfd-vectors-public.json" <<'PY'
import json, sys, hashlib, os
for v in json.load(open(sys.argv[1])):
    raw = v["raw"].encode("utf-8", "surrogateescape") if isinstance(v["raw"], str) else bytes(v["raw"])
    name = hashlib.sha1(raw).hexdigest()
    open(os.path.join("corpus/rtsp_message", name), "wb").write(raw)
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else raw
    if body:
        open(os.path.join("corpus/wfd_params", name), "wb").write(body)
PY
# Replay tokens: from a run of a few shipped scenarios (the binary is built if needed).
(cd "$root" && cargo run -q -- run scenarios/conformance/lifecycle --format json || true) | python3 -c '
import json, sys, hashlib, os
for s in json.load(sys.stdin)["scenarios"]:
    t = s.get("replay_token")
    if t:
        open(os.path.join("corpus/replay_token", hashlib.sha1(t.encode()).hexdigest()), "w").write(t)
'
