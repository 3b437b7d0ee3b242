//! The API's one error shape and the extractors that produce it.
//!
//! Every failure the API reports — a security check, a handler's own error, or
//! axum's rejection of a malformed request — is an [`ApiError`], answered as
//! `{"error": {"code": "...", "message": "..."}}` with the matching HTTP status.
//!
//! Invariants:
//! - `code` is a stable, snake_case identifier clients may match on; `message` is
//!   for people and may change;
//! - messages never carry secrets (handlers must not put credential values in
//!   them); the serde messages echoed for a malformed body describe only what
//!   the caller itself sent;
//! - handlers use this module's [`Json`], [`Path`] and [`Query`] instead of
//!   axum's, so a malformed request is a JSON error with a code, never plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// An error answered to an API client: an HTTP status, a stable code and a
/// human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct ApiError {
    /// The HTTP status of the response.
    pub status: StatusCode,
    /// A stable snake_case identifier, e.g. `not_found`, `token_invalid`.
    pub code: &'static str,
    /// A message for people; never contains a secret.
    pub message: String,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 with the given code (`token_missing`, `token_invalid`).
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 403 with the given code (`forbidden_peer`, `forbidden_host`, `forbidden_origin`).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 `not_found`: no such resource or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// 409 `conflict`: the request clashes with the current state (e.g. a
    /// duplicate, or a scan already running).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 415 `unsupported_media_type`: a state change without `application/json`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 422 `unprocessable`: well-formed JSON whose content is not acceptable.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }

    /// 503 `unavailable`: the collector cannot answer right now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 `internal`: a fault on our side. The message must not carry secrets.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The error for a bare status that some layer produced without a body
    /// (axum's own 405, a body-size limit, ...), so every `/api/` error is JSON.
    pub fn from_status(status: StatusCode) -> Self {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_server_error() => "internal",
            _ => "error",
        };
        let message = status.canonical_reason().unwrap_or("error").to_owned();
        Self::new(status, code, message)
    }

    /// The body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// The JSON body of every error response (for the OpenAPI document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case identifier, e.g. `not_found`.
    #[schema(example = "not_found")]
    pub code: String,
    /// A message for people.
    #[schema(example = "no printer with id 42")]
    pub message: String,
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ => match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                _ => "bad_request",
            },
        };
        Self::new(rejection.status(), code, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let status = rejection.status();
        let code = if status.is_server_error() {
            "internal"
        } else {
            "invalid_path"
        };
        Self::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(rejection.status(), "invalid_query", rejection.body_text())
    }
}

/// axum's `Json`, whose rejection is an [`ApiError`] (400 `malformed_json`,
/// 422 `invalid_body`, 415 `unsupported_media_type`). As a response it is
/// plain JSON with status 200.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// axum's `Path`, whose rejection is an [`ApiError`] (400 `invalid_path`).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// axum's `Query`, whose rejection is an [`ApiError`] (400 `invalid_query`).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_has_its_status_code_and_message_in_the_body() {
        let error = ApiError::conflict("a scan is already running");
        assert_eq!(error.status, StatusCode::CONFLICT);
        let body = serde_json::to_value(error.body()).expect("serialises");
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "conflict", "message": "a scan is already running"}})
        );
    }

    #[test]
    fn a_bare_status_gets_a_generic_code() {
        assert_eq!(
            ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED).code,
            "method_not_allowed"
        );
        assert_eq!(
            ApiError::from_status(StatusCode::BAD_GATEWAY).code,
            "internal"
        );
    }
}
