//! The routes under `/api/v1` and the OpenAPI document generated from them.
//!
//! Invariants:
//! - every route is registered through `utoipa_axum::routes!`, so the served
//!   document (`GET /api/v1/openapi.json`) describes exactly what is routed;
//! - GET handlers only read; each state change is a POST, PUT, PATCH or DELETE
//!   (the security layer demands a token and `application/json` for those);
//! - responses carry no secret: credential fields are write-only and reads
//!   answer `*_set: true|false`.

pub mod engine;
pub mod events;
pub mod export;
pub mod networks;
pub mod printers;
pub mod proxy;
pub mod report;
pub mod settings;
pub mod sync;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ErrorBody, Json};
use crate::state::AppState;

/// The path of the generated OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PrintScout loopback API",
        description = "The one door into the running collector, for the web UI, a browser on the same computer and local scripts. Listens on 127.0.0.1 and ::1 only. Every request except /api/v1/health and the static UI needs `Authorization: Bearer <token>` (the token is in the file named by api.json in the data directory); state changes need `Content-Type: application/json`. Errors are `{\"error\": {\"code\", \"message\"}}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerToken),
    security(("token" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the per-install token from the data directory"))
                    .build(),
            ),
        );
    }
}

/// The API's routes (full `/api/v1/...` paths, no fallback) and the document
/// describing them.
pub fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(engine::status))
        .routes(routes!(engine::pause))
        .routes(routes!(engine::resume))
        .routes(routes!(printers::list, printers::add))
        .routes(routes!(printers::test))
        .routes(routes!(printers::one, printers::edit, printers::remove))
        .routes(routes!(printers::history))
        .routes(routes!(printers::poll))
        .routes(routes!(printers::jobs))
        .routes(routes!(networks::list))
        .routes(routes!(networks::select))
        .routes(routes!(networks::ask_gateway))
        .routes(routes!(networks::scans, networks::start_scan))
        .routes(routes!(networks::scan))
        .routes(routes!(networks::cancel_scan))
        .routes(routes!(settings::get_settings, settings::patch_settings))
        .routes(routes!(proxy::report))
        .routes(routes!(proxy::test))
        .routes(routes!(sync::sync_status, sync::sync_now))
        .routes(routes!(report::send))
        .routes(routes!(events::list))
        .routes(routes!(events::stream))
        .routes(routes!(export::export))
        .with_state(state)
        .split_for_parts();
    // The health check is served by the server module without a token; it is
    // described here so clients find it in the document.
    doc.merge(HealthDoc::openapi());
    document_errors(&mut doc);
    let served = doc.clone();
    let router = router.route(
        OPENAPI_PATH,
        get(move || {
            let doc = served.clone();
            async move { Json(doc) }
        }),
    );
    (router, doc)
}

/// Adds the answers the server layers give to every operation — the
/// security layer's 401 and 415, the extractors' 400 and 422 — so the
/// document lists every status a client can get; and gives each state change
/// without a body the `{}` JSON body the security layer asks for.
fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{Content, Ref, Response, Schema, schema::ObjectBuilder};
    let error = |what: &str| {
        Response::new(what).content_json(Content::new(Some(Ref::from_schema_name("ErrorBody"))))
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_params = path.contains('{');
        let ops = [
            (false, item.get.as_mut()),
            (true, item.post.as_mut()),
            (true, item.put.as_mut()),
            (true, item.patch.as_mut()),
            (true, item.delete.as_mut()),
        ];
        for (changes, op) in ops {
            let Some(op) = op else { continue };
            let r = &mut op.responses.responses;
            let mut add = |code: &str, what: &str| {
                r.entry(code.to_string())
                    .or_insert_with(|| error(what).into());
            };
            if path != "/api/v1/health" {
                add(
                    "401",
                    "no token, or not the right one (`token_missing`, `token_invalid`)",
                );
            }
            add(
                "400",
                "a malformed request (`malformed_json`, `invalid_path`, `invalid_query`, `bad_request`)",
            );
            if has_params {
                add("404", "no such resource (`not_found`)");
            }
            if changes {
                add(
                    "415",
                    "not `Content-Type: application/json` (`unsupported_media_type`)",
                );
                add(
                    "422",
                    "a body of the wrong shape, or a value refused (`invalid_body`, …)",
                );
                if op.request_body.is_none() {
                    op.request_body = Some(
                        RequestBodyBuilder::new()
                            .description(Some("an empty JSON object, `{}`"))
                            .content(
                                "application/json",
                                Content::new(Some(Schema::Object(ObjectBuilder::new().build()))),
                            )
                            .build(),
                    );
                }
            }
        }
    }
}

trait ContentJson {
    fn content_json(self, content: utoipa::openapi::Content) -> Self;
}

impl ContentJson for utoipa::openapi::Response {
    fn content_json(mut self, content: utoipa::openapi::Content) -> Self {
        self.content.insert("application/json".into(), content);
        self
    }
}

#[derive(OpenApi)]
#[openapi(paths(health_doc, openapi_doc))]
struct HealthDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "engine",
    responses((status = 200, description = "the OpenAPI 3.1 document of this API", body = Object))
)]
#[allow(dead_code)]
async fn openapi_doc() {}

/// Liveness: answers without a token.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "engine",
    security(()),
    responses((status = 200, description = "the service is up", body = crate::server::Health))
)]
#[allow(dead_code)]
async fn health_doc() {}

/// Milliseconds since the epoch as RFC 3339 (UTC), for JSON.
pub(crate) fn time(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A period from query parameters: `from` at its start, `to` at the end of
/// its day (dates) — refused when it ends before it starts.
pub(crate) fn period(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), crate::error::ApiError> {
    let f = from.map(|t| parse_time(t, false)).transpose()?;
    let t = to.map(|t| parse_time(t, true)).transpose()?;
    if let (Some(f), Some(t)) = (f, t)
        && f >= t
    {
        return Err(crate::error::ApiError::bad_request(
            "the period is empty: `from` must be before `to`",
        ));
    }
    Ok((f, t))
}

/// An RFC 3339 time or a date (`YYYY-MM-DD`, local midnight) as ms.
pub(crate) fn parse_time(text: &str, end_of_day: bool) -> Result<i64, crate::error::ApiError> {
    use chrono::TimeZone;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        crate::error::ApiError::bad_request(format!(
            "'{text}' is not a date (YYYY-MM-DD) or an RFC 3339 time"
        ))
    })?;
    let day = if end_of_day {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    chrono::Local
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| crate::error::ApiError::bad_request(format!("'{text}' does not exist here")))
}
