//! Replay tokens for exploration failures, in the runner's one token format
//! ([`crate::runner::ReplayToken`], version 1): the scenario path and content hash, the
//! strategy, the seed and the packed choices. Exploration writes its bounds and the finding
//! into the strategy text, `dfs(...) bounds(preemptions=2,depth=inf) finding=R27`, so a token
//! says what it reproduces without a second format; `miracast-sim replay TOKEN` reads it as
//! any other token.

use super::dfs::Bounds;
use crate::runner::ReplayToken;
use crate::runner::replay::{TOKEN_VERSION, pack};
use crate::sched::Choice;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes a token.
pub fn encode(
    scenario: &str,
    hash: &str,
    strategy: &str,
    seed: u64,
    bounds: &Bounds,
    choices: &[Choice],
    finding: &str,
) -> String {
    let b = |x: Option<u32>| x.map_or("inf".to_owned(), |v| v.to_string());
    ReplayToken {
        v: TOKEN_VERSION,
        scenario: scenario.to_owned(),
        hash: hash.to_owned(),
        strategy: format!(
            "{strategy} bounds(preemptions={},depth={}) finding={finding}",
            b(bounds.max_preemptions),
            b(bounds.max_depth)
        ),
        seed,
        choices: URL_SAFE_NO_PAD.encode(pack(choices)),
    }
    .encode()
}

/// A decoded token: the runner's fields plus the finding it reproduces, when it names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedToken {
    /// The token as the runner reads it.
    pub token: ReplayToken,
    /// Its choices.
    pub choices: Vec<Choice>,
    /// The finding key (`R27`, `deadlock`, ...), for exploration tokens.
    pub finding: Option<String>,
}

/// Decodes a token.
///
/// # Errors
/// A sentence saying what is wrong with it.
pub fn decode(text: &str) -> Result<DecodedToken, String> {
    let token = ReplayToken::decode(text)?;
    let choices = token.choices()?;
    let finding = token
        .strategy
        .rsplit_once(" finding=")
        .map(|(_, f)| f.to_owned());
    Ok(DecodedToken {
        token,
        choices,
        finding,
    })
}
