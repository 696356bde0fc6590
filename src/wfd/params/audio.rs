//! `wfd_audio_codecs` and the audio mode bitmaps (reference section 6).

use std::fmt;

use super::{ParamError, clip, hex_exact, is_none, names, split_list};

/// Audio coding format of one `wfd_audio_codecs` entry.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum AudioFormat {
    /// Linear PCM.
    #[serde(rename = "LPCM")]
    Lpcm,
    /// AAC (LC).
    #[serde(rename = "AAC")]
    Aac,
    /// Dolby AC-3.
    #[serde(rename = "AC3")]
    Ac3,
}

impl AudioFormat {
    /// Human-readable names of the mode bits, bit 0 first.
    pub fn mode_names(self) -> &'static [&'static str] {
        match self {
            AudioFormat::Lpcm => &["44.1kHz/16bit/2ch", "48kHz/16bit/2ch"],
            AudioFormat::Aac => &[
                "48kHz/16bit/2ch",
                "48kHz/16bit/4ch",
                "48kHz/16bit/6ch",
                "48kHz/16bit/8ch",
            ],
            AudioFormat::Ac3 => &["48kHz/16bit/2ch", "48kHz/16bit/4ch", "48kHz/16bit/6ch"],
        }
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AudioFormat::Lpcm => "LPCM",
            AudioFormat::Aac => "AAC",
            AudioFormat::Ac3 => "AC3",
        })
    }
}

/// One entry: format, modes bitmap, latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AudioCodec {
    /// Coding format.
    pub format: AudioFormat,
    /// Modes bitmap (HEX(8)); bit meanings in [`AudioFormat::mode_names`].
    pub modes: u32,
    /// Decoder latency in units of 5 ms.
    pub latency: u8,
}

impl AudioCodec {
    /// The names of the mode bits set; reserved bits are skipped.
    pub fn mode_names(&self) -> Vec<&'static str> {
        let names = self.format.mode_names();
        (0..32usize)
            .filter(|bit| self.modes & (1 << bit) != 0)
            .filter_map(|bit| names.get(bit).copied())
            .collect()
    }
}

impl fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:08X} {:02X}", self.format, self.modes, self.latency)
    }
}

/// `wfd_audio_codecs`: the entries; empty is `none`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AudioCodecs(pub Vec<AudioCodec>);

impl AudioCodecs {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] naming the entry (1-based) and field.
    pub fn parse(value: &str) -> Result<AudioCodecs, ParamError> {
        const P: &str = names::AUDIO_CODECS;
        let value = value.trim();
        if is_none(value) {
            return Ok(AudioCodecs(Vec::new()));
        }
        let mut out = Vec::new();
        for (i, entry) in split_list(value).enumerate() {
            let n = i + 1;
            let fields: Vec<&str> = entry.split_ascii_whitespace().collect();
            if fields.len() != 3 {
                return Err(ParamError::new(
                    P,
                    format!("entry {n}"),
                    format!(
                        "must be 'format modes latency' (3 fields, {} given in '{}')",
                        fields.len(),
                        clip(entry)
                    ),
                ));
            }
            let format = match fields[0] {
                f if f.eq_ignore_ascii_case("LPCM") => AudioFormat::Lpcm,
                f if f.eq_ignore_ascii_case("AAC") => AudioFormat::Aac,
                f if f.eq_ignore_ascii_case("AC3") => AudioFormat::Ac3,
                other => {
                    return Err(ParamError::new(
                        P,
                        format!("format of entry {n}"),
                        format!("must be LPCM, AAC or AC3 ('{}' given)", clip(other)),
                    ));
                }
            };
            let modes = hex_exact(fields[1], 8, P, &format!("modes of entry {n}"))? as u32;
            let latency = hex_exact(fields[2], 2, P, &format!("latency of entry {n}"))? as u8;
            out.push(AudioCodec {
                format,
                modes,
                latency,
            });
        }
        Ok(AudioCodecs(out))
    }

    /// True for `none`.
    pub fn is_none(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AudioCodecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entries_decode() {
        let a = AudioCodecs::parse("LPCM 00000003 00, AAC 00000001 00").unwrap();
        assert_eq!(a.0.len(), 2);
        assert_eq!(
            a.0[0].mode_names(),
            vec!["44.1kHz/16bit/2ch", "48kHz/16bit/2ch"]
        );
        assert_eq!(a.to_string(), "LPCM 00000003 00, AAC 00000001 00");
    }

    #[test]
    fn ac3_without_modes_is_legal() {
        let a = AudioCodecs::parse("AC3 00000000 00").unwrap();
        assert!(a.0[0].mode_names().is_empty());
    }

    #[test]
    fn overflowing_modes_are_rejected_with_a_count() {
        let err = AudioCodecs::parse("AAC 92233720368547758079223372036854775807 00").unwrap_err();
        assert_eq!(err.field, "modes of entry 1");
        assert!(
            err.problem.contains("exactly 8 hex digits (38 given)"),
            "{err}"
        );
    }
}
