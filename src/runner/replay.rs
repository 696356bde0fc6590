//! Replay tokens: everything needed to re-run one run exactly, printed with every failure.
//!
//! A token is URL-safe base64 (no padding) of a small JSON object:
//!
//! ```text
//! {"v":1,"scenario":"scenarios/messages/x.json","hash":"0123abcd...","strategy":"random(seed=0)",
//!  "seed":0,"choices":"<base64 of the packed choices>"}
//! ```
//!
//! Choices are packed as LEB128 varints, two per choice: `options << 1 | kind` (kind 0 thread,
//! 1 value) and `chosen`. `miracast-sim replay TOKEN` loads the scenario, warns when its hash
//! changed, and runs it with [`crate::sched::ReplayStrategy`] (falling back to the seed's random
//! strategy past the recorded choices), then reports any divergence.

use super::RunResult;
use crate::sched::{Choice, ChoiceKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Current token format version.
pub const TOKEN_VERSION: u32 = 1;

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
}

impl ReplayToken {
    /// The token for a finished run.
    pub fn from_result(result: &RunResult) -> Self {
        ReplayToken {
            v: TOKEN_VERSION,
            scenario: result.path.clone(),
            hash: result.content_hash.clone(),
            strategy: result.strategy.clone(),
            seed: result.seed,
            choices: URL_SAFE_NO_PAD.encode(pack(&result.schedule)),
        }
    }

    /// The token as text.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a token.
    ///
    /// # Errors
    /// A sentence saying what is wrong with the text.
    pub fn decode(text: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|e| format!("not a replay token (bad base64: {e})"))?;
        let token: ReplayToken =
            serde_json::from_slice(&bytes).map_err(|e| format!("not a replay token ({e})"))?;
        if token.v != TOKEN_VERSION {
            return Err(format!(
                "replay token version {} is not supported by this build (it reads version {TOKEN_VERSION})",
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

/// Re-runs the run `token` recorded on `scenario`: its choices with [`ReplayStrategy`], then the
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
        let t = ReplayToken {
            v: 1,
            scenario: "s.json".into(),
            hash: "ab".into(),
            strategy: "random(seed=3)".into(),
            seed: 3,
            choices: URL_SAFE_NO_PAD.encode(pack(&[])),
        };
        assert_eq!(ReplayToken::decode(&t.encode()), Ok(t));
        assert!(ReplayToken::decode("!!!").is_err());
        assert!(ReplayToken::decode("e30").is_err());
    }
}
