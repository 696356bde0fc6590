//! Errors in a scenario file: a miette diagnostic naming the file, line and column, showing the
//! offending lines, and saying the fix.
//!
//! Syntax and type errors come from `serde_json` (which knows line and column); semantic errors
//! (an unknown status, a step that can never happen) are located with [`super::span`].

use super::span::{self, Node, Spanned};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};
use std::fmt;
use std::ops::Range;

/// What kind of mistake a scenario file has; tests and tools match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioErrorKind {
    /// The file could not be read.
    Io,
    /// Not JSON.
    Syntax,
    /// A field this place does not have.
    UnknownField,
    /// A required field is missing.
    MissingField,
    /// A value of the wrong JSON type.
    WrongType,
    /// An `op` that is not a step.
    UnknownOp,
    /// A DDI name that is not documented.
    UnknownDdi,
    /// An NTSTATUS name that is not documented.
    UnknownStatus,
    /// A rule id outside R1..R74.
    UnknownRule,
    /// An enumerated value (personality, phase, chunk type, ...) that does not exist.
    UnknownValue,
    /// A step that can never happen in the phase the previous steps leave.
    Phase,
    /// The format version is not 1.
    Version,
    /// Any other invalid value (durations, payloads, duplicate step ids, ...).
    Invalid,
}

/// One invalid scenario file.
#[derive(Debug, thiserror::Error)]
pub struct ScenarioError {
    /// The file as given on the command line.
    pub path: String,
    /// 1-based line of the problem (0 when the file could not be read).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What kind of mistake.
    pub kind: ScenarioErrorKind,
    /// What is wrong, a lowercase fragment.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The label under the offending text.
    pub label: String,
    src: NamedSource<String>,
    span: Option<SourceSpan>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

impl Diagnostic for ScenarioError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!(
            "scenario::{}",
            serde_json::to_value(self.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        )))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span.map(|_| &self.src as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some(self.label.clone()), span),
        )))
    }
}

impl ScenarioError {
    /// An error at byte range `at` of `text` (or at the start when `at` is `None`).
    pub fn at(
        path: &str,
        text: &str,
        at: Option<Range<usize>>,
        kind: ScenarioErrorKind,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let (line, column) = at
            .as_ref()
            .map_or((1, 1), |r| span::line_col(text, r.start));
        let message = message.into();
        ScenarioError {
            path: path.to_owned(),
            line,
            column,
            kind,
            label: short_label(kind).to_owned(),
            help,
            src: NamedSource::new(path, text.to_owned()).with_language("json"),
            span: at.map(|r| char_span(text, r)),
            message,
        }
    }

    /// The file could not be read.
    pub fn io(path: &str, err: &std::io::Error) -> Self {
        ScenarioError {
            path: path.to_owned(),
            line: 0,
            column: 0,
            kind: ScenarioErrorKind::Io,
            message: format!("cannot read the scenario: {err}"),
            help: Some("check the path; `miracast-sim run` takes files and folders".to_owned()),
            label: String::new(),
            src: NamedSource::new(path, String::new()),
            span: None,
        }
    }

    /// The file could not be read: `reason` is the whole sentence.
    pub fn unreadable(path: &str, reason: String) -> Self {
        ScenarioError {
            path: path.to_owned(),
            line: 0,
            column: 0,
            kind: ScenarioErrorKind::Io,
            message: reason,
            help: None,
            label: String::new(),
            src: NamedSource::new(path, String::new()),
            span: None,
        }
    }

    /// Translates a `serde_json` error on `text` into a located, explained error.
    pub fn from_serde(
        path: &str,
        text: &str,
        err: &serde_json::Error,
        tree: Option<&Spanned>,
    ) -> Self {
        let raw = err.to_string();
        // serde_json appends " at line L column C"; we print our own location.
        let message = match raw.rfind(" at line ") {
            Some(i) => raw[..i].to_owned(),
            None => raw.clone(),
        };
        let offset = span::offset_of(text, err.line(), err.column());
        if err.is_syntax() || err.is_eof() {
            let at = offset.min(text.len().saturating_sub(1));
            return Self::at(
                path,
                text,
                Some(at..at + 1),
                ScenarioErrorKind::Syntax,
                format!("malformed JSON: {message}"),
                Some("a scenario is one JSON object; check for a missing comma, quote or closing bracket just before this point".to_owned()),
            );
        }
        let backticked = |s: &str| -> Vec<String> {
            s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
        };
        let names = backticked(&message);
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let field = names.first().cloned().unwrap_or_default();
            let valid: Vec<String> = backticked(rest).into_iter().skip(1).collect();
            let at = tree.and_then(|t| t.find_key_near(&field, offset));
            let help = if valid.is_empty() {
                "this object takes no fields besides `op`".to_owned()
            } else {
                let near = closest(&field, valid.iter().map(String::as_str));
                format!(
                    "{}valid fields here: {}",
                    near.map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default(),
                    valid
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Self::at(
                path,
                text,
                at.or(Some(offset..offset)),
                ScenarioErrorKind::UnknownField,
                format!("unknown field `{field}`"),
                Some(help),
            );
        }
        if let Some(rest) = message.strip_prefix("unknown variant ") {
            let value = names.first().cloned().unwrap_or_default();
            // Lowercase aliases (`parallel`) are accepted but not advertised.
            let valid: Vec<String> = backticked(rest)
                .into_iter()
                .skip(1)
                .filter(|v| v != "parallel")
                .collect();
            let is_op = valid.iter().any(|v| v == "AdapterBringUp");
            let at = tree.and_then(|t| find_string_near(t, &value, offset));
            let near = closest(&value, valid.iter().map(String::as_str));
            let mut help = near
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            if is_op {
                if value.parse::<crate::ddi::Ddi>().is_ok() {
                    help.push_str(&format!(
                        "`{value}` is a documented DDI but not a step the OS can be told to take; "
                    ));
                }
                help.push_str(&format!("steps are: {}", valid.join(", ")));
            } else {
                help.push_str(&format!(
                    "valid values: {}",
                    valid
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let (kind, what) = if is_op {
                (ScenarioErrorKind::UnknownOp, "step op")
            } else {
                (ScenarioErrorKind::UnknownValue, "value")
            };
            return Self::at(
                path,
                text,
                at.or(Some(offset..offset)),
                kind,
                format!("unknown {what} `{value}`"),
                Some(help),
            );
        }
        if message.starts_with("unknown status ") {
            let value = names.first().cloned().unwrap_or_default();
            return Self::unknown_status(
                path,
                text,
                tree.and_then(|t| find_string_near(t, &value, offset))
                    .or(Some(offset..offset)),
                &value,
            );
        }
        if message.starts_with("unknown rule ") {
            let value = names.first().cloned().unwrap_or_default();
            let at = tree
                .and_then(|t| find_string_near(t, &value, offset))
                .or(Some(offset..offset));
            return Self::unknown_rule(path, text, at, &value);
        }
        if let Some(field) = message.strip_prefix("missing field ") {
            let at = tree
                .and_then(|t| t.innermost_at(offset.saturating_sub(1)))
                .map(|v| v.span.start..v.span.start + 1);
            return Self::at(
                path,
                text,
                at.or(Some(offset..offset)),
                ScenarioErrorKind::MissingField,
                format!("missing field {field}"),
                Some(format!(
                    "add {field} to this object (`miracast-sim schema` lists every field)"
                )),
            );
        }
        if message.starts_with("invalid type")
            || message.starts_with("invalid value")
            || message.starts_with("invalid length")
        {
            // Inside a step (an internally tagged enum) serde reports the end of the list;
            // a string value can be found by its text.
            let quoted = message
                .split_once("string \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(v, _)| v.to_owned());
            let at = quoted
                .and_then(|q| tree.and_then(|t| find_string_near(t, &q, offset)))
                .or_else(|| {
                    tree.and_then(|t| t.innermost_at(offset.saturating_sub(1)))
                        .map(|v| v.span.clone())
                });
            let detail = message.strip_prefix("invalid type: ").unwrap_or(&message);
            return Self::at(
                path,
                text,
                at.or(Some(offset..offset)),
                ScenarioErrorKind::WrongType,
                format!("wrong type: {detail}"),
                Some(
                    "see scenarios/README.md or `miracast-sim schema` for the type of each field"
                        .to_owned(),
                ),
            );
        }
        Self::at(
            path,
            text,
            Some(offset..offset),
            ScenarioErrorKind::Invalid,
            message,
            None,
        )
    }

    /// An NTSTATUS name that is not documented, with the nearest one.
    pub fn unknown_status(path: &str, text: &str, at: Option<Range<usize>>, value: &str) -> Self {
        let help = match crate::status::NtStatus::closest_name(value) {
            Some(n) => format!(
                "did you mean {n}? (statuses are written by their documented name, or as hex such as 0xC0000468)"
            ),
            None => "write a documented name such as STATUS_PENDING, or hex such as 0xC0000468"
                .to_owned(),
        };
        Self::at(
            path,
            text,
            at,
            ScenarioErrorKind::UnknownStatus,
            format!("unknown status `{value}`"),
            Some(help),
        )
    }

    /// A rule id outside the catalogue.
    pub fn unknown_rule(path: &str, text: &str, at: Option<Range<usize>>, value: &str) -> Self {
        Self::at(
            path,
            text,
            at,
            ScenarioErrorKind::UnknownRule,
            format!("unknown rule `{value}`"),
            Some(
                "rules are R1 to R74; `miracast-sim rules` lists them with what each checks"
                    .to_owned(),
            ),
        )
    }

    /// The diagnostic rendered for a terminal or a log, without colour.
    ///
    /// The file's text is untrusted: control characters in it are escaped, and a line too long
    /// to show (a one-line file of megabytes) is shown as an excerpt around the error.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler =
            GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
        let excerpt = self.excerpt();
        let shown = excerpt.as_ref().unwrap_or(self);
        if handler.render_report(&mut out, shown).is_err() {
            out = self.to_string();
        }
        // miette prints the message; the location line comes first so it can be clicked.
        let text = format!("{}:{}:{}\n{}", self.path, self.line, self.column, out);
        crate::report::escape::escape_lines(&text).into_owned()
    }

    /// When the error's line is longer than [`MAX_SHOWN_LINE`] bytes: the same error over an
    /// excerpt of that line around the span.
    fn excerpt(&self) -> Option<ScenarioError> {
        let span = self.span?;
        let text = self.src.inner().as_str();
        let start = floor_boundary(text, span.offset().min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        if line_end - line_start <= MAX_SHOWN_LINE {
            return None;
        }
        let from = floor_boundary(text, start.saturating_sub(EXCERPT_SIDE).max(line_start));
        let to = floor_boundary(text, (start + span.len() + EXCERPT_SIDE).min(line_end));
        let excerpt = format!("…{}…", &text[from..to]);
        let offset = start - from + '…'.len_utf8();
        let len = span.len().min(to.saturating_sub(start)).max(1);
        Some(ScenarioError {
            path: self.path.clone(),
            line: self.line,
            column: self.column,
            kind: self.kind,
            message: self.message.clone(),
            help: self.help.clone(),
            label: self.label.clone(),
            src: NamedSource::new(&self.path, excerpt),
            span: Some(SourceSpan::new(offset.into(), len)),
        })
    }
}

/// Lines longer than this are shown as an excerpt in a rendered diagnostic.
const MAX_SHOWN_LINE: usize = 400;
/// Bytes of context on each side of the error in such an excerpt.
const EXCERPT_SIDE: usize = 80;

/// The byte range `r` of `text` widened to whole characters (at least one byte), so that no
/// slice of the text for the diagnostic cuts a character: a JSON error's column may point inside
/// a multi-byte character of a hostile file.
fn char_span(text: &str, r: Range<usize>) -> SourceSpan {
    let start = floor_boundary(text, r.start.min(text.len()));
    let mut end = r.end.max(start + 1).min(text.len());
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    SourceSpan::new(start.into(), end.saturating_sub(start).max(1))
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn short_label(kind: ScenarioErrorKind) -> &'static str {
    match kind {
        ScenarioErrorKind::Io => "",
        ScenarioErrorKind::Syntax => "here",
        ScenarioErrorKind::UnknownField => "not a field here",
        ScenarioErrorKind::MissingField => "in this object",
        ScenarioErrorKind::WrongType => "wrong type",
        ScenarioErrorKind::UnknownOp => "not a step",
        ScenarioErrorKind::UnknownDdi => "not a documented DDI",
        ScenarioErrorKind::UnknownStatus => "not a documented NTSTATUS",
        ScenarioErrorKind::UnknownRule => "not a rule",
        ScenarioErrorKind::UnknownValue => "not a valid value",
        ScenarioErrorKind::Phase => "cannot happen here",
        ScenarioErrorKind::Version => "unsupported version",
        ScenarioErrorKind::Invalid => "invalid",
    }
}

/// The closest of `candidates` to `text`, when close enough to suggest.
pub fn closest<'a>(text: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| {
            (
                strsim::jaro_winkler(&text.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The span of a string value equal to `value`, preferring the one nearest before `offset`
/// (serde reports errors just after the value, or at the end of the enclosing object).
fn find_string_near(tree: &Spanned, value: &str, offset: usize) -> Option<Range<usize>> {
    let mut best: Option<(usize, Range<usize>)> = None;
    let mut stack = vec![tree];
    while let Some(v) = stack.pop() {
        match &v.node {
            Node::String(s) if s == value => {
                let rank = if v.span.start <= offset {
                    offset - v.span.start
                } else {
                    usize::MAX / 2 + v.span.start - offset
                };
                if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                    best = Some((rank, v.span.clone()));
                }
            }
            Node::Object(members) => stack.extend(members.iter().map(|(_, _, m)| m)),
            Node::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    best.map(|(_, s)| s)
}
