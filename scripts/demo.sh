#!/usr/bin/env bash
# meshd's demo: the simulator shows a 3x3 grid mesh converge, then a link on
# the best path cut silently and by carrier loss, and the route moving.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p hwtest -- demo "$@"
