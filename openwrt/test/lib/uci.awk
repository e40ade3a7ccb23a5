# openwrt/test/lib/uci.awk: the part of OpenWrt's `uci` command that the
# init script and the uci-defaults script use, over files in a test
# directory (test/bin/uci is the command). Our own small stand-in, not
# libuci: it parses UCI files as libuci does (package, config, option,
# list; 'single' and "double" quotes, # comments) and applies one command,
# with libuci's ways: an option set to '' does not exist (it is dropped
# when read, and `set` to '' deletes), `set` replaces an option where it
# stands, `add_list` appends to the list where the list stands.
#
# awk -v cmd=CMD -v ref=PKG.SEC[.OPT] -v val=VALUE -v pkg=PKG -v out=FILE
#     -f uci.awk FILE
#   get        print the section type, an option, or a list (space-separated)
#   set        ref=type creates or retypes a named section; ref.opt=value
#   add_list   append a list value       del_list   remove a list value
#   delete     a section or an option
#   show       pkg.sec=type and pkg.sec.opt='value' lines (anonymous
#              sections as @type[n], as uci show prints them)
#   shvars     shell assignments for the test's config_load stand-in
#   check      parse only
# Writes go to `out`. Exit 1: entry not found; exit 2: parse error.
# Needs ucilex.awk (awk -f ucilex.awk -f uci.awk).

function fail(code, msg) {
	if (msg != "")
		print "uci: " msg > "/dev/stderr"
	failed = 1
	exit code
}

function quote(s) {
	gsub(/'/, "'\\''", s)
	return "'" s "'"
}

# Section index of a reference: a name, cfgNN (anonymous), or @type[n].
function find_section(r,    t, k, i, cnt, want) {
	if (r ~ /^@[^\[]+\[-?[0-9]+\]$/) {
		t = substr(r, 2, index(r, "[") - 2)
		k = substr(r, index(r, "[") + 1)
		k = substr(k, 1, length(k) - 1) + 0
		cnt = 0
		for (i = 1; i <= nsec; i++)
			if (!sdel[i] && stype[i] == t)
				cnt++
		want = k < 0 ? cnt + k : k
		cnt = 0
		for (i = 1; i <= nsec; i++)
			if (!sdel[i] && stype[i] == t) {
				if (cnt == want)
					return i
				cnt++
			}
		return 0
	}
	for (i = 1; i <= nsec; i++)
		if (!sdel[i] && sid(i) == r)
			return i
	return 0
}

function sid(i) {
	return sname[i] != "" ? sname[i] : sprintf("cfg%02x", i)
}

# The @type[n] or name of section i, as uci show prints it.
function show_ref(i,    j, cnt) {
	if (sname[i] != "")
		return sname[i]
	cnt = 0
	for (j = 1; j < i; j++)
		if (!sdel[j] && stype[j] == stype[i])
			cnt++
	return "@" stype[i] "[" cnt "]"
}

function add_entry(s, kind, name, v, order) {
	nent++
	esec[nent] = s
	ekind[nent] = kind
	ename[nent] = name
	evalue[nent] = v
	eorder[nent] = order == "" ? nent : order
}

# The entries of section s in file order: sorted[1..n]; returns n.
function sorted_entries(s,    j, n, a, b, t) {
	n = 0
	for (j = 1; j <= nent; j++)
		if (!edel[j] && esec[j] == s)
			sorted[++n] = j
	for (a = 2; a <= n; a++)
		for (b = a; b > 1 && eorder[sorted[b]] < eorder[sorted[b - 1]]; b--) {
			t = sorted[b]
			sorted[b] = sorted[b - 1]
			sorted[b - 1] = t
		}
	return n
}

function del_entries(s, name, v, only_value,    j) {
	for (j = 1; j <= nent; j++)
		if (!edel[j] && esec[j] == s && ename[j] == name && (!only_value || evalue[j] == v))
			edel[j] = 1
}

function has_entry(s, name,    j) {
	for (j = 1; j <= nent; j++)
		if (!edel[j] && esec[j] == s && ename[j] == name)
			return 1
	return 0
}

function entry_value(s, name,    i, j, n, r, first) {
	r = ""
	first = 1
	n = sorted_entries(s)
	for (i = 1; i <= n; i++) {
		j = sorted[i]
		if (ename[j] == name) {
			r = first ? evalue[j] : r " " evalue[j]
			first = 0
		}
	}
	return r
}

function write_out(    i, j, k, n) {
	printf "" > out
	for (i = 1; i <= nsec; i++) {
		if (sdel[i])
			continue
		printf "\nconfig %s%s\n", stype[i], sname[i] != "" ? " " quote(sname[i]) : "" > out
		n = sorted_entries(i)
		for (k = 1; k <= n; k++) {
			j = sorted[k]
			printf "\t%s %s %s\n", ekind[j], ename[j], quote(evalue[j]) > out
		}
	}
	printf "\n" > out
	close(out)
}

function show_section(i,    a, b, j, k, n, line, done, order) {
	print pkg "." show_ref(i) "=" stype[i]
	split("", done)
	n = sorted_entries(i)
	for (a = 1; a <= n; a++)
		order[a] = sorted[a]
	for (a = 1; a <= n; a++) {
		j = order[a]
		if (ename[j] in done)
			continue
		done[ename[j]] = 1
		line = ""
		for (b = a; b <= n; b++) {
			k = order[b]
			if (ename[k] == ename[j])
				line = line (line == "" ? "" : " ") quote(evalue[k])
		}
		print pkg "." show_ref(i) "." ename[j] "=" line
	}
}

function shvar(s) {
	gsub(/'/, "'\\''", s)
	return "'" s "'"
}

function shvars(    i, j, k, cnt, list, n, all, id) {
	all = ""
	for (i = 1; i <= nsec; i++) {
		if (sdel[i])
			continue
		id = sid(i)
		all = all (all == "" ? "" : " ") id
		print "CONFIG_" id "_TYPE=" shvar(stype[i])
		split("", n)
		cnt = sorted_entries(i)
		for (k = 1; k <= cnt; k++) {
			j = sorted[k]
			if (ekind[j] == "list") {
				n[ename[j]]++
				print "CONFIG_" id "_" ename[j] "_ITEM" n[ename[j]] "=" shvar(evalue[j])
				print "CONFIG_" id "_" ename[j] "_LENGTH=" n[ename[j]]
			}
			print "CONFIG_" id "_" ename[j] "=" shvar(entry_value(i, ename[j]))
		}
	}
	print "CONFIG_SECTIONS=" shvar(all)
}

BEGIN {
	nsec = 0
	nent = 0
	cur = 0
	lineno = 0
}

{
	lineno++
	err = tokenize($0)
	if (err != "")
		fail(2, "parse error at line " lineno ": " err)
	if (ntok == 0)
		next
	kw = tok[1]
	if (kw == "package") {
		next
	} else if (kw == "config") {
		if (ntok < 2 || ntok > 3)
			fail(2, "parse error at line " lineno ": config takes a type and a name")
		nsec++
		stype[nsec] = tok[2]
		sname[nsec] = ntok == 3 ? tok[3] : ""
		cur = nsec
	} else if (kw == "option" || kw == "list") {
		if (ntok != 3)
			fail(2, "parse error at line " lineno ": " kw " takes a name and a value")
		if (!cur)
			fail(2, "parse error at line " lineno ": " kw " outside a section")
		# libuci: an option of '' is no option (a list item of '' is kept).
		if (kw == "list" || tok[3] != "")
			add_entry(cur, kw, tok[2], tok[3], "")
	} else {
		fail(2, "parse error at line " lineno ": unknown statement " kw)
	}
}

END {
	if (failed)
		exit
	# ref = pkg.sec[.opt]; the section part may be @type[n].
	r = substr(ref, length(pkg) + 2)
	sec = r
	opt = ""
	if (match(r, /\.[A-Za-z0-9_]+$/) && r !~ /^@[^\]]*\]$/) {
		sec = substr(r, 1, RSTART - 1)
		opt = substr(r, RSTART + 1)
	}
	if (cmd == "check")
		exit 0
	if (cmd == "shvars") {
		shvars()
		exit 0
	}
	if (cmd == "show") {
		if (r == "" || ref == pkg) {
			for (i = 1; i <= nsec; i++)
				if (!sdel[i])
					show_section(i)
			exit 0
		}
		s = find_section(sec)
		if (!s)
			fail(1, quiet ? "" : "Entry not found")
		show_section(s)
		exit 0
	}
	if (cmd == "set" && opt == "") {
		s = find_section(sec)
		if (s) {
			stype[s] = val
		} else {
			if (sec !~ /^[A-Za-z0-9_]+$/)
				fail(1, quiet ? "" : "Invalid argument")
			nsec++
			stype[nsec] = val
			sname[nsec] = sec
		}
		write_out()
		exit 0
	}
	s = find_section(sec)
	if (!s)
		fail(1, quiet ? "" : "Entry not found")
	if (cmd == "get") {
		if (opt == "")
			print stype[s]
		else if (has_entry(s, opt))
			print entry_value(s, opt)
		else
			fail(1, quiet ? "" : "Entry not found")
		exit 0
	}
	if (cmd == "delete") {
		if (opt == "")
			sdel[s] = 1
		else if (has_entry(s, opt))
			del_entries(s, opt, "", 0)
		else
			fail(1, quiet ? "" : "Entry not found")
		write_out()
		exit 0
	}
	if (opt == "")
		fail(1, quiet ? "" : "Invalid argument")
	if (cmd == "set") {
		# In place of the old option or list; '' deletes.
		at = ""
		n = sorted_entries(s)
		for (k = 1; k <= n; k++)
			if (ename[sorted[k]] == opt) {
				at = eorder[sorted[k]]
				break
			}
		del_entries(s, opt, "", 0)
		if (val != "")
			add_entry(s, "option", opt, val, at)
	} else if (cmd == "add_list") {
		# After the list's last item (a plain option becomes its first).
		at = ""
		n = sorted_entries(s)
		for (k = 1; k <= n; k++)
			if (ename[sorted[k]] == opt) {
				ekind[sorted[k]] = "list"
				at = eorder[sorted[k]] + 0.5
			}
		add_entry(s, "list", opt, val, at)
	} else if (cmd == "del_list") {
		del_entries(s, opt, val, 1)
	} else {
		fail(1, "unknown command " cmd)
	}
	write_out()
}
