//! Text from files, drivers and peers is untrusted: before it reaches a terminal or a
//! human-readable report, control characters (ANSI escapes, carriage returns, NUL, ...) are
//! shown as escapes, so a scenario name cannot rewrite a line or fake a `PASS`.
//!
//! The JSON and JUnit reports carry text exactly (their encoders escape what their formats
//! need); only human output goes through [`escape_text`].

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1) and the Unicode line and bidi-override
/// controls written as `\u{..}` (`\t` is kept as `\t`, a newline as `\n`): one line of plain
/// text. Borrowed when there was nothing to escape.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape_text`], but keeps newlines (for multi-line text such as a rendered
/// diagnostic whose lines are each untrusted).
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(escape_text)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(escape_text("plain name"), Cow::Borrowed(_)));
        assert_eq!(
            escape_text("x\u{1b}[2K\rPASS ok\0"),
            "x\\u{1b}[2K\\rPASS ok\\u{0}"
        );
        assert_eq!(escape_lines("a\nb\u{7}"), "a\nb\\u{7}");
    }
}
