//! Replay tokens: everything needed to re-run one run exactly, printed with every failure.
//!
//! A token (format 2) is `m2` followed by URL-safe base64 (no padding) of a small binary
//! record: the scenario's content hash (8 bytes), the seed, the backend stamp (`model`, or
//! `real` with a hash of each driver library), a short note (the finding an exploration token
//! reproduces), and the choices. It names no path: `miracast-sim replay TOKEN [PATHS]` finds
//! the scenario by its content hash among the files and folders it is given (default
//! `scenarios`), or takes `--scenario FILE`; it never opens a path taken from a token.
//!
//! Choices are compact: the (kind, number of options) sequence as runs, then every chosen
//! option as one mixed-radix number (each choice costs the log2 of its options in bits), so a
//! whole session's schedule is a couple of hundred characters. In memory [`ReplayToken`] keeps
//! the choices packed as LEB128 varints, two per choice (`options << 1 | kind`, `chosen`), the
//! form of format 1, whose tokens (base64 of a JSON object with a path) still decode.

use super::RunResult;
use crate::sched::{Choice, ChoiceKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Current token format version.
pub const TOKEN_VERSION: u32 = 2;

/// The prefix of a format-2 token.
pub const TOKEN_PREFIX: &str = "m2";

/// The decoded content of a replay token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayToken {
    /// Token format version.
    pub v: u32,
    /// Scenario file, as given to the run that made the token.
    pub scenario: String,
    /// Content hash of the scenario file then.
    pub hash: String,
    /// The strategy that made the choices.
    pub strategy: String,
    /// Its seed.
    pub seed: u64,
    /// The packed choices.
    pub choices: String,
    /// The backend it ran on: `model`, or `real` with each driver library's hash
    /// (`real umd=0123abcd... kmd=...`); empty in format-1 tokens.
    #[serde(default)]
    pub backend: String,
}

impl ReplayToken {
    /// The token for a finished run.
    pub fn from_result(result: &RunResult) -> Self {
        ReplayToken {
            v: TOKEN_VERSION,
            scenario: String::new(),
            hash: result.content_hash.clone(),
            strategy: String::new(),
            seed: result.seed,
            choices: URL_SAFE_NO_PAD.encode(pack(&result.schedule)),
            backend: backend_stamp(&result.backend),
        }
    }

    /// The token as text (format 2).
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(64);
        let hash = (0..self.hash.len() / 2)
            .filter_map(|i| u8::from_str_radix(self.hash.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Vec<u8>>();
        put_bytes(&mut out, &hash);
        put(&mut out, self.seed);
        put_bytes(&mut out, self.backend.as_bytes());
        put_bytes(&mut out, self.strategy.as_bytes());
        let choices = self.choices().unwrap_or_default();
        compact(&mut out, &choices);
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Parses a token (format 2, or a format-1 token).
    ///
    /// # Errors
    /// A sentence saying what is wrong with the text.
    pub fn decode(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(body) = text.strip_prefix(TOKEN_PREFIX) else {
            return Self::decode_v1(text);
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| format!("not a replay token (bad base64: {e})"))?;
        let corrupt = || "not a replay token (its record is cut short or corrupt)".to_owned();
        let mut pos = 0;
        let hash = get_bytes(&bytes, &mut pos).ok_or_else(corrupt)?;
        let seed = get(&bytes, &mut pos).ok_or_else(corrupt)?;
        let backend = get_bytes(&bytes, &mut pos).ok_or_else(corrupt)?;
        let strategy = get_bytes(&bytes, &mut pos).ok_or_else(corrupt)?;
        let choices = expand(&bytes, &mut pos).ok_or_else(corrupt)?;
        if pos != bytes.len() {
            return Err(corrupt());
        }
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| corrupt());
        Ok(ReplayToken {
            v: TOKEN_VERSION,
            scenario: String::new(),
            hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
            strategy: text(strategy)?,
            seed,
            choices: URL_SAFE_NO_PAD.encode(pack(&choices)),
            backend: text(backend)?,
        })
    }

    /// A format-1 token: base64 of a JSON object.
    fn decode_v1(text: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("not a replay token (bad base64: {e})"))?;
        let token: ReplayToken =
            serde_json::from_slice(&bytes).map_err(|e| format!("not a replay token ({e})"))?;
        if token.v != 1 {
            return Err(format!(
                "replay token version {} is not supported by this build (it reads versions 1 and {TOKEN_VERSION})",
                token.v
            ));
        }
        Ok(token)
    }

    /// The recorded choices.
    ///
    /// # Errors
    /// When the packed choices are corrupt.
    pub fn choices(&self) -> Result<Vec<Choice>, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.choices)
            .map_err(|e| format!("corrupt choices in replay token: {e}"))?;
        unpack(&bytes).ok_or_else(|| "corrupt choices in replay token".to_owned())
    }
}

/// Re-runs the run `token` recorded on `scenario`: its choices with [`ReplayStrategy`](crate::sched::ReplayStrategy), then the
/// seed's random strategy past them. `options` gives the backend; the seed is the token's.
///
/// # Errors
/// When the packed choices are corrupt.
pub fn replay_run(
    token: &ReplayToken,
    scenario: &crate::scenario::Scenario,
    options: &super::RunOptions,
) -> Result<RunResult, String> {
    let choices = token.choices()?;
    let strategy = crate::sched::ReplayStrategy::new(
        choices,
        Box::new(crate::sched::RandomStrategy::new(token.seed)),
    );
    let options = super::RunOptions {
        seed: Some(token.seed),
        ..options.clone()
    };
    Ok(super::run_once(scenario, &options, Box::new(strategy)))
}

fn put(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn get_bytes<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let n = usize::try_from(get(bytes, pos)?).ok()?;
    let out = bytes.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(out)
}

/// Writes choices compactly: their count, the (kind, options) sequence as runs, and every
/// chosen option as one mixed-radix number (little-endian bytes).
fn compact(out: &mut Vec<u8>, choices: &[Choice]) {
    put(out, choices.len() as u64);
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for c in choices {
        let head = (u64::from(c.options) << 1) | u64::from(c.kind == ChoiceKind::Value);
        match runs.last_mut() {
            Some((h, n)) if *h == head => *n += 1,
            _ => runs.push((head, 1)),
        }
    }
    put(out, runs.len() as u64);
    for (head, n) in runs {
        put(out, head);
        put(out, n);
    }
    // N = sum chosen_i * prod_{j<i} options_j, built from the last choice down:
    // N = c_0 + o_0 * (c_1 + o_1 * (...)).
    let mut number: Vec<u32> = Vec::new();
    for c in choices.iter().rev() {
        mul_add(&mut number, c.options.max(1), c.chosen);
    }
    let bytes: Vec<u8> = number.iter().flat_map(|l| l.to_le_bytes()).collect();
    let len = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    put_bytes(out, &bytes[..len]);
}

/// `number = number * m + a`, little-endian 32-bit limbs.
fn mul_add(number: &mut Vec<u32>, m: u32, a: u32) {
    let mut carry = u64::from(a);
    for limb in number.iter_mut() {
        let v = u64::from(*limb) * u64::from(m) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry > 0 {
        number.push(carry as u32);
    }
}

/// `number /= d`, returning the remainder.
fn div_rem(number: &mut [u32], d: u32) -> u32 {
    let mut rem = 0u64;
    for limb in number.iter_mut().rev() {
        let v = (rem << 32) | u64::from(*limb);
        *limb = (v / u64::from(d)) as u32;
        rem = v % u64::from(d);
    }
    rem as u32
}

/// Reads what [`compact`] wrote.
fn expand(bytes: &[u8], pos: &mut usize) -> Option<Vec<Choice>> {
    let n = usize::try_from(get(bytes, pos)?).ok()?;
    let runs = get(bytes, pos)?;
    let mut heads: Vec<(u32, ChoiceKind)> = Vec::new();
    for _ in 0..runs {
        let head = get(bytes, pos)?;
        let count = usize::try_from(get(bytes, pos)?).ok()?;
        if heads.len().checked_add(count)? > n {
            return None;
        }
        let options = u32::try_from(head >> 1).ok()?;
        let kind = if head & 1 == 1 {
            ChoiceKind::Value
        } else {
            ChoiceKind::Thread
        };
        heads.extend(std::iter::repeat_n((options, kind), count));
    }
    if heads.len() != n {
        return None;
    }
    let raw = get_bytes(bytes, pos)?;
    let mut number: Vec<u32> = raw
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(b)
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for (options, kind) in heads {
        let chosen = div_rem(&mut number, options.max(1));
        out.push(Choice {
            kind,
            options,
            chosen,
        });
    }
    // Anything left over means the record does not belong to these choices.
    number.iter().all(|l| *l == 0).then_some(out)
}

/// The backend stamp of a token: `model`, or `real` followed by each driver library's name
/// and a hash of its bytes (`real libumd.so=0123abcd89ef4567 libkmd.so=...`).
pub fn backend_stamp(backend: &str) -> String {
    let Some(libraries) = backend.strip_prefix("real:") else {
        return backend.to_owned();
    };
    let mut stamp = "real".to_owned();
    for lib in libraries.split(',') {
        let path = std::path::Path::new(lib);
        let name = path
            .file_name()
            .map_or_else(|| lib.to_owned(), |n| n.to_string_lossy().into_owned());
        let hash = std::fs::read(path).map_or_else(
            |_| "unreadable".to_owned(),
            |bytes| {
                use sha2::Digest;
                sha2::Sha256::digest(&bytes)
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect()
            },
        );
        stamp.push_str(&format!(" {name}={hash}"));
    }
    stamp
}

/// Why a token recorded on `recorded` must not replay on `current` (both backend stamps):
/// another backend, or a driver library that changed. `None` when they match, or when the
/// token predates backend stamps.
pub fn backend_mismatch(recorded: &str, current: &str) -> Option<String> {
    if recorded.is_empty() || recorded == current {
        return None;
    }
    let kind = |s: &str| s.split(' ').next().unwrap_or("").to_owned();
    if kind(recorded) != kind(current) {
        return Some(format!(
            "the token was recorded on backend `{}` and this replay runs on `{}`",
            kind(recorded),
            kind(current)
        ));
    }
    let libs = |s: &str| -> Vec<(String, String)> {
        s.split(' ')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    };
    let (then, now) = (libs(recorded), libs(current));
    let changed: Vec<String> = then
        .iter()
        .zip(&now)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("{} (hash {} then, {} now as {})", a.0, a.1, b.1, b.0))
        .collect();
    Some(if changed.is_empty() {
        format!(
            "the token was recorded with driver libraries `{recorded}`, this replay uses `{current}`"
        )
    } else {
        format!(
            "the driver library changed since the token was made: {}",
            changed.join(", ")
        )
    })
}

/// Finds the scenario file whose content hash is `hash` among `paths` (files, or folders
/// searched recursively for `*.json`).
///
/// # Errors
/// When no file there has that hash, saying where it looked.
pub fn find_scenario(
    hash: &str,
    paths: &[std::path::PathBuf],
) -> Result<std::path::PathBuf, String> {
    let files = crate::scenario::discover(paths).map_err(|(p, e)| {
        format!(
            "cannot search {} for the token's scenario: {e}",
            p.display()
        )
    })?;
    files
        .into_iter()
        .find(|f| {
            crate::scenario::read_input_text(f).is_ok_and(|t| crate::scenario::content_hash(&t) == hash)
        })
        .ok_or_else(|| {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            format!(
                "no scenario with content hash {hash} in {} (the token names no path: give the file or folder it came from, e.g. `miracast-sim replay TOKEN path/to/scenarios`, or `--scenario FILE`; a scenario edited since has another hash)",
                shown.join(", ")
            )
        })
}

/// Packs choices (see the module doc).
pub fn pack(choices: &[Choice]) -> Vec<u8> {
    let mut out = Vec::with_capacity(choices.len() * 2);
    for c in choices {
        put(
            &mut out,
            (u64::from(c.options) << 1) | u64::from(c.kind == ChoiceKind::Value),
        );
        put(&mut out, u64::from(c.chosen));
    }
    out
}

/// Unpacks choices; `None` when corrupt.
pub fn unpack(bytes: &[u8]) -> Option<Vec<Choice>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let head = get(bytes, &mut pos)?;
        let chosen = u32::try_from(get(bytes, &mut pos)?).ok()?;
        let options = u32::try_from(head >> 1).ok()?;
        let kind = if head & 1 == 1 {
            ChoiceKind::Value
        } else {
            ChoiceKind::Thread
        };
        out.push(Choice {
            kind,
            options,
            chosen,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_round_trip() {
        let choices = vec![
            Choice {
                kind: ChoiceKind::Thread,
                options: 3,
                chosen: 2,
            },
            Choice {
                kind: ChoiceKind::Value,
                options: 2,
                chosen: 0,
            },
            Choice {
                kind: ChoiceKind::Thread,
                options: 300,
                chosen: 299,
            },
        ];
        assert_eq!(unpack(&pack(&choices)), Some(choices));
        assert_eq!(unpack(&[0x80]), None);
    }

    #[test]
    fn token_round_trip_and_garbage() {
        let choices: Vec<Choice> = (0..300u32)
            .map(|i| Choice {
                // Runs of the same number of options, as schedules have.
                kind: if i % 50 == 0 {
                    ChoiceKind::Value
                } else {
                    ChoiceKind::Thread
                },
                options: 2 + (i / 25) % 3,
                chosen: (i * 7) % (2 + (i / 25) % 3),
            })
            .collect();
        let t = ReplayToken {
            v: TOKEN_VERSION,
            scenario: String::new(),
            hash: "0123456789abcdef".into(),
            strategy: "finding=R27".into(),
            seed: 3,
            choices: URL_SAFE_NO_PAD.encode(pack(&choices)),
            backend: "model".into(),
        };
        let text = t.encode();
        assert!(text.starts_with(TOKEN_PREFIX));
        // 300 choices of 2..4 options: about 60 bytes for the chosen options, 60 for the runs.
        assert!(text.len() < 220, "{} characters", text.len());
        assert_eq!(ReplayToken::decode(&text), Ok(t.clone()));
        assert_eq!(
            ReplayToken::decode(&text).unwrap().choices().unwrap(),
            choices
        );
        assert!(ReplayToken::decode("!!!").is_err());
        assert!(ReplayToken::decode("e30").is_err());
        assert!(ReplayToken::decode(&text[..text.len() - 3]).is_err());
        // A format-1 token still decodes.
        let v1 = URL_SAFE_NO_PAD.encode(
            br#"{"v":1,"scenario":"s.json","hash":"ab","strategy":"random(seed=3)","seed":3,"choices":""}"#,
        );
        assert_eq!(ReplayToken::decode(&v1).unwrap().scenario, "s.json");
    }

    #[test]
    fn backend_stamps_say_what_changed() {
        assert_eq!(backend_stamp("model"), "model");
        assert_eq!(backend_mismatch("model", "model"), None);
        assert_eq!(backend_mismatch("", "model"), None);
        let m = backend_mismatch("real a.so=00", "model").unwrap();
        assert!(m.contains("`real`") && m.contains("`model`"), "{m}");
        let m = backend_mismatch("real a.so=00 b.so=11", "real a.so=00 b.so=22").unwrap();
        assert!(m.contains("b.so (hash 11 then, 22 now"), "{m}");
        assert!(backend_stamp("real:/nonexistent/lib.so").ends_with("lib.so=unreadable"));
    }
}
