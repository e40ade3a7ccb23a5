# openwrt/test/lib/stubs.sh: our own small stand-ins for what OpenWrt's
# rc.common, /lib/functions.sh and /lib/functions/procd.sh give an init
# script, so that openwrt/test.sh can source the real meshd.init and run
# start, reload and the triggers on test files. Every procd call, log
# line, ubus call and signal is recorded, one line each, in $CALLS.
#
# Environment: CALLS (record file), UCI_CONFIG_DIR (the test's
# /etc/config, read by config_load and by test/bin/uci), STUB_RUNNING=1
# (procd_running says meshd runs), STUB_APPEAR=DIR (the first
# procd_close_service creates DIR: an interface appearing meanwhile).
# shellcheck shell=dash

: "${CALLS:?}" "${UCI_CONFIG_DIR:?}"

stub_rec() {
	printf '%s\n' "$*" >>"$CALLS"
}

logger() {
	local prio=notice tag=
	while [ $# -gt 0 ]; do
		case "$1" in
		-t) tag=$2; shift ;;
		-p) prio=$2; shift ;;
		--) shift; break ;;
		*) break ;;
		esac
		shift
	done
	stub_rec "log $tag $prio: $*"
}

ubus() { stub_rec "ubus $*"; }

# procd.sh
procd_open_service() { stub_rec "service open $*"; }
procd_close_service() {
	stub_rec "service close"
	if [ -n "${STUB_APPEAR:-}" ]; then
		mkdir -p "$STUB_APPEAR"
		STUB_APPEAR=
	fi
}
procd_open_instance() { stub_rec "instance open${1:+ $1}"; }
procd_close_instance() { stub_rec "instance close"; }
procd_set_param() {
	local type=$1
	shift
	# Arguments joined by '|' so that a word with a space would show.
	local IFS='|'
	stub_rec "param $type $*"
}
procd_open_trigger() { :; }
procd_close_trigger() { :; }
procd_add_reload_trigger() { stub_rec "trigger config $*"; }
procd_add_reload_interface_trigger() { stub_rec "trigger interface $1 reload"; }
procd_add_interface_trigger() { stub_rec "trigger interface-raw $*"; }
procd_send_signal() { stub_rec "signal ${1}|${2}|${3}"; }
procd_running() { [ "${STUB_RUNNING:-0}" = 1 ]; }

# rc.common with USE_PROCD: start = one service message with the
# instances of start_service and the triggers of service_triggers.
start() {
	procd_open_service meshd /etc/init.d/meshd
	start_service "$@"
	service_triggers
	procd_close_service
	if type service_started >/dev/null 2>&1; then
		service_started
	fi
}
reload() {
	reload_service "$@"
}

# functions.sh: config_load from the test's files (test/bin/uci shvars).
config_load() {
	local vars
	CONFIG_SECTIONS=
	vars=$(uci shvars "$1") || return 1
	eval "$vars"
}

config_get() {
	# config_get VAR SECTION OPTION [DEFAULT]; unset or '' gives DEFAULT.
	eval "$1=\${CONFIG_${2}_${3}:-\$4}"
}

config_get_bool() {
	local v
	config_get v "$2" "$3" "$4"
	case "$v" in
	1 | on | true | yes | enabled) v=1 ;;
	0 | off | false | no | disabled) v=0 ;;
	*) v=$4 ;;
	esac
	eval "$1=\$v"
}

config_foreach() {
	local fn=$1 type=$2 s t
	shift 2
	for s in $CONFIG_SECTIONS; do
		eval "t=\${CONFIG_${s}_TYPE}"
		[ -z "$type" ] || [ "$t" = "$type" ] || continue
		"$fn" "$s" "$@"
	done
}

config_list_foreach() {
	local s=$1 o=$2 fn=$3 n i v
	shift 3
	eval "n=\${CONFIG_${s}_${o}_LENGTH:-0}"
	i=1
	while [ "$i" -le "$n" ]; do
		eval "v=\${CONFIG_${s}_${o}_ITEM${i}}"
		"$fn" "$v" "$@"
		i=$((i + 1))
	done
}
