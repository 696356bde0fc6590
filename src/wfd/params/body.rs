//! The `text/parameters` body ([`ParameterList`]) and the 303 error body ([`ErrorList`]).

use std::fmt;

use super::{ParamError, Parameter, clip, names};

/// One line of a `text/parameters` body: a name and, unless it is a bare name, a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLine {
    /// The name exactly as written (names are compared case-insensitively).
    pub name: String,
    /// The value as written (trimmed), `None` for a bare name.
    pub value: Option<String>,
}

impl ParamLine {
    /// The typed parameter of this line.
    ///
    /// # Errors
    /// [`ParamError`] when a known parameter's value breaks its grammar.
    pub fn typed(&self) -> Result<Parameter, ParamError> {
        Parameter::parse(&self.name, self.value.as_deref())
    }

    /// True when `name` names this line (case-insensitively).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

impl From<&Parameter> for ParamLine {
    fn from(p: &Parameter) -> Self {
        ParamLine {
            name: p.name().to_owned(),
            value: p.value(),
        }
    }
}

/// A `text/parameters` body: ordered lines, bare names allowed (M3 requests, M12, M13).
///
/// Values are kept as text so that unknown parameters survive verbatim; [`ParameterList::get`]
/// and [`ParamLine::typed`] give the typed view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParameterList {
    /// The lines, in wire order.
    pub lines: Vec<ParamLine>,
}

/// A body that is not a `text/parameters` list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body is not UTF-8.
    #[error("text/parameters body is not UTF-8 (byte offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A line has an empty name or a name with spaces.
    #[error("text/parameters line {line} has no valid parameter name ('{text}')")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line, shortened.
        text: String,
    },
}

impl ParameterList {
    /// An empty list (the keep-alive body).
    pub fn new() -> Self {
        ParameterList::default()
    }

    /// Parses a body. Lines end in CRLF (a bare LF is tolerated); empty lines are skipped.
    ///
    /// # Errors
    /// [`BodyError`] when the body is not UTF-8 or a line has no usable name.
    pub fn parse(body: &[u8]) -> Result<ParameterList, BodyError> {
        let text = std::str::from_utf8(body).map_err(|e| BodyError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let mut lines = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
            if line.is_empty() {
                continue;
            }
            let (name, value) = match line.split_once(':') {
                Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
                None => (line, None),
            };
            let name_ok = !name.is_empty() && !name.contains(char::is_whitespace);
            if !name_ok {
                return Err(BodyError::BadLine {
                    line: i + 1,
                    text: clip(line),
                });
            }
            lines.push(ParamLine {
                name: name.to_owned(),
                value,
            });
        }
        Ok(ParameterList { lines })
    }

    /// Appends a typed parameter.
    pub fn push(&mut self, p: &Parameter) -> &mut Self {
        self.lines.push(ParamLine::from(p));
        self
    }

    /// Appends a bare name (a GET_PARAMETER request line).
    pub fn push_name(&mut self, name: &str) -> &mut Self {
        self.lines.push(ParamLine {
            name: name.to_owned(),
            value: None,
        });
        self
    }

    /// Appends a raw `name: value` line.
    pub fn push_raw(&mut self, name: &str, value: &str) -> &mut Self {
        self.lines.push(ParamLine {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        });
        self
    }

    /// A list of typed parameters.
    pub fn from_params<'a>(params: impl IntoIterator<Item = &'a Parameter>) -> Self {
        ParameterList {
            lines: params.into_iter().map(ParamLine::from).collect(),
        }
    }

    /// The first line named `name` (case-insensitive).
    pub fn line(&self, name: &str) -> Option<&ParamLine> {
        self.lines.iter().find(|l| l.is(name))
    }

    /// True when a line named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.line(name).is_some()
    }

    /// The typed value of `name`, `None` when absent.
    ///
    /// # Errors
    /// [`ParamError`] when present but malformed.
    pub fn get(&self, name: &str) -> Result<Option<Parameter>, ParamError> {
        self.line(name).map(ParamLine::typed).transpose()
    }

    /// Every line typed, in order, stopping at the first malformed one.
    ///
    /// # Errors
    /// The first [`ParamError`].
    pub fn typed(&self) -> Result<Vec<Parameter>, ParamError> {
        self.lines.iter().map(ParamLine::typed).collect()
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| l.name.as_str())
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The body bytes: each line followed by CRLF.
    pub fn to_body(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for ParameterList {
    /// The wire body: `name: value` or `name`, each ending in CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            match &l.value {
                Some(v) => write!(f, "{}: {}\r\n", l.name, v)?,
                None => write!(f, "{}\r\n", l.name)?,
            }
        }
        Ok(())
    }
}

/// A 303 reply body: for each refused parameter, the RTSP status codes explaining why.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorList {
    /// (parameter name, codes), in wire order.
    pub entries: Vec<(String, Vec<u16>)>,
}

impl ErrorList {
    /// Parses the lines of a 303 body.
    ///
    /// # Errors
    /// [`ParamError`] when a code is not a 3-digit RTSP status.
    pub fn from_list(list: &ParameterList) -> Result<ErrorList, ParamError> {
        let mut entries = Vec::new();
        for line in &list.lines {
            let value = line.value.as_deref().unwrap_or_default();
            let mut codes = Vec::new();
            for code in value.split(',').map(str::trim) {
                let ok = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
                let parsed = if ok { code.parse::<u16>().ok() } else { None };
                codes.push(parsed.ok_or_else(|| {
                    ParamError::new(
                        &line.name,
                        "error code",
                        format!(
                            "in a 303 body must be a 3-digit RTSP status ('{}' given)",
                            clip(code)
                        ),
                    )
                })?);
            }
            entries.push((line.name.clone(), codes));
        }
        Ok(ErrorList { entries })
    }

    /// The body lines (`name: 415, 457`).
    pub fn to_list(&self) -> ParameterList {
        let mut list = ParameterList::new();
        for (name, codes) in &self.entries {
            let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
            list.push_raw(name, &codes.join(", "));
        }
        list
    }

    /// The codes given for `name`.
    pub fn codes(&self, name: &str) -> Option<&[u16]> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| c.as_slice())
    }
}

/// The default M3 request list: what Windows 10 as a source asks (reference section 4).
pub const WINDOWS_M3_REQUEST: &[&str] = &[
    names::VIDEO_FORMATS,
    names::AUDIO_CODECS,
    names::CLIENT_RTP_PORTS,
    names::DISPLAY_EDID,
    names::CONNECTOR_TYPE,
    names::UIBC_CAPABILITY,
    names::CONTENT_PROTECTION,
    names::IDR_REQUEST_CAPABILITY,
    names::INTEL_FRIENDLY_NAME,
    names::INTEL_MANUFACTURER_NAME,
    names::INTEL_MODEL_NAME,
    names::INTEL_SINK_VERSION,
    names::INTEL_DEVICE_URL,
    "wfdx_video_formats",
    names::MS_LATENCY_MANAGEMENT,
    names::MS_FORMAT_CHANGE_CAPABILITY,
    names::MS_DIAGNOSTICS_CAPABILITY,
    names::MS_CURSOR,
    names::INTEL_FAST_CURSOR,
    "intel_usboip",
    "intel_interactivity_mode",
    "intel_sink_information",
    "intel_managed_meetings",
    "intel_lower_bandwidth",
    "wfdx_rotation_capability",
    "intel_source_connection_confirmation_enabled",
    "intel_source_connection_indicator_enabled",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_valued_lines_round_trip() {
        let body = b"wfd_client_rtp_ports\r\nnonstandard_property: 1!!1! non standard value\r\n";
        let list = ParameterList::parse(body).unwrap();
        assert_eq!(list.lines.len(), 2);
        assert_eq!(list.lines[0].value, None);
        assert_eq!(list.to_body(), body.to_vec());
    }

    #[test]
    fn error_codes_must_be_three_digits() {
        let list = ParameterList::parse(b"wfd_audio_codecs: 415, 457\r\nwfd_I2C: 404\r\n").unwrap();
        let errors = ErrorList::from_list(&list).unwrap();
        assert_eq!(errors.codes("wfd_audio_codecs"), Some(&[415, 457][..]));
        let bad = ParameterList::parse(b"wfd_audio_codecs: 92233720368547758079\r\n").unwrap();
        let err = ErrorList::from_list(&bad).unwrap_err();
        assert!(err.to_string().contains("3-digit RTSP status"), "{err}");
    }
}
