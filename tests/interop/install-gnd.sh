#!/bin/sh
# Installs what gnd-source.sh needs, from Debian packages only. Run as root.
# gnome-network-displays depends on network-manager and wpasupplicant: the policy-rc.d guard
# keeps their services from starting on this machine.
set -eu
if command -v gnome-network-displays >/dev/null 2>&1 && command -v Xvfb >/dev/null 2>&1 \
  && command -v xdotool >/dev/null 2>&1; then
  exit 0
fi
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  gnome-network-displays gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad xvfb xdotool dbus iproute2 util-linux
