# openwrt/test/lib/ucicheck.awk: our own check of an /etc/config/meshd file,
# independent of a built meshd: UCI syntax (ucilex.awk) and the schema
# meshd and the scripts agree on. Prints "FILE: ok", or
# "FILE: line N: cause" (or "FILE: cause") and exits 1.
#
#   awk -f ucilex.awk -f ucicheck.awk FILE
#
# meshd section (exactly one): enabled (bool), list interface (one or
# more in all), soft_interface, log (warn|info|debug), gateway, lan_bridge.
# batman section (at most one): orig_interval_ms, hop_penalty (0-255),
# aggregation (bool), max_originators, max_neighbours. Sections of other
# types belong to the scripts: any options, names must be UCI names.

function bad(msg) {
	if (!failed)
		print FILENAME ": " msg
	failed = 1
	exit 1
}

function at(msg) {
	bad("line " FNR ": " msg)
}

function is_bool(v) {
	return v ~ /^(0|1|yes|no|on|off|true|false|enabled|disabled)$/
}

function is_uint(v) {
	return v ~ /^[0-9]+$/ && length(v) <= 9
}

BEGIN {
	section = ""
	meshd_line = 0
	batman_line = 0
	ifaces = 0
}

{
	err = tokenize($0)
	if (err != "")
		at(err)
	if (ntok == 0)
		next
	kw = tok[1]
	if (kw == "package")
		next
	if (kw == "config") {
		if (ntok < 2 || ntok > 3)
			at("config takes a type and a name")
		if (tok[2] !~ /^[A-Za-z0-9_-]+$/)
			at("bad section type '" tok[2] "'")
		if (ntok == 3 && tok[3] !~ /^[A-Za-z0-9_]+$/)
			at("bad section name '" tok[3] "'")
		section = tok[2]
		if (section == "meshd") {
			if (meshd_line)
				at("a second meshd section (the first is on line " meshd_line ")")
			meshd_line = FNR
		} else if (section == "batman") {
			if (batman_line)
				at("a second batman section (the first is on line " batman_line ")")
			batman_line = FNR
		}
		next
	}
	if (kw != "option" && kw != "list")
		at("unknown statement '" kw "'")
	if (ntok != 3)
		at(kw " takes a name and one value")
	if (section == "")
		at(kw " " tok[2] " outside a config section")
	name = tok[2]
	v = tok[3]
	if (name !~ /^[A-Za-z0-9_]+$/)
		at("bad option name '" name "'")
	if (section == "meshd") {
		if (name == "interface") {
			if (v != "") {
				if (v !~ /^[A-Za-z0-9_.@:-]+$/ || length(v) > 15)
					at("'" v "' is not an interface name")
				if (v in iface_line)
					at("interface '" v "' is listed twice (also on line " iface_line[v] ")")
				iface_line[v] = FNR
				ifaces++
			}
			next
		}
		if (kw == "list")
			at(name " is not a list")
		if (name == "enabled") {
			if (!is_bool(v))
				at("enabled: '" v "' is not a boolean")
		} else if (name == "log") {
			if (v !~ /^(warn|info|debug)$/)
				at("log: '" v "' is not warn, info or debug")
		} else if (name == "soft_interface") {
			if (v != "" && (v !~ /^[A-Za-z0-9_.@:-]+$/ || length(v) > 15))
				at("'" v "' is not an interface name")
		} else if (name == "gateway") {
			if (v != "" && v !~ /^[0-9]+([.][0-9]+)?([kKmMgG]?(bit)?)?(\/[0-9]+([.][0-9]+)?([kKmMgG]?(bit)?)?)?$/)
				at("gateway: '" v "' is not DOWN[/UP] like 10mbit/2mbit")
		} else if (name != "lan_bridge") {
			at("unknown option '" name "' in the meshd section")
		}
	} else if (section == "batman") {
		if (kw == "list")
			at(name " is not a list")
		if (name == "aggregation") {
			if (!is_bool(v))
				at("aggregation: '" v "' is not a boolean")
		} else if (name == "hop_penalty") {
			if (!is_uint(v) || v + 0 > 255)
				at("hop_penalty: '" v "' is not 0-255")
		} else if (name ~ /^(orig_interval_ms|max_originators|max_neighbours)$/) {
			if (!is_uint(v) || v + 0 == 0)
				at(name ": '" v "' is not a positive number")
		} else {
			at("unknown option '" name "' in the batman section")
		}
	}
}

END {
	if (failed)
		exit 1
	if (!meshd_line)
		bad("no config meshd section")
	if (!ifaces)
		bad("the meshd section needs at least one list interface")
	print FILENAME ": ok"
}
