#!/usr/bin/env bash
# Installs what the library tests start or drive when it is missing:
# PostgreSQL's server (asyncpg's tests start one of their own in a
# temporary directory) and wrk (the HTTP load generator of the uvicorn
# test), from Debian's packages. Needs root on a fresh machine.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v wrk >/dev/null || need+=(wrk)
command -v runuser >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: ${need[*]} missing; install them (Debian: apt-get install ${need[*]}) or run as root" >&2
        exit 1
    fi
    echo "== installing ${need[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
