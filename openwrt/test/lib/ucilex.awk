# openwrt/test/lib/ucilex.awk: UCI's line syntax, shared by uci.awk and
# ucicheck.awk: words bare, 'single' (no escapes) or "double" quoted
# (backslash escapes); # outside quotes ends the line.

# Split line into tok[1..ntok] the way UCI does; "" on success, else the cause.
function tokenize(line,    n, i, c, w, inword, q) {
	ntok = 0
	n = length(line)
	i = 1
	while (i <= n) {
		c = substr(line, i, 1)
		if (c == " " || c == "\t" || c == "\r") { i++; continue }
		if (c == "#")
			break
		w = ""
		while (i <= n) {
			c = substr(line, i, 1)
			if (c == " " || c == "\t" || c == "\r")
				break
			if (c == "'") {
				i++
				q = 0
				while (i <= n) {
					c = substr(line, i, 1)
					if (c == "'") { q = 1; break }
					w = w c
					i++
				}
				if (!q)
					return "unterminated ' quote"
				i++
			} else if (c == "\"") {
				i++
				q = 0
				while (i <= n) {
					c = substr(line, i, 1)
					if (c == "\"") { q = 1; break }
					if (c == "\\") {
						i++
						if (i > n)
							break
						c = substr(line, i, 1)
					}
					w = w c
					i++
				}
				if (!q)
					return "unterminated \" quote"
				i++
			} else {
				w = w c
				i++
			}
		}
		tok[++ntok] = w
	}
	return ""
}

