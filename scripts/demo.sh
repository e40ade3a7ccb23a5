#!/usr/bin/env bash
# meshd's demo (as root): six real meshd daemons, each in its own network
# namespace, joined by veth pairs into a 2x3 grid, form a mesh; a pings f
# over bat0 (IPv4, IPv6, batman ICMP), then a link on the path goes down
# while a ping runs and the route moves. Exits non-zero if the mesh does not
# converge or a ping fails. Everything is removed on exit, also on Ctrl-C.
#   bash scripts/demo.sh --sim [SEED]   the simulator demo instead (no root)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sim" ]; then
    shift
    exec cargo run --release -q -p hwtest -- demo "$@"
fi
if [ "$(id -u)" != 0 ]; then
    echo "demo.sh: needs root (network namespaces, raw sockets, a TAP per node)." >&2
    echo "         Run it as root, or 'bash scripts/demo.sh --sim' for the simulator demo." >&2
    exit 1
fi
for t in ip ping cargo; do command -v "$t" >/dev/null || { echo "demo.sh: needs $t" >&2; exit 1; }; done

P="mdemo$$"                      # namespaces $P-a .. $P-f: ours alone
NODES=(a b c d e f)
declare -A NUM=([a]=1 [b]=2 [c]=3 [d]=4 [e]=5 [f]=6) IFS_OF=()
LINKS=(a-b b-c d-e e-f a-d b-e c-f)
PIDS=()
TMP=""
T0=$SECONDS

cleanup() {
    set +e
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 20; i++)); do kill -0 "${PIDS[@]}" 2>/dev/null || break; sleep 0.1; done
    for n in "${NODES[@]}"; do
        if ip netns list | grep -q "^$P-$n\b"; then
            # shellcheck disable=SC2046  # pids are words
            kill -KILL $(ip netns pids "$P-$n") 2>/dev/null
            ip netns del "$P-$n" 2>/dev/null
        fi
    done
    [ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "demo.sh: interrupted, cleaning up"; exit 130' INT
trap 'exit 143' TERM

# What earlier runs killed outright (kill -9: no trap) left behind, if their pid is gone.
shopt -s nullglob
for old in $(ip netns list | grep -o '^mdemo[0-9]*-[a-f]\b' || true) /tmp/meshd-demo-[0-9]*.*; do
    pid=${old##*/}; pid=${pid#mdemo}; pid=${pid#meshd-demo-}; pid=${pid%%[.-]*}
    if [ -d "/proc/$pid" ]; then continue; fi
    # shellcheck disable=SC2046  # pids are words
    if [ -d "$old" ]; then rm -rf "$old"; else kill -KILL $(ip netns pids "$old") 2>/dev/null; ip netns del "$old" 2>/dev/null; fi || true
done
shopt -u nullglob

say() { printf '\n== %s\n' "$1"; shift; [ $# -eq 0 ] || printf '   %s\n' "$@"; }
ctl() { ip netns exec "$P-$1" "$MESHD" ctl -s "$TMP/$1.sock" "${@:2}"; }
ping_ok() { ip netns exec "$P-a" ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
fail() { echo "demo.sh: FAILED: $1" >&2; for n in "${NODES[@]}"; do echo "--- log of $n:"; tail -n 15 "$TMP/$n.log"; done >&2; exit 1; }
# The outgoing interface ("to-X", named after the peer) of node $1's route to $2.
via() { ctl "$1" -j o | grep -o "{\"orig\":\"$2\"[^}]*}" | sed -n 's/.*"iface":"to-\([a-f]\)".*/\1/p'; }
path() { local n=a p=a; for _ in 1 2 3 4 5; do n=$(via "$n" "$ORIG_F" || true); [ -n "$n" ] || break; p="$p -> $n"; [ "$n" = f ] && break; done; echo "$p"; }

say "building meshd (cargo build --release -p meshd)"
cargo build --release -q -p meshd
MESHD="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/meshd"
[ -x "$MESHD" ] || MESHD="${CARGO_TARGET_DIR:-target}/release/meshd"
TMP=$(mktemp -d "/tmp/meshd-demo-$$.XXXXXX")

say "six namespaces, veth links (MTU 1532: room for batman's headers), a 2x3 grid" \
    "a --- b --- c      each node: meshd daemon -i to-X.. -t bat0 -s SOCK" \
    "|     |     |      bat0 of node N: 10.99.0.N/24, fd99::N/64" \
    "d --- e --- f      MAC of node N's link to M: 02:de:00:00:0N:0M"
for n in "${NODES[@]}"; do ip netns add "$P-$n"; ip -n "$P-$n" link set lo up; done
mac() { printf '02:de:00:00:%02x:%02x' "${NUM[$1]}" "${NUM[$2]}"; }
for l in "${LINKS[@]}"; do
    x=${l%-*} y=${l#*-}
    ip -n "$P-$x" link add "to-$y" address "$(mac "$x" "$y")" mtu 1532 type veth \
        peer name "to-$x" address "$(mac "$y" "$x")" mtu 1532 netns "$P-$y"
    ip -n "$P-$x" link set "to-$y" up
    ip -n "$P-$y" link set "to-$x" up
    IFS_OF[$x]+=" -i to-$y" IFS_OF[$y]+=" -i to-$x"
done
for n in "${NODES[@]}"; do
    read -ra args <<<"${IFS_OF[$n]}"
    ip netns exec "$P-$n" "$MESHD" daemon "${args[@]}" -t bat0 -s "$TMP/$n.sock" >"$TMP/$n.log" 2>&1 &
    PIDS+=("$!")
done
declare -A ORIG=()                # node -> originator (its first interface's MAC)
for n in "${NODES[@]}"; do        # meshd names it once bat0 is up
    for _ in $(seq 50); do
        ORIG[$n]=$(sed -n 's/.*running as originator \([0-9a-f:]*\).*/\1/p' "$TMP/$n.log" 2>/dev/null || true)
        [ -n "${ORIG[$n]}" ] && break; sleep 0.1
    done
    [ -n "${ORIG[$n]}" ] || fail "meshd in node $n did not start"
    ip -n "$P-$n" addr add "10.99.0.${NUM[$n]}/24" dev bat0
    ip -n "$P-$n" addr add "fd99::${NUM[$n]}/64" dev bat0 nodad
done
ORIG_F=${ORIG[f]}

say "waiting for a to learn routes to all 5 other nodes (OGMs every second)"
pre='' post='\n'; if [ -t 1 ]; then pre='\r' post=''; fi
known=0
for i in $(seq 60); do
    table=$(ctl a o 2>/dev/null || true) known=0
    for n in b c d e f; do grep -q "^ \* ${ORIG[$n]} " <<<"$table" && known=$((known + 1)); done
    printf "$pre   %2d.%ds: a has routes to %s of 5 nodes $post" $((i / 2)) $((i % 2 * 5)) "$known"
    [ "$known" -ge 5 ] && break
    sleep 0.5
done
[ -t 1 ] && echo
[ "$known" -ge 5 ] || fail "a knows only $known of 5 originators after 30 s"

say "meshctl o on a: originators, their TQ (path quality of 255, climbing as OGMs" \
    "accumulate) and next hop. 02:de:00:00:0N:xx is node N; a node's other interfaces" \
    "appear too, one hop away (their OGMs have TTL 2, as in batman-adv)"
ctl a o
say "meshctl n on a: its direct neighbours (b and d)"
ctl a n

say "ping over bat0 from a (10.99.0.1) to f (10.99.0.6), three hops away"
for _ in $(seq 30); do ping_ok 10.99.0.6 && break; sleep 0.5; done
ip netns exec "$P-a" ping -c 3 -i 0.5 10.99.0.6 || fail "IPv4 ping a -> f"
say "the same over IPv6 (fd99::1 -> fd99::6)"
for _ in $(seq 20); do ping_ok fd99::6 && break; sleep 0.5; done
ip netns exec "$P-a" ping -c 3 -i 0.5 fd99::6 || fail "IPv6 ping a -> f"
say "meshctl ping $ORIG_F: batman's own ICMP echo to f's originator, no IP involved"
ctl a ping -c 3 "$ORIG_F" || fail "meshctl ping a -> f"
if { "$MESHD" ctl 2>&1 || true; } | grep -Eq '(^|[|[:space:]])tr([|[:space:]]|$)'; then   # its usage
    say "meshctl tr $ORIG_F: the hops to f"
    ctl a tr "$ORIG_F" || echo "   (meshctl tr failed; it is new)"
fi

say "reroute: a link on the path goes down while a pings f 10 times a second"
echo "   path a -> f now: $(path)"
x=$(via a "$ORIG_F" || true); y=$(via "${x:-a}" "$ORIG_F" || true)
if [ -z "$x" ] || [ -z "$y" ]; then fail "no route a -> f to cut"; fi
ip netns exec "$P-a" ping -c 60 -i 0.1 -W 1 10.99.0.6 >"$TMP/ping.txt" 2>&1 &
PING=$!
sleep 2
echo "   $(date +%T.%N | cut -c1-12): ip link set to-$y down in $x (link $x-$y; the veth peer loses carrier)"
ip -n "$P-$x" link set "to-$y" down
wait "$PING" || true
echo "   the ping across the cut (lost packets x 0.1 s = the gap; usually none, but Linux can"
echo "   delay the far end's carrier event up to 1 s when links change often; meshd also polls):"
grep -E 'transmitted|rtt' "$TMP/ping.txt" | sed 's/^/   /' || true
grep -q ' 0 received' "$TMP/ping.txt" && fail "no ping reply around the cut"
for _ in $(seq 20); do ping_ok 10.99.0.6 && break; sleep 0.5; done
ping_ok 10.99.0.6 || fail "no ping a -> f after the cut"
echo "   path a -> f now: $(path)"
say "meshctl o on a after the cut"
ctl a o

say "done in $((SECONDS - T0)) s; stopping the daemons and removing the namespaces"
