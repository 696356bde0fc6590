#!/bin/sh
# gnd-source.sh COMMAND [ARGS...]
#
# Starts GNOME Network Displays (Debian 12 package gnome-network-displays 0.90.5) as a real
# Wi-Fi Display source listening on 127.0.0.1:7236, inside a private network and PID namespace
# whose only interface is loopback, runs COMMAND (a sink that connects to 127.0.0.1:7236), then
# stops everything. Exits with COMMAND's status, or 97 when the namespace cannot be created.
#
# Needs root (or unprivileged user namespaces) and the packages install-gnd.sh installs.
# Logs stay in $GND_TMP (default: a fresh temporary folder).
GND_TMP=${GND_TMP:-$(mktemp -d)}; export GND_TMP
USERNS=; [ "$(id -u)" = 0 ] || USERNS=--map-root-user
if ! unshare $USERNS --net --pid --fork true 2>"$GND_TMP/unshare.err"; then
  echo "gnd-source: cannot create a private network namespace: $(cat "$GND_TMP/unshare.err")" >&2
  echo "gnd-source: run as root, or enable unprivileged user namespaces (kernel.unprivileged_userns_clone=1)" >&2
  exit 97
fi
timeout 300 unshare $USERNS --net --pid --fork --kill-child sh -eu -c '
ip link set lo up
T=$GND_TMP
export HOME=$T NO_AT_BRIDGE=1 XDG_RUNTIME_DIR=$T/xdg
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$T/display" 2>"$T/xvfb.log" &
XVFB=$!
timeout 10 sh -c "until [ -s $T/display ]; do sleep 0.05; done"
export DISPLAY=:$(cat "$T/display")
NETWORK_DISPLAYS_DUMMY=1 G_MESSAGES_DEBUG=all dbus-run-session -- gnome-network-displays >"$T/gnd.log" 2>&1 &
WID=$(timeout 20 xdotool search --sync --onlyvisible --name "^Network Displays\$" | head -1)
GND=$(xdotool getwindowpid "$WID")
sleep 0.5
# The "Dummy WFD Sink" row needs a double-click (the window sits at 0,0: no window manager).
xdotool mousemove --window "$WID" 300 139 click --repeat 2 --delay 100 1
# Wait for the listener; never probe by connecting: the source serves only its first client.
timeout 10 sh -c "until ss -ltn | grep -q \":7236 \"; do sleep 0.05; done"
echo "gnd-source: listening on 127.0.0.1:7236"
rc=0; "$@" || rc=$?
kill -TERM "$GND"
timeout 5 sh -c "while kill -0 $GND 2>/dev/null; do sleep 0.1; done" || true
kill -TERM "$XVFB"; wait "$XVFB" || true
exit $rc
' gnd-source "$@"
