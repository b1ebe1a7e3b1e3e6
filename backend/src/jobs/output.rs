//! The kept end of a run's output: the last 10 KB of lines, with lines that may carry a secret
//! redacted before they are stored (the API only ever sees this tail).

use std::collections::VecDeque;

pub const TAIL_BYTES: usize = 10 * 1024;

/// Lower-case markers of a line that may show a secret.
const SENSITIVE: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "private_key",
    "privatekey",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "-----begin",
];

/// `line`, or everything up to the first sensitive marker followed by `[REDACTED]`.
pub fn redact(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    match SENSITIVE
        .iter()
        .filter_map(|m| lower.find(m).map(|i| i + m.len()))
        .min()
    {
        // ASCII lower-casing keeps byte offsets, so `end` is a char boundary of `line` too.
        Some(end) => format!("{} [REDACTED]", &line[..end]),
        None => line.to_string(),
    }
}

#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    pub fn push(&mut self, line: &str) {
        let line = redact(line);
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > TAIL_BYTES && self.lines.len() > 1 {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
            }
        }
    }

    pub fn text(&self) -> String {
        let mut s = self
            .lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n");
        if s.len() > TAIL_BYTES {
            let mut cut = s.len() - TAIL_BYTES;
            while !s.is_char_boundary(cut) {
                cut += 1;
            }
            s = s[cut..].to_string();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_tail_is_bounded() {
        assert_eq!(redact("db_password=hunter2"), "db_password [REDACTED]");
        assert_eq!(redact("ok: [n1]"), "ok: [n1]");
        assert!(redact("Authorization: Bearer abc").ends_with("[REDACTED]"));
        let mut t = Tail::default();
        for i in 0..5000 {
            t.push(&format!("line {i}"));
        }
        let text = t.text();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.ends_with("line 4999"));
    }
}
