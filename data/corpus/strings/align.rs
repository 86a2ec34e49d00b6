//! Padding, centering and rendering simple text tables.
//!
//! Widths are measured in `char`s, which is right for most Latin text; wide
//! East Asian characters would need a proper display-width table.

/// Horizontal alignment of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// Pads `text` with `fill` to `width` characters using the given alignment.
/// Text that is already wider is returned unchanged.
pub fn pad(text: &str, width: usize, align: Align, fill: char) -> String {
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let gap = width - len;
    let (left, right) = match align {
        Align::Left => (0, gap),
        Align::Right => (gap, 0),
        // An odd gap puts the extra fill character on the right.
        Align::Center => (gap / 2, gap - gap / 2),
    };
    let mut out = String::with_capacity(text.len() + gap);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(text);
    out.extend(std::iter::repeat_n(fill, right));
    out
}

/// A table of string cells with a header row, rendered with `|` separators.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Creates a table with the given column headers, all left-aligned.
    pub fn new<S: AsRef<str>>(headers: &[S]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.as_ref().to_string()).collect(),
            aligns: vec![Align::Left; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Sets the alignment of one column; out-of-range columns are ignored.
    pub fn align(mut self, column: usize, align: Align) -> Self {
        if let Some(slot) = self.aligns.get_mut(column) {
            *slot = align;
        }
        self
    }

    /// Adds a row. Missing cells render empty; extra cells are dropped.
    pub fn push_row<S: ToString>(&mut self, cells: &[S]) {
        let mut row: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Number of data rows (the header is not counted).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Width of every column: the widest of its header and cells.
    fn widths(&self) -> Vec<usize> {
        (0..self.headers.len())
            .map(|col| {
                std::iter::once(&self.headers[col])
                    .chain(self.rows.iter().map(|r| &r[col]))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn render_row(&self, cells: &[String], widths: &[usize], aligns: &[Align]) -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .zip(aligns)
            .map(|((cell, &w), &a)| pad(cell, w, a, ' '))
            .collect();
        format!("| {} |", parts.join(" | "))
    }

    /// Renders the table, one line per row, with a separator under the header.
    pub fn render(&self) -> String {
        let widths = self.widths();
        let header_aligns = vec![Align::Left; self.headers.len()];
        let mut lines = vec![self.render_row(&self.headers, &widths, &header_aligns)];
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        lines.push(format!("|-{}-|", rule.join("-|-")));
        for row in &self.rows {
            lines.push(self.render_row(row, &widths, &self.aligns));
        }
        lines.join("\n")
    }
}

/// Formats a number with a thousands separator, e.g. `1234567` as `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_in_all_directions() {
        assert_eq!(pad("ab", 5, Align::Left, '.'), "ab...");
        assert_eq!(pad("ab", 5, Align::Right, '.'), "...ab");
        assert_eq!(pad("ab", 5, Align::Center, '.'), ".ab..");
        assert_eq!(pad("toolong", 3, Align::Center, '.'), "toolong");
        assert_eq!(pad("é", 3, Align::Right, ' '), "  é");
    }

    #[test]
    fn renders_a_table() {
        let mut table = Table::new(&["name", "qty"]).align(1, Align::Right);
        table.push_row(&["apple", "3"]);
        table.push_row(&["kiwi", "12"]);
        let expected = "\
| name  | qty |
|-------|-----|
| apple |   3 |
| kiwi  |  12 |";
        assert_eq!(table.render(), expected);
        assert_eq!(table.len(), 2);
        assert!(!table.is_empty());
    }

    #[test]
    fn short_rows_are_filled() {
        let mut table = Table::new(&["a", "b", "c"]);
        table.push_row(&[1]);
        let rendered = table.render();
        assert!(rendered.ends_with("| 1 |   |   |"), "{}", rendered);
    }

    #[test]
    fn empty_table_still_has_header() {
        let table = Table::new(&["only"]);
        assert_eq!(table.render(), "| only |\n|------|");
        assert!(table.is_empty());
    }

    #[test]
    fn thousands_grouping() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(-1234567), "-1,234,567");
        assert_eq!(group_thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }
}
