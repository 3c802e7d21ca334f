#!/usr/bin/env bash
# Installs Suricata from Debian bookworm-backports, for the engine-agreement test
# (tests/suricata_engine.rs). Bookworm's own suricata is 6.x; backports carries 7.x, the
# release line the Emerging Threats rules in the corpus are written for.
#
# The backports source reuses the mirror already configured for bookworm, read at run time,
# so the script works on any machine whose apt can reach a Debian mirror at all.
set -euo pipefail

if command -v suricata >/dev/null 2>&1; then
    echo "suricata already installed: $(suricata -V 2>&1 | head -n 1)" >&2
    exit 0
fi

sources=/etc/apt/sources.list.d/debian.sources
backports=/etc/apt/sources.list.d/bookworm-backports.sources

if [ ! -f "$backports" ]; then
    # The deb822 stanza whose Suites include plain `bookworm` names the main mirror.
    # deb822 fields come in any order, so each stanza is judged at its end.
    uri=$(awk '
        function judge() { if (bookworm && uris != "" && found == "") found = uris; uris = ""; bookworm = 0 }
        /^URIs:/ { uris = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") bookworm = 1 }
        /^[[:space:]]*$/ { judge() }
        END { judge(); print found }
    ' "$sources" 2>/dev/null || true)
    if [ -z "$uri" ]; then
        echo "error: cannot find the bookworm mirror in $sources" >&2
        exit 2
    fi
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
        "$uri" "$keyring" >"$backports"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports suricata >/dev/null
echo "installed: $(suricata -V 2>&1 | head -n 1)" >&2
