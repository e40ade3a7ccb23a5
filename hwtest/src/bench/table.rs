//! Summary statistics and output: aligned plain-text tables and JSON.

/// min / median / max of a sample (median of an even count: mean of the
/// two middle values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for an empty sample. NaNs are not expected (and sort last).
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            n,
            min: v[0],
            median,
            max: v[n - 1],
        })
    }

    /// `min / median / max` with `prec` decimals.
    pub fn fmt(&self, prec: usize) -> String {
        format!(
            "{:.p$} / {:.p$} / {:.p$}",
            self.min,
            self.median,
            self.max,
            p = prec
        )
    }

    pub fn json(&self) -> String {
        format!(
            "{{\"n\":{},\"min\":{},\"median\":{},\"max\":{}}}",
            self.n,
            num(self.min),
            num(self.median),
            num(self.max)
        )
    }
}

/// A JSON number (non-finite values become `null`).
pub fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A plain-text table with a header row and left-aligned columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |r: &Vec<String>| {
            let mut s = String::new();
            for (i, w) in width.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                s.push_str(c);
                if i + 1 < cols {
                    s.push_str(&" ".repeat(w - c.chars().count() + 2));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(&self.header);
        let total: usize = width.iter().sum::<usize>() + 2 * (cols.saturating_sub(1));
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// The end of a bench report: the wall clock (already formatted), then a
/// line per skipped part and per error.
pub fn push_footer(out: &mut String, wall: &str, skipped: &[String], errors: &[String]) {
    out.push_str(&format!("\nWall clock of the whole bench: {wall} s.\n"));
    for s in skipped {
        out.push_str(&format!("SKIPPED {s}\n"));
    }
    for e in errors {
        out.push_str(&format!("ERROR {e}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_min_median_max() {
        assert_eq!(Summary::of(&[]), None);
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (1.0, 2.0, 3.0, 3));
        let s = Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.fmt(1), "1.0 / 2.5 / 4.0");
        assert_eq!(s.json(), "{\"n\":4,\"min\":1,\"median\":2.5,\"max\":4}");
    }

    #[test]
    fn json_strings_and_numbers() {
        assert_eq!(string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(string("\u{1}"), "\"\\u0001\"");
        assert_eq!(num(f64::NAN), "null");
        assert_eq!(num(1.5), "1.5");
    }

    #[test]
    fn table_columns_align() {
        let mut t = Table::new(&["a", "long header"]);
        t.row(vec!["wide cell".into(), "x".into()]);
        let r = t.render();
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines[0], "a          long header");
        assert_eq!(lines[1], "-".repeat(22));
        assert_eq!(lines[2], "wide cell  x");
    }
}
