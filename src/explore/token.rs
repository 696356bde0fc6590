//! Replay tokens for exploration failures, in the runner's one token format
//! ([`crate::runner::ReplayToken`]): the scenario's content hash, the seed, the backend stamp,
//! the finding it reproduces (`finding=R27`) and the choices. `miracast-sim replay TOKEN` reads
//! it as any other token; the strategy and bounds that found it are in the report, not in the
//! token, which stays short.

use super::dfs::Bounds;
use crate::runner::ReplayToken;
use crate::runner::replay::{TOKEN_VERSION, pack};
use crate::sched::Choice;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes a token. `backend` is the backend stamp ([`crate::runner::replay::backend_stamp`]).
#[allow(clippy::too_many_arguments)]
pub fn encode(
    scenario: &str,
    hash: &str,
    _strategy: &str,
    seed: u64,
    _bounds: &Bounds,
    choices: &[Choice],
    finding: &str,
    backend: &str,
) -> String {
    let _ = scenario;
    ReplayToken {
        v: TOKEN_VERSION,
        scenario: String::new(),
        hash: hash.to_owned(),
        strategy: format!("finding={finding}"),
        seed,
        choices: URL_SAFE_NO_PAD.encode(pack(choices)),
        backend: backend.to_owned(),
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
        .strip_prefix("finding=")
        .or_else(|| token.strategy.rsplit_once(" finding=").map(|(_, f)| f))
        .map(str::to_owned);
    Ok(DecodedToken {
        token,
        choices,
        finding,
    })
}
