#!/usr/bin/env bash
# Interoperability test: miracast-sim's simulated Wi-Fi Display sink against a real WFD source,
# GNOME Network Displays, over real RTSP/RTP on loopback inside a private network namespace.
#
# For each sink personality it runs `miracast-sim sink --connect 127.0.0.1:7236` under
# gnd-source.sh, which must: complete M1..M7, receive RTP, answer the M16 keep-alive (about 26 s
# after PLAY), and tear down on the aggregate URL (M8). The personalities run in parallel, each
# in its own namespace with its own source, so the whole test takes about 35 s.
#
# Artifacts (kept by CI): $INTEROP_OUT (default target/interop)/<personality>.json (every RTSP
# message with direction, timing and M-number; the RTP packet count), <personality>.txt (the
# sink's output), summary.txt (what the source chose for each personality).
#
# Usage: tests/interop/run.sh [path/to/miracast-sim]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-target/release/miracast-sim}
out=${INTEROP_OUT:-target/interop}
personalities=(1080p60 720p_only no_audio)
mkdir -p "$out"
[ -x "$bin" ] || { echo "interop: $bin is not built (cargo build --release)" >&2; exit 2; }
for tool in gnome-network-displays Xvfb xdotool unshare python3; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "interop: $tool is missing; run tests/interop/install-gnd.sh as root first" >&2
    exit 2
  }
done

for p in "${personalities[@]}"; do
  (
    rc=0
    GND_TMP=$(mktemp -d) "$here/gnd-source.sh" "$bin" sink --connect 127.0.0.1:7236 \
      --personality "$p" --duration 30s --require-keepalive --require-rtp \
      --exchange-log "$out/$p.json" >"$out/$p.txt" 2>&1 || rc=$?
    echo "$rc" >"$out/$p.rc"
  ) &
done
wait

status=0
: >"$out/summary.txt"
for p in "${personalities[@]}"; do
  rc=$(cat "$out/$p.rc")
  if [ "$rc" = 97 ]; then
    echo "interop: FAIL $p: this machine cannot create the private network namespace the source needs" >&2
    echo "interop: (run as root, as CI does, or enable unprivileged user namespaces); nothing was tested" >&2
    cat "$out/$p.txt" >&2
    exit 1
  fi
  if [ "$rc" != 0 ] || [ ! -s "$out/$p.json" ]; then
    echo "interop: FAIL $p: the sink exited with $rc" >&2
    tail -n 30 "$out/$p.txt" >&2
    status=1
    continue
  fi
  # Decode what the source chose in its M4, with our own decoder.
  python3 - "$out/$p.json" >"$out/$p.m4.txt" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
m4 = [m for m in log["messages"] if m["message"] == "M4" and m["direction"] == "source->sink"]
sys.stdout.write(m4[0]["text"] if m4 else "")
PY
  "$bin" wfd decode "$out/$p.m4.txt" >"$out/$p.m4.json"
  if ! python3 - "$p" "$out/$p.json" "$out/$p.m4.json" >>"$out/summary.txt" <<'PY'
import json, sys
name, log_path, m4_path = sys.argv[1:4]
log = json.load(open(log_path))
msgs = log["messages"]
def seen(m, direction=None):
    return any(x["message"] == m and (direction is None or x["direction"] == direction) for x in msgs)
problems = []
for m in ["M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8"]:
    if not seen(m):
        problems.append(f"{m} missing")
answered_m16 = [x for x in msgs if x["message"] == "M16 reply" and x["direction"] == "sink->source" and x.get("status") == 200]
if not answered_m16:
    problems.append("no M16 keep-alive answered with 200")
teardown_ok = [x for x in msgs if x["message"] == "M8 reply" and x.get("status") == 200]
if not teardown_ok:
    problems.append("no TEARDOWN answered with 200")
if not log.get("negotiation_completed"):
    problems.append("negotiation not completed")
packets = log.get("rtp", {}).get("packets", 0)
if packets <= 0:
    problems.append("no RTP packets")
chosen = {}
for message in json.load(open(m4_path)):
    for p in message.get("parameters", []):
        d = p.get("decoded")
        if p["name"] == "wfd_video_formats" and d:
            chosen["video"] = ", ".join(m for c in d.get("codecs", []) for m in c.get("modes", []))
        elif p["name"] == "wfd_audio_codecs":
            chosen["audio"] = p["value"]
line = f"{name}: source chose video {chosen.get('video', '?')}, audio {chosen.get('audio', '?')}; " \
       f"{len(msgs)} RTSP messages, {len(answered_m16)} keep-alive(s) answered, {packets} RTP packets"
print(line if not problems else f"{line}; PROBLEMS: {'; '.join(problems)}")
sys.exit(1 if problems else 0)
PY
  then
    status=1
  fi
done
cat "$out/summary.txt"
if [ "$status" = 0 ]; then
  echo "interop: ${#personalities[@]} passed, 0 failed"
else
  echo "interop: FAILED (artifacts in $out)" >&2
fi
exit "$status"
