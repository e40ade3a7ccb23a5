#!/usr/bin/env bash
# openwrt/test.sh: tests of the OpenWrt package, as a normal user, on files
# only (no router, no root, the host's network untouched).
#
#  1. shell syntax (sh -n, busybox ash -n if installed) and shellcheck (if
#     installed) of the init script, the uci-defaults script and the tools
#  2. the feed Makefile, run by GNU make against our stand-ins for
#     OpenWrt's rules.mk/package.mk/rust-package.mk (test/make): its
#     DEPENDS, conffiles, install recipe (files, modes, the meshctl link)
#     and Build/Prepare (a workspace cargo can load)
#  3. /etc/config/meshd and the samples in test/uci: our awk check
#     (test/lib/ucicheck.awk) and the host meshd's `meshd check` agree:
#     good files pass, broken ones fail naming the expected line
#  4. the real init script, sourced with our stand-ins for rc.common and
#     procd (test/lib/stubs.sh) that record every call: start's command
#     line, respawn, logd, the reload and interface triggers per mesh
#     interface, enabled '0', waiting for a missing interface, lan_bridge,
#     and reload: a good file is HUP, a broken one is logged and refused
#     with no HUP and no restart
#  5. the real uci-defaults script on OpenWrt 23.05-style network and
#     wireless files (test/etc) with test/bin/uci standing in for uci
#  6. build-ipk: refuses a binary of the wrong architecture; with cross
#     binaries in cross/out, builds every .ipk twice (same bytes) and
#     checks the layout, control fields, Architecture against the ELF
#     header, conffiles, scripts and that the files are the package's
#  7. only with an opkg at hand (OPKG=, e.g. OpenWrt's opkg-lede built for
#     the host): install into an offline root, upgrade keeps the user's
#     config, remove
#
# Missing cross binaries (CROSS_OUT, default cross/out) or host meshd:
# skipped with a message, but a failure under CI=true. The host meshd is ${CARGO_TARGET_DIR:-target}/
# release/meshd (MESHD_BIN overrides); scripts/test.sh runs this after
# cargo has built it.
# shellcheck disable=SC2016 # sh -c '...' sh ARGS: quoted on purpose
set -euo pipefail
export LC_ALL=C TZ=UTC

OW=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$OW/.." && pwd -P)
FILES=$OW/meshd/files
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

PASSED=0
FAILED=()
ok() {
	PASSED=$((PASSED + 1))
	echo "  ok    $*"
}
fail() {
	FAILED+=("$*")
	echo "  FAIL  $*"
}
skip() {
	if [ "${CI:-}" = true ]; then
		fail "$* (not skippable under CI=true)"
	else
		echo "  skip  $*"
	fi
}
# expect DESCRIPTION COMMAND...: ok if the command succeeds
expect() {
	local d=$1
	shift
	if "$@" >"$T/out" 2>&1; then ok "$d"; else
		fail "$d"
		sed 's/^/        | /' "$T/out" | head -n 20 || true
	fi
}
# same TEXT WANT DESCRIPTION
same() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		fail "$3"
		diff <(echo "$2") <(echo "$1") | sed 's/^/        | /' | head -n 30 || true
	fi
}
has() { grep -qxF -- "$2" "$1"; }  # has FILE LINE
hasnt() { ! grep -qF -- "$2" "$1"; } # hasnt FILE TEXT
section() { echo "== $*"; }

# The shells to run the scripts with: the host's sh, and busybox ash (what
# OpenWrt has) when it is installed.
SHELLS=(sh)
if command -v busybox >/dev/null && busybox ash -c : 2>/dev/null; then
	SHELLS+=("busybox ash")
fi

# ------------------------------------------------------------------ 1
section "1. shell syntax and shellcheck"
for sh in "${SHELLS[@]}"; do
	for f in meshd.init meshd.uci-defaults meshd-lan; do
		# shellcheck disable=SC2086 # "busybox ash" is two words
		expect "$sh -n files/$f" $sh -n "$FILES/$f"
	done
done
expect "bash -n build-ipk test.sh" bash -n "$OW/build-ipk" "$OW/test.sh"
if command -v shellcheck >/dev/null; then
	expect "shellcheck files/meshd.init files/meshd.uci-defaults files/meshd-lan" \
		shellcheck "$FILES/meshd.init" "$FILES/meshd.uci-defaults" "$FILES/meshd-lan"
	expect "shellcheck build-ipk test.sh test/bin/* test/lib/stubs.sh" \
		shellcheck "$OW/build-ipk" "$OW/test.sh" "$OW/test/bin/uci" "$OW/test/bin/meshd-check" "$OW/test/lib/stubs.sh"
else
	echo "  skip  shellcheck (not installed)"
fi

# ------------------------------------------------------------------ 2
section "2. feed Makefile (against test/make stand-ins)"
cargo_version=$(awk '/^\[workspace.package\]/ { on = 1; next } /^\[/ { on = 0 }
	on && /^version *=/ { gsub(/.*= *"|".*/, ""); print; exit }' "$REPO/Cargo.toml")
mk_version=$(sed -n 's/^PKG_VERSION:=//p' "$OW/meshd/Makefile")
same "$mk_version" "$cargo_version" "Makefile PKG_VERSION is the Cargo.toml workspace version ($cargo_version)"
expect "Makefile includes the feed's rust-package.mk (../../lang/rust first)" \
	grep -q '\.\./\.\./lang/rust/rust-package\.mk' "$OW/meshd/Makefile"
if command -v make >/dev/null; then
	MK=(make -s -C "$OW/meshd" "TOPDIR=$OW/test/make" "BUILD_DIR=$T/mk/build")
	mkdir -p "$T/mk/build/meshd-$mk_version/ipkg-install/bin" "$T/mk/root"
	echo "a binary" >"$T/mk/build/meshd-$mk_version/ipkg-install/bin/meshd"
	if "${MK[@]}" "REPORT=$T/mk/report" report >"$T/out" 2>&1; then
		r=$T/mk/report
		expect "DEPENDS: \$(RUST_ARCH_DEPENDS) +kmod-tun" has "$r" \
			"DEPENDS: @(aarch64||arm||i386||i686||mips||mipsel||mips64||mips64el||powerpc64||riscv64||x86_64) +kmod-tun"
		expect "PKG_BUILD_DEPENDS: rust/host" has "$r" "PKG_BUILD_DEPENDS: rust/host"
		expect "conffiles: /etc/config/meshd /etc/meshd/" has "$r" "conffiles: /etc/config/meshd /etc/meshd/"
		expect "SECTION net, CATEGORY Network" grep -qx 'CATEGORY: Network' "$r"
	else
		fail "make report"
		sed 's/^/        | /' "$T/out"
	fi
	if "${MK[@]}" "DESTDIR=$T/mk/root" install-root >"$T/out" 2>&1; then
		(cd "$T/mk/root" && find . -mindepth 1 -printf '%M %p%l\n' | sort -k2) >"$T/mk/layout"
		same "$(cat "$T/mk/layout")" "$(
			cat <<-'EOF'
				drwxr-xr-x ./etc
				drwxr-xr-x ./etc/config
				-rw------- ./etc/config/meshd
				drwxr-xr-x ./etc/init.d
				-rwxr-xr-x ./etc/init.d/meshd
				drwxr-xr-x ./etc/uci-defaults
				-rw-r--r-- ./etc/uci-defaults/90-meshd
				drwxr-xr-x ./usr
				drwxr-xr-x ./usr/libexec
				-rwxr-xr-x ./usr/libexec/meshd-lan
				drwxr-xr-x ./usr/sbin
				lrwxrwxrwx ./usr/sbin/meshctlmeshd
				-rwxr-xr-x ./usr/sbin/meshd
			EOF
		)" "Package/meshd/install: files, modes, meshctl -> meshd"
		expect "installed files are the ones in files/" sh -c '
			cmp "$1/etc/init.d/meshd" "$2/meshd.init" &&
			cmp "$1/etc/config/meshd" "$2/meshd.config" &&
			cmp "$1/etc/uci-defaults/90-meshd" "$2/meshd.uci-defaults" &&
			cmp "$1/usr/libexec/meshd-lan" "$2/meshd-lan"' sh "$T/mk/root" "$FILES"
	else
		fail "make install-root"
		sed 's/^/        | /' "$T/out"
	fi
	if "${MK[@]}" "REPORT=$T/mk/compile" prepare compile >"$T/out" 2>&1; then
		b=$T/mk/build/meshd-$mk_version
		expect "Build/Compile: cargo install of the meshd crate" has "$T/mk/compile" \
			"cargo install --root $b/ipkg-install --path $b/meshd"
		if command -v cargo >/dev/null; then
			expect "Build/Prepare: the copied workspace loads (cargo metadata)" \
				cargo metadata --offline --no-deps --format-version 1 --manifest-path "$b/Cargo.toml"
		else
			echo "  skip  cargo metadata of the prepared tree (no cargo)"
		fi
	else
		fail "make prepare compile"
		sed 's/^/        | /' "$T/out"
	fi
else
	echo "  skip  the Makefile checks (no GNU make here)"
fi

# ------------------------------------------------------------------ 3
section "3. UCI files: our check and meshd check"
MESHD=${MESHD_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/meshd}
HOST_MESHD=
if [ -x "$MESHD" ]; then
	rc=0
	"$MESHD" check --config "$FILES/meshd.config" >"$T/out" 2>&1 || rc=$?
	if [ "$rc" = 2 ] && grep -q "unknown command" "$T/out"; then
		skip "meshd check: $MESHD has no 'check' (built before UCI support; rebuild)"
	else
		HOST_MESHD=$MESHD
	fi
else
	skip "meshd check: no host meshd at $MESHD (cargo build --release -p meshd)"
fi
ucicheck() { awk -f "$OW/test/lib/ucilex.awk" -f "$OW/test/lib/ucicheck.awk" "$1"; }
for f in "$FILES/meshd.config" "$OW"/test/uci/good-*.uci; do
	n=${f#"$OW"/}
	expect "awk check: $n ok" ucicheck "$f"
	[ -z "$HOST_MESHD" ] || expect "meshd check: $n ok" "$HOST_MESHD" check --config "$f"
done
for f in "$OW"/test/uci/bad-*.uci; do
	n=${f#"$OW"/}
	want=$(sed -n 's/^# expect-line: //p' "$f")
	checkers=(ucicheck)
	[ -z "$HOST_MESHD" ] || checkers+=("$HOST_MESHD check --config")
	for c in "${checkers[@]}"; do
		rc=0
		# shellcheck disable=SC2086 # the checker is a command and its flags
		out=$($c "$f" 2>&1) || rc=$?
		who=${c%% *}
		who=${who##*/}
		if [ "$rc" != 1 ]; then
			fail "$who: $n refused (exit $rc: $out)"
		elif [ "$want" = none ]; then
			if [[ $out == "$f: "* ]]; then ok "$who: $n refused: ${out#"$f": }"; else fail "$who: $n: '$out' does not start with the file"; fi
		elif [[ $out == "$f: line $want: "* ]]; then
			ok "$who: $n refused at line $want: ${out#"$f": line "$want": }"
		else
			fail "$who: $n: want '$f: line $want: ...', got '$out'"
		fi
	done
done

# ------------------------------------------------------------------ 4
section "4. init script (sourced with test/lib/stubs.sh)"
CHECK=${HOST_MESHD:-$OW/test/bin/meshd-check}
echo "  (meshd check by $CHECK)"

# A test root: $1 = dir; etc/ (meshd from $2, network, wireless), sys/
# with the interfaces that exist.
mkroot() {
	local d=$1 conf=$2
	shift 2
	rm -rf "$d"
	mkdir -p "$d/etc" "$d/sys"
	cp "$conf" "$d/etc/meshd"
	cp "$OW/test/etc/network" "$d/etc/network"
	# The state after first boot: the mesh point and its interface.
	cat >"$d/etc/wireless" <<-'EOF'
		config wifi-device 'radio0'
			option band '2g'
			option channel '11'

		config wifi-iface 'meshd_mesh'
			option device 'radio0'
			option mode 'mesh'
			option mesh_id 'meshd'
			option mesh_fwding '0'
			option ifname 'wlmesh0'
			option network 'meshd_mesh'
	EOF
	cat >>"$d/etc/network" <<-'EOF'

		config interface 'meshd_mesh'
			option proto 'none'
			option mtu '1532'

		config interface 'meshd_eth1'
			option proto 'none'
			option device 'eth1'
			option mtu '1532'
	EOF
	local i
	for i in "$@"; do mkdir -p "$d/sys/$i"; done
}

# run_init DIR SHELL ACTION: source stubs and the init script in DIR, run
# ACTION (start, reload); calls in DIR/calls, status in DIR/status.
run_init() {
	local d=$1 sh=$2 action=$3
	: >"$d/calls"
	local rc=0
	# shellcheck disable=SC2086 # the script is for the shell under test
	CALLS=$d/calls UCI_CONFIG_DIR=$d/etc PATH="$OW/test/bin:$PATH" STUB_RUNNING=${RUNNING:-0} STUB_APPEAR=${APPEAR:-} \
		$sh -c '. "$1"; . "$2"; PROG=$3; CONF=$4; SYSFS_NET=$5; "$6"' sh \
		"$OW/test/lib/stubs.sh" "$FILES/meshd.init" "$CHECK" "$d/etc/meshd" "$d/sys" "$action" \
		>"$d/stdout" 2>"$d/stderr" || rc=$?
	echo "$rc" >"$d/status"
}

for sh in "${SHELLS[@]}"; do
	s=${sh%% *}
	D=$T/init-$s
	mkroot "$D" "$FILES/meshd.config" wlmesh0
	# shellcheck disable=SC2086
	defaults=$($sh -c '. "$1"; echo "$USE_PROCD $START $STOP $PROG $CONF $SOCK"' sh "$FILES/meshd.init")
	same "$defaults" "1 60 10 /usr/sbin/meshd /etc/config/meshd /var/run/meshd.sock" \
		"[$s] USE_PROCD=1 START=60 STOP=10; meshd, /etc/config/meshd, /var/run/meshd.sock"

	run_init "$D" "$sh" start
	same "$(cat "$D/calls")" "$(
		cat <<-EOF
			service open meshd /etc/init.d/meshd
			instance open
			param command $CHECK|daemon|--config|$D/etc/meshd|-s|/var/run/meshd.sock
			param respawn 
			param stdout 1
			param stderr 1
			instance close
			trigger config meshd
			trigger interface meshd_mesh reload
			service close
		EOF
	)" "[$s] start, default config: PROG daemon --config CONF -s SOCK, respawn, stdout/stderr to logd, reload trigger meshd, interface trigger meshd_mesh (wlmesh0's netifd interface)"

	# Wired and Wi-Fi, gateway, lan_bridge 'br-lan'.
	mkroot "$D" "$OW/test/uci/good-wired-gateway.uci" eth1 wlmesh0
	run_init "$D" "$sh" start
	c=$D/calls
	expect "[$s] two mesh interfaces: interface triggers for meshd_eth1 and meshd_mesh" \
		sh -c 'grep -x "trigger interface meshd_eth1 reload" "$1" && grep -x "trigger interface meshd_mesh reload" "$1" &&
			[ "$(grep -c "^trigger interface" "$1")" = 2 ]' sh "$c"
	expect "[$s] lan_bridge 'br-lan': bat0 a port of br-lan in /etc/config/network (committed)" \
		sh -c 'awk "/name .br-lan./,/^\$/" "$1" | grep -qx "	list ports .bat0."' sh "$D/etc/network"
	expect "[$s] lan_bridge: netifd reloaded, logged" \
		sh -c 'grep -x "ubus call network reload" "$1" && grep -q "bat0 added to the ports of bridge br-lan" "$1"' sh "$c"
	expect "[$s] lan_bridge: nothing left staged" test ! -e "$D/etc/.staged/network"
	cp "$D/etc/network" "$T/network.bridged"
	run_init "$D" "$sh" start
	expect "[$s] lan_bridge: a second start changes nothing" \
		sh -c '! grep -q ubus "$1" && cmp "$2" "$3"' sh "$c" "$D/etc/network" "$T/network.bridged"

	# lan_bridge names the interface ('lan') instead of the device.
	sed "s/option lan_bridge 'br-lan'/option lan_bridge 'lan'/" "$OW/test/uci/good-wired-gateway.uci" >"$T/lan.uci"
	mkroot "$D" "$T/lan.uci" eth1
	run_init "$D" "$sh" start
	expect "[$s] lan_bridge 'lan': bat0 joins lan's bridge device br-lan" \
		sh -c 'awk "/name .br-lan./,/^\$/" "$1" | grep -qx "	list ports .bat0."' sh "$D/etc/network"

	# lan_bridge names no bridge: said, nothing changed, meshd runs.
	sed "s/option lan_bridge 'br-lan'/option lan_bridge 'br-nope'/" "$OW/test/uci/good-wired-gateway.uci" >"$T/nope.uci"
	mkroot "$D" "$T/nope.uci" eth1
	run_init "$D" "$sh" start
	expect "[$s] lan_bridge 'br-nope': error logged, network untouched, meshd started" \
		sh -c 'grep -q "log meshd daemon.err: lan_bridge .br-nope.: no bridge" "$1" &&
			! grep -q ubus "$1" && grep -qx "instance open" "$1" &&
			! grep -q bat0 "$2"' sh "$c" "$D/etc/network"

	# An anonymous meshd section (uci names it cfgNNNNNN), a bridge by
	# interface name, a soft interface of another name.
	{
		grep -v soft_interface "$OW/test/uci/good-anonymous.uci"
		echo "	option soft_interface 'mesh-lan'"
		echo "	option lan_bridge 'lan'"
	} >"$T/anon.uci"
	mkroot "$D" "$T/anon.uci" lan4
	run_init "$D" "$sh" start
	expect "[$s] anonymous meshd section: started, its soft interface mesh-lan bridged into lan's br-lan" \
		sh -c 'grep -qx "instance open" "$1" && grep -qx "trigger config meshd" "$1" &&
			awk "/name .br-lan./,/^\$/" "$2" | grep -qx "	list ports .mesh-lan."' sh "$c" "$D/etc/network"

	# enabled '0'
	mkroot "$D" "$OW/test/uci/good-disabled.uci" wlmesh0
	run_init "$D" "$sh" start
	expect "[$s] enabled '0': no instance, said, reload trigger still there" \
		sh -c '! grep -q "instance open" "$1" && grep -q "not started: option enabled .0." "$1" &&
			grep -qx "trigger config meshd" "$1"' sh "$c"

	# No mesh interface exists yet: wait for the trigger, unless running.
	mkroot "$D" "$FILES/meshd.config"
	run_init "$D" "$sh" start
	expect "[$s] no mesh interface yet: no instance, 'waiting' logged, interface trigger set" \
		sh -c '! grep -q "instance open" "$1" && grep -q "waiting: none of the mesh interfaces (wlmesh0)" "$1" &&
			grep -qx "trigger interface meshd_mesh reload" "$1"' sh "$c"
	RUNNING=1 run_init "$D" "$sh" start
	expect "[$s] no mesh interface but meshd running: instance kept" grep -qx "instance open" "$c"
	rm -rf "$D/sys/wlmesh0"
	APPEAR=$D/sys/wlmesh0 run_init "$D" "$sh" start
	expect "[$s] wlmesh0 appears between start_service and the triggers: started at once by service_started" \
		sh -c '[ "$(grep -c "service open" "$1")" = 2 ] && [ "$(grep -c "instance open" "$1")" = 1 ] &&
			grep -q "appeared meanwhile" "$1"' sh "$c"

	# A broken file at start.
	mkroot "$D" "$OW/test/uci/bad-unknown-option.uci" wlmesh0
	run_init "$D" "$sh" start
	expect "[$s] start with a broken file: error with the line logged, no instance" \
		sh -c '! grep -q "instance open" "$1" && grep -q "log meshd daemon.err: not started: .*line 4" "$1"' sh "$c"

	# reload
	mkroot "$D" "$FILES/meshd.config" wlmesh0
	RUNNING=1 run_init "$D" "$sh" reload
	expect "[$s] reload, running, good file: same instance re-sent, then SIGHUP" \
		sh -c 'grep -qx "instance open" "$1" && [ "$(tail -n1 "$1")" = "signal meshd||HUP" ] &&
			[ "$(cat "$2")" = 0 ]' sh "$c" "$D/status"
	cp "$OW/test/uci/bad-unterminated.uci" "$D/etc/meshd"
	RUNNING=1 run_init "$D" "$sh" reload
	expect "[$s] reload, running, broken file: refused with the line logged, no HUP, no restart, exit 1" \
		sh -c 'grep -q "log meshd daemon.err: reload refused, the running configuration stays: .*line 5: unterminated" "$1" &&
			! grep -q signal "$1" && ! grep -q "service open" "$1" && [ "$(cat "$2")" = 1 ]' sh "$c" "$D/status"
	expect "[$s] reload refusal also on stderr" grep -q "reload refused" "$D/stderr"
	cp "$FILES/meshd.config" "$D/etc/meshd"
	RUNNING=0 run_init "$D" "$sh" reload
	expect "[$s] reload, not running, good file: started, no HUP" \
		sh -c 'grep -qx "instance open" "$1" && ! grep -q signal "$1"' sh "$c"
	cp "$OW/test/uci/good-disabled.uci" "$D/etc/meshd"
	RUNNING=1 run_init "$D" "$sh" reload
	expect "[$s] reload, running, enabled '0': service re-sent without instance (procd stops it), no HUP" \
		sh -c 'grep -q "service open" "$1" && ! grep -q "instance open" "$1" && ! grep -q signal "$1"' sh "$c"
done

# ------------------------------------------------------------------ 5
section "5. uci-defaults (first boot) on OpenWrt config files"

# fb_root DIR MESHD_CONF WIRELESS|-: a test /etc with the uci-defaults script
fb_root() {
	rm -rf "$1"
	mkdir -p "$1/etc/uci-defaults"
	cp "$2" "$1/etc/meshd"
	cp "$OW/test/etc/network" "$1/etc/network"
	[ "$3" = - ] || cp "$3" "$1/etc/wireless"
	cp "$FILES/meshd.uci-defaults" "$1/etc/uci-defaults/90-meshd"
}
# run_fb DIR SHELL: as OpenWrt runs it: ( . ./90-meshd ) && rm -f 90-meshd
run_fb() {
	local rc=0
	# shellcheck disable=SC2086
	(cd "$1/etc/uci-defaults" && UCI_CONFIG_DIR=$1/etc PATH="$OW/test/bin:$PATH" \
		$2 -c '( . ./90-meshd ) && rm -f 90-meshd' >"$1/stdout" 2>"$1/stderr") || rc=$?
	echo "$rc" >"$1/status"
}
uget() { UCI_CONFIG_DIR=$1 "$OW/test/bin/uci" -q get "$2"; }
# uis DIR KEY WANT: uci get equals WANT ("<unset>" for absent)
uis() {
	local v
	v=$(uget "$1" "$2") || v="<unset>"
	[ "$v" = "$3" ] || {
		echo "$2 is '$v', want '$3'"
		return 1
	}
}
# all_uis DIR KEY=WANT...
all_uis() {
	local d=$1 kv
	shift
	for kv in "$@"; do uis "$d" "${kv%%=*}" "${kv#*=}" || return 1; done
}

if [ -e /sbin/wifi ]; then
	echo "  note  /sbin/wifi exists on this host; the no-radio case is skipped"
fi
for sh in "${SHELLS[@]}"; do
	s=${sh%% *}
	D=$T/fb-$s
	E=$D/etc

	# One 2.4 GHz radio, as after flashing.
	fb_root "$D" "$FILES/meshd.config" "$OW/test/etc/wireless.single"
	run_fb "$D" "$sh"
	expect "[$s] single radio: status 0 and the script deleted" \
		sh -c '[ "$(cat "$1/status")" = 0 ] && [ ! -e "$1/etc/uci-defaults/90-meshd" ]' sh "$D"
	expect "[$s] single radio: 802.11s mesh point on radio0 (mesh, mesh_id, mesh_fwding 0, wlmesh0, meshd_mesh, open)" \
		all_uis "$E" wireless.meshd_mesh=wifi-iface wireless.meshd_mesh.device=radio0 \
		wireless.meshd_mesh.mode=mesh wireless.meshd_mesh.mesh_id=meshd wireless.meshd_mesh.mesh_fwding=0 \
		wireless.meshd_mesh.ifname=wlmesh0 wireless.meshd_mesh.network=meshd_mesh \
		wireless.meshd_mesh.encryption=none "wireless.meshd_mesh.key=<unset>"
	expect "[$s] single radio: radio0 on channel 11, enabled; OpenWrt's open AP stays off" \
		all_uis "$E" wireless.radio0.channel=11 wireless.radio0.disabled=0 wireless.radio0.htmode=HT20 \
		wireless.default_radio0.disabled=1
	expect "[$s] single radio: network.meshd_mesh proto none, mtu 1532, no device (the wifi-iface joins it)" \
		all_uis "$E" network.meshd_mesh=interface network.meshd_mesh.proto=none network.meshd_mesh.mtu=1532 \
		"network.meshd_mesh.device=<unset>"
	expect "[$s] single radio: meshd's interface list is wlmesh0 (once); LAN bridge untouched" \
		all_uis "$E" "meshd.main.interface=wlmesh0" "network.@device[0].ports=lan1 lan2 lan3 lan4"
	expect "[$s] single radio: committed (in the files, nothing staged); meshd's file untouched" \
		sh -c '{ [ ! -d "$1/.staged" ] || [ -z "$(ls "$1/.staged")" ]; } &&
			grep -qx "config wifi-iface .meshd_mesh." "$1/wireless" && grep -qx "config interface .meshd_mesh." "$1/network" &&
			cmp "$1/meshd" "$2"' sh "$E" "$FILES/meshd.config"
	expect "[$s] single radio: the result still passes meshd check" "$CHECK" check --config "$E/meshd"
	# The init script on the result: wlmesh0's interface is meshd_mesh.
	mkdir -p "$D/sys/wlmesh0"
	run_init "$D" "$sh" start
	expect "[$s] single radio, then start: interface trigger meshd_mesh" \
		grep -qx "trigger interface meshd_mesh reload" "$D/calls"

	# A second run (opkg upgrade): no change at all.
	for f in meshd network wireless; do cp "$E/$f" "$D/$f.1"; done
	cp "$FILES/meshd.uci-defaults" "$E/uci-defaults/90-meshd"
	run_fb "$D" "$sh"
	expect "[$s] second run: every file byte for byte the same" \
		sh -c 'for f in meshd network wireless; do cmp "$1/etc/$f" "$1/$f.1" || exit 1; done' sh "$D"
	# The user's later changes survive an upgrade.
	UCI_CONFIG_DIR=$E "$OW/test/bin/uci" set wireless.meshd_mesh.mesh_id=ourtown
	UCI_CONFIG_DIR=$E "$OW/test/bin/uci" set wireless.radio0.channel=6
	UCI_CONFIG_DIR=$E "$OW/test/bin/uci" commit wireless
	cp "$FILES/meshd.uci-defaults" "$E/uci-defaults/90-meshd"
	run_fb "$D" "$sh"
	expect "[$s] upgrade after the user changed mesh_id and channel: kept" \
		all_uis "$E" wireless.meshd_mesh.mesh_id=ourtown wireless.radio0.channel=6

	# Dual band: the 2.4 GHz radio; the 5 GHz one and its AP untouched.
	fb_root "$D" "$FILES/meshd.config" "$OW/test/etc/wireless.dual"
	run_fb "$D" "$sh"
	expect "[$s] dual band: mesh on radio1 (2g), channel 11; radio0 (5g, in use) untouched" \
		all_uis "$E" wireless.meshd_mesh.device=radio1 wireless.radio1.channel=11 wireless.radio1.disabled=0 \
		wireless.default_radio1.disabled=1 wireless.radio0.channel=36 "wireless.radio0.disabled=<unset>" \
		"wireless.default_radio0.disabled=<unset>"

	# hwmode instead of band, a radio in use: its AP stays on.
	fb_root "$D" "$FILES/meshd.config" "$OW/test/etc/wireless.hwmode"
	run_fb "$D" "$sh"
	expect "[$s] hwmode 11g radio in use: mesh on it, channel 11, its AP left on" \
		all_uis "$E" wireless.meshd_mesh.device=radio0 wireless.radio0.channel=11 \
		"wireless.default_radio0.disabled=<unset>"

	# No radio at all.
	if [ ! -e /sbin/wifi ]; then
		fb_root "$D" "$FILES/meshd.config" -
		cp "$E/network" "$D/network.0"
		run_fb "$D" "$sh"
		expect "[$s] no radio: said, no wireless file made, network unchanged, deleted" \
			sh -c '[ "$(cat "$1/status")" = 0 ] && [ ! -e "$1/etc/wireless" ] && cmp "$1/etc/network" "$1/network.0" &&
				grep -q "no 2g radio" "$1/stderr" && [ ! -e "$1/etc/uci-defaults/90-meshd" ]' sh "$D"
	fi

	# Encrypted mesh, a wired mesh port, an explicit radio, htmode.
	sed -e "s/option key ''/option key 'mesh secret'/" -e "s/option radio ''/option radio 'radio0'/" \
		-e "s/option band '2g'/option band '2g'\n\toption htmode 'HT40'/" \
		-e "s/config wired 'wired'/config wired 'wired'\n\tlist port 'lan4'/" "$FILES/meshd.config" >"$T/fb.uci"
	fb_root "$D" "$T/fb.uci" "$OW/test/etc/wireless.single"
	run_fb "$D" "$sh"
	expect "[$s] key: encryption sae with the key; htmode HT40" \
		all_uis "$E" wireless.meshd_mesh.encryption=sae "wireless.meshd_mesh.key=mesh secret" wireless.radio0.htmode=HT40
	expect "[$s] wired port lan4: out of br-lan, network.meshd_lan4 (proto none, device lan4, mtu 1532), in meshd's list" \
		all_uis "$E" "network.@device[0].ports=lan1 lan2 lan3" network.meshd_lan4=interface \
		network.meshd_lan4.proto=none network.meshd_lan4.device=lan4 network.meshd_lan4.mtu=1532 \
		"meshd.main.interface=wlmesh0 lan4"
	expect "[$s] wired port: the result passes meshd check" "$CHECK" check --config "$E/meshd"

	# Wi-Fi mesh off in the config; a band no radio has.
	awk '/^config / { w = ($2 == "wifi") } w && $2 == "enabled" { $0 = "\toption enabled \0470\047" } 1' \
		"$FILES/meshd.config" >"$T/nowifi.uci"
	fb_root "$D" "$T/nowifi.uci" "$OW/test/etc/wireless.single"
	run_fb "$D" "$sh"
	expect "[$s] meshd.wifi.enabled '0': wireless untouched" cmp "$E/wireless" "$OW/test/etc/wireless.single"
	sed "s/option band '2g'/option band '5g'/" "$FILES/meshd.config" >"$T/5g.uci"
	fb_root "$D" "$T/5g.uci" "$OW/test/etc/wireless.single"
	run_fb "$D" "$sh"
	expect "[$s] band 5g, only a 2g radio: no mesh point, said, wireless untouched" \
		sh -c 'cmp "$1/etc/wireless" "$2" && grep -q "no 5g radio" "$1/stderr"' sh "$D" "$OW/test/etc/wireless.single"
done

# ------------------------------------------------------------------ 5b
section "5b. meshd-lan (the address hook) on OpenWrt config files"
# lan_root DIR OPENWRT_LAN: /etc/config with network, dhcp and meshd.
lan_root() {
	local d=$1 lan=$2
	rm -rf "$d"
	mkdir -p "$d/config" "$d/init.d"
	cp "$OW/test/etc/network" "$d/config/network"
	cat >"$d/config/dhcp" <<-'EOF'
		config dnsmasq
			option domainneeded '1'
			option localise_queries '1'
			option local '/lan/'
			option domain 'lan'

		config dhcp 'lan'
			option interface 'lan'
			option start '100'
			option limit '150'
			option leasetime '12h'

		config dhcp 'wan'
			option interface 'wan'
			option ignore '1'
	EOF
	{
		echo "config meshd 'main'"
		echo "	list interface 'wlmesh0'"
		echo "config node 'node'"
		echo "	option hook '/usr/libexec/meshd-lan'"
		[ -n "$lan" ] && echo "	option openwrt_lan '$lan'"
	} >"$d/config/meshd"
	for s in network dnsmasq odhcpd; do
		printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$s" "$d" >"$d/init.d/$s"
		chmod 755 "$d/init.d/$s"
	done
}
# run_lan DIR IPV4_ROUTER: run the hook as meshd would.
run_lan() {
	UCI="$OW/test/bin/uci" UCI_CONFIG_DIR="$1/config" MESHD_LAN_INITD="$1/init.d" \
		MESHD_NODE_ADDRESS=fd7c:d550:3dce:4f5d:34a3:e495:803b:7e60 \
		MESHD_LAN_PREFIX=fdff:b4e7:9cf8:ad10::/64 MESHD_LAN_ROUTER6=fdff:b4e7:9cf8:ad10::1 \
		MESHD_IPV4_NET="${2%.1}.0/24" MESHD_IPV4_ROUTER="$2" \
		MESHD_NAME=l7zelifkfympnobf.mesh MESHD_DNS=127.0.0.1:5353 \
		sh "$FILES/meshd-lan" >"$1/out" 2>&1
}
ucig() { UCI_CONFIG_DIR="$1/config" "$OW/test/bin/uci" -q get "$2"; }
D=$T/lanhook
lan_root "$D" lan
expect "meshd-lan with openwrt_lan 'lan': exit 0" run_lan "$D" 10.224.224.1
same "$(ucig "$D" network.lan.ipaddr) $(ucig "$D" network.lan.netmask) $(ucig "$D" network.lan.ip6addr)" \
	"10.224.224.1 255.255.255.0 fdff:b4e7:9cf8:ad10::1/64" "network.lan: the /24's .1 and the /64's ::1 (committed)"
same "$(ucig "$D" dhcp.lan.dhcpv4) $(ucig "$D" dhcp.lan.ra) $(ucig "$D" dhcp.lan.start) $(ucig "$D" dhcp.lan.limit)" \
	"server server 10 241" "dhcp.lan: DHCPv4 .10-.250 by dnsmasq, RA by odhcpd"
same "$(ucig "$D" 'dhcp.@dnsmasq[0].server')" "/mesh/127.0.0.1#5353" "dnsmasq forwards .mesh to meshd"
same "$(cat "$D/calls")" "network reload
dnsmasq reload
odhcpd reload" "network, dnsmasq and odhcpd reloaded once"
expect "nothing left staged (uci commit)" sh -c '! ls "$1"/config/.staged/* >/dev/null 2>&1' sh "$D"
: >"$D/calls"
expect "meshd-lan again, same addresses: exit 0" run_lan "$D" 10.224.224.1
same "$(cat "$D/calls")" "" "same addresses: nothing reloaded"
expect "meshd-lan after an IPv4 re-pick: exit 0" run_lan "$D" 10.37.5.1
same "$(ucig "$D" network.lan.ipaddr)" "10.37.5.1" "a re-picked /24 moves the LAN"
same "$(cat "$D/calls")" "network reload" "only the network reloaded"
same "$(ucig "$D" 'dhcp.@dnsmasq[0].server')" "/mesh/127.0.0.1#5353" "the .mesh forward is not doubled"
lan_root "$D" ""
expect "meshd-lan without openwrt_lan: exit 0" run_lan "$D" 10.224.224.1
same "$(ucig "$D" network.lan.ipaddr) $(cat "$D/calls" 2>/dev/null)" "192.168.1.1 " "without openwrt_lan nothing changes"
lan_root "$D" nosuch
if run_lan "$D" 10.224.224.1; then fail "openwrt_lan 'nosuch': refused"; else
	expect "openwrt_lan 'nosuch': refused, saying why" grep -q "not an interface" "$D/out"
fi
same "$(ucig "$D" network.lan.ipaddr)" "192.168.1.1" "a refused run changes nothing"

# ------------------------------------------------------------------ 6
section "6. build-ipk and the packages"
# build-ipk takes SOURCE_DATE_EPOCH from git; where git cannot (not a
# checkout, or one owned by another user) the test sets it.
if ! epoch=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null); then
	epoch=1700000000
	export SOURCE_DATE_EPOCH=$epoch
	echo "  note  git log fails here: SOURCE_DATE_EPOCH=$epoch"
fi
# build-ipk refuses a binary whose ELF header is not its architecture's.
host_elf=$(type -P ls)
mkdir -p "$T/wrong/mipsel"
cp "$host_elf" "$T/wrong/mipsel/meshd"
rc=0
"$OW/build-ipk" --in "$T/wrong" --out "$T/wrong-out" >"$T/neg.out" 2>&1 || rc=$?
expect "build-ipk refuses a host ($(uname -m)) binary as mipsel_24kc" \
	sh -c '[ "$1" != 0 ] && grep -q "refusing to package it as mipsel_24kc" "$2"' sh "$rc" "$T/neg.out"
rc=0
"$OW/build-ipk" --in "$T/empty" --out "$T/wrong-out" >"$T/neg.out" 2>&1 || rc=$?
expect "build-ipk with no binaries fails and says so" \
	sh -c '[ "$1" != 0 ] && grep -q "no binaries" "$2"' sh "$rc" "$T/neg.out"

# arch -> ELF class, byte order, machine: our own table, not build-ipk's.
declare -A WANT_ELF=(
	[x86_64]="64 LSB 62"
	[aarch64_cortex-a53]="64 LSB 183"
	[arm_cortex-a7_neon-vfpv4]="32 LSB 40"
	[mipsel_24kc]="32 LSB 8"
	[mips_24kc]="32 MSB 8"
)
elf_id() { # FILE -> "class data machine" from the header bytes
	local b c d m
	read -r -a b < <(od -An -tu1 -N20 "$1" | tr -s ' \n' ' ')
	[ "${b[0]}.${b[1]}.${b[2]}.${b[3]}" = "127.69.76.70" ] || { echo "not-ELF"; return; }
	c=$((b[4] == 1 ? 32 : 64))
	if [ "${b[5]}" = 1 ]; then d=LSB m=$((b[18] + 256 * b[19])); else d=MSB m=$((256 * b[18] + b[19])); fi
	echo "$c $d $m"
}

CROSS_OUT=${CROSS_OUT:-$REPO/cross/out}
bins=()
for d in x86_64 aarch64 armv7 mipsel mips; do
	[ -f "$CROSS_OUT/$d/meshd" ] && bins+=("$d")
done
if [ ${#bins[@]} -eq 0 ]; then
	skip "the packages: no cross binaries in cross/out/<arch>/meshd (run cross/build)"
else
	echo "  (cross binaries: ${bins[*]})"
	expect "build-ipk (first build)" "$OW/build-ipk" --in "$CROSS_OUT" --out "$T/ipk1"
	expect "build-ipk (second build)" "$OW/build-ipk" --in "$CROSS_OUT" --out "$T/ipk2"
	expect "reproducible: both builds byte for byte the same" diff -r "$T/ipk1" "$T/ipk2"
	ver="$cargo_version-r$(sed -n 's/^PKG_RELEASE:=//p' "$OW/meshd/Makefile")"
	stamp=$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S')
	for ipk in "$T"/ipk1/*.ipk; do
		name=$(basename "$ipk")
		arch=${name#meshd_"$ver"_}
		arch=${arch%.ipk}
		X=$T/x/$arch
		mkdir -p "$X/c" "$X/d"
		echo " -- $name"
		[[ -n ${WANT_ELF[$arch]:-} ]] || { fail "$name: unknown architecture '$arch' (want meshd_${ver}_<arch>.ipk)"; continue; }
		expect "$arch: gzip'd tar (not ar)" sh -c '[ "$(od -An -tx1 -N2 "$1" | tr -d " ")" = 1f8b ] && gzip -t "$1"' sh "$ipk"
		same "$(tar -tzf "$ipk" | tr '\n' ' ')" "./debian-binary ./data.tar.gz ./control.tar.gz " \
			"$arch: members ./debian-binary ./data.tar.gz ./control.tar.gz, in that order"
		tar -xzf "$ipk" -C "$X"
		same "$(od -c "$X/debian-binary" | head -n1)" "$(printf '2.0\n' | od -c | head -n1)" "$arch: debian-binary is 2.0"
		tar -xzf "$X/control.tar.gz" -C "$X/c"
		tar -xzf "$X/data.tar.gz" -C "$X/d"
		# Owners and times in all three tars.
		for t in "$ipk" "$X/control.tar.gz" "$X/data.tar.gz"; do
			tn=${t##*/}
			expect "$arch: $tn: every entry 0/0, mtime $stamp (SOURCE_DATE_EPOCH)" \
				sh -c 'tar --numeric-owner --full-time -tzvf "$1" | awk -v s="$2" "{ if (\$2 != \"0/0\" || \$4 \" \" \$5 != s) { print; bad = 1 } } END { exit bad }"' \
				sh "$t" "$stamp"
		done
		for t in "$ipk" "$X/control.tar.gz" "$X/data.tar.gz"; do
			# gzip -n: flags 0 (no name), MTIME 0.
			same "$(od -An -tx1 -j3 -N5 "$t" | tr -d ' ')" "0000000000" "$arch: ${t##*/}: gzip -n (no name, no time in the header)"
		done
		same "$(tar -tzf "$X/control.tar.gz" | tr '\n' ' ')" "./ ./conffiles ./control ./postinst ./prerm " \
			"$arch: control.tar.gz: ./ ./conffiles ./control ./postinst ./prerm"
		ctl=$X/c/control
		same "$(sed -n 's/^\([A-Za-z-]*\):.*/\1/p' "$ctl" | tr '\n' ' ')" \
			"Package Version Depends Source SourceName License Section SourceDateEpoch Maintainer Architecture Installed-Size Description " \
			"$arch: control fields, in OpenWrt's order"
		field() { sed -n "s/^$1: //p" "$ctl"; }
		same "$(field Package)|$(field Version)|$(field Depends)|$(field SourceName)|$(field License)|$(field Section)|$(field Architecture)|$(field SourceDateEpoch)" \
			"meshd|$ver|libc, kmod-tun|meshd|GPL-2.0-or-later|net|$arch|$epoch" \
			"$arch: Package, Version, Depends: libc, kmod-tun, SourceName, License, Section, Architecture, SourceDateEpoch"
		same "$(field Installed-Size)" "$(gzip -dc "$X/data.tar.gz" | wc -c)" "$arch: Installed-Size is the unpacked data.tar's size"
		expect "$arch: Description and Maintainer present" \
			sh -c 'grep -q "^Description:  meshd speaks" "$1" && grep -q "^Maintainer: ..*<.*@.*>" "$1" && tail -n1 "$1" | grep -q "^ "' sh "$ctl"
		bin=$X/d/usr/sbin/meshd
		same "$(elf_id "$bin")" "${WANT_ELF[$arch]}" "$arch: Architecture matches usr/sbin/meshd's ELF header (class, byte order, machine: ${WANT_ELF[$arch]})"
		if command -v file >/dev/null; then echo "        file: $(file -b "$bin")"; fi
		case "$arch" in
		mips*)
			if command -v readelf >/dev/null; then
				expect "$arch: soft-float (readelf -A)" sh -c 'readelf -A "$1" | grep -q "FP ABI: *Soft float"' sh "$bin"
			fi
			;;
		esac
		same "$(cat "$X/c/conffiles")" "/etc/config/meshd" "$arch: conffiles: /etc/config/meshd"
		expect "$arch: each conffile is a regular file in data.tar.gz" \
			sh -c 'while read -r f; do [ -f "$1$f" ] && [ ! -L "$1$f" ] || exit 1; done <"$2"' sh "$X/d" "$X/c/conffiles"
		same "$(cat "$X/d/lib/upgrade/keep.d/meshd")" "/etc/meshd/" "$arch: /etc/meshd/ (keys, later) kept across sysupgrade (lib/upgrade/keep.d/meshd)"
		same "$(cat "$X/c/postinst")" '#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@' "$arch: postinst is OpenWrt's (default_postinst, IPKG_NO_SCRIPT/IPKG_INSTROOT checks)"
		same "$(cat "$X/c/prerm")" '#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@' "$arch: prerm is OpenWrt's (default_prerm)"
		# The data are what the feed Makefile installs (section 2), plus keep.d.
		if [ -s "$T/mk/layout" ]; then
			(cd "$X/d" && find . -mindepth 1 -printf '%M %p%l\n' | sort -k2 | grep -v '^[-d][-rwx]* \./lib') >"$X/layout"
			expect "$arch: data.tar.gz has what the Makefile's install recipe installs" diff "$T/mk/layout" "$X/layout"
		fi
		expect "$arch: init script, config, uci-defaults are files/*" sh -c '
			cmp "$1/etc/init.d/meshd" "$2/meshd.init" && cmp "$1/etc/config/meshd" "$2/meshd.config" &&
			cmp "$1/etc/uci-defaults/90-meshd" "$2/meshd.uci-defaults" &&
			cmp "$1/usr/sbin/meshd" "$3"' sh "$X/d" "$FILES" "$CROSS_OUT/$(
			case $arch in x86_64) echo x86_64 ;; aarch64*) echo aarch64 ;; arm*) echo armv7 ;; mipsel*) echo mipsel ;; *) echo mips ;; esac
		)/meshd"
	done
	same "$(find "$T/ipk1" -name '*.ipk' | wc -l)" "${#bins[@]}" "one .ipk per cross binary (${#bins[@]})"
fi

# ------------------------------------------------------------------ 7
section "7. a real opkg (only if one is at hand: OPKG=/path/to/opkg)"
opkg=${OPKG:-$(command -v opkg || command -v opkg-cl || true)}
if [ -z "$opkg" ] || [ ! -x "$opkg" ]; then
	echo "  skip  no opkg here (OpenWrt's opkg-lede built for the host, as OPKG=...)"
elif [ ! -s "$T/ipk1/meshd_${ver:-}_mipsel_24kc.ipk" ]; then
	echo "  skip  no mipsel_24kc package built above"
else
	R=$T/opkg-root
	mkdir -p "$R/usr/lib/opkg/info" "$R/var/lock"
	printf 'dest root /\nlists_dir ext %s/var/opkg-lists\narch all 1\narch noarch 1\narch mipsel_24kc 10\n' "$R" >"$T/opkg.conf"
	# A router has libc and kmod-tun installed.
	for p in libc kmod-tun; do
		printf 'Package: %s\nVersion: 1\nStatus: install user installed\nArchitecture: mipsel_24kc\n\n' "$p" >>"$R/usr/lib/opkg/status"
		: >"$R/usr/lib/opkg/info/$p.list"
	done
	pkg=$T/ipk1/meshd_${ver}_mipsel_24kc.ipk
	expect "opkg install into an offline root" "$opkg" -f "$T/opkg.conf" -o "$R" install "$pkg"
	expect "opkg: files, modes, the meshctl link and conffiles recorded" sh -c '
		[ -x "$1/usr/sbin/meshd" ] && [ "$(readlink "$1/usr/sbin/meshctl")" = meshd ] &&
		[ "$(stat -c %a "$1/etc/config/meshd")" = 600 ] && [ -x "$1/etc/init.d/meshd" ] &&
		[ "$(cat "$1/usr/lib/opkg/info/meshd.conffiles")" = /etc/config/meshd ]' sh "$R"
	sed -i "s/option log 'info'/option log 'debug'/" "$R/etc/config/meshd"
	"$opkg" -f "$T/opkg.conf" -o "$R" --force-reinstall install "$pkg" >"$T/out" 2>&1 || true
	expect "opkg: reinstall (as an upgrade) keeps the user's /etc/config/meshd" \
		sh -c 'grep -q "option log .debug." "$1/etc/config/meshd" && [ -e "$1/etc/config/meshd-opkg" ]' sh "$R"
	"$opkg" -f "$T/opkg.conf" -o "$R" remove meshd >"$T/out" 2>&1 || true
	expect "opkg remove: binary gone, the changed config kept" \
		sh -c '[ ! -e "$1/usr/sbin/meshd" ] && grep -q "option log .debug." "$1/etc/config/meshd"' sh "$R"
fi

echo
if [ ${#FAILED[@]} -eq 0 ]; then
	echo "openwrt/test.sh: all $PASSED checks passed"
else
	echo "openwrt/test.sh: ${#FAILED[@]} of $((PASSED + ${#FAILED[@]})) checks FAILED:"
	printf '  %s\n' "${FAILED[@]}"
	exit 1
fi
