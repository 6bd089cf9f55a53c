#!/usr/bin/env bash
# The README's first command: installs and starts what eventfold needs
# (PostgreSQL, Redis) when it is missing or down, then runs the example end
# to end against them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
export PATH="$PATH:/usr/local/go/bin"
exec make --no-print-directory run
