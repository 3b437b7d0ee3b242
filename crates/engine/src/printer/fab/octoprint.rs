//! octoprint: placeholder until its protocol module lands (a helper is writing it).

use super::{FabError, FabOptions, FabTarget, History};
use crate::printer::model::Reading;

/// Reads identity and status.
pub async fn read(target: &FabTarget, options: &FabOptions) -> Result<Reading, FabError> {
    let _ = options;
    Err(FabError::BadResponse {
        target: target.url(),
        message: "not built yet".into(),
    })
}

/// Reads the printer's job history.
pub async fn history(target: &FabTarget, options: &FabOptions) -> Result<History, FabError> {
    let _ = options;
    Err(FabError::BadResponse {
        target: target.url(),
        message: "not built yet".into(),
    })
}
