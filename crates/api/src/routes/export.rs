//! `GET /api/v1/export`: the meter report dealers bill from, as a CSV or
//! Excel download — the same report as `printscout export`.
//!
//! Invariant: the report is built in memory from the API's read connection;
//! nothing is written to disk and nothing in the store changes.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use printscout_engine::export::{CsvPart, Format, write_csv_part, xlsx_bytes};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Query};
use crate::state::{AppState, store_error};

/// What to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` or `xlsx`.
    #[param(example = "xlsx")]
    pub format: String,
    /// From (YYYY-MM-DD or RFC 3339); default: the first reading.
    pub from: Option<String>,
    /// To (YYYY-MM-DD, inclusive, or RFC 3339); default: now.
    pub to: Option<String>,
    /// With `csv`: `meters` (default), or the 3D printers' `jobs` or
    /// `utilisation` (the Excel file has them as sheets).
    #[param(example = "jobs")]
    pub part: Option<String>,
}

/// The meter report for a period as a file download.
#[utoipa::path(
    get,
    path = "/api/v1/export",
    tag = "export",
    params(ExportQuery),
    responses(
        (status = 200, description = "the report as a download", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "a bad format or date", body = crate::error::ErrorBody)
    )
)]
pub async fn export(
    State(ctx): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format: Format = q
        .format
        .parse()
        .map_err(|_| ApiError::bad_request("format must be csv or xlsx"))?;
    let part = match q.part.as_deref().unwrap_or("meters") {
        "meters" => CsvPart::Meters,
        "jobs" => CsvPart::Jobs,
        "utilisation" => CsvPart::Utilisation,
        other => {
            return Err(ApiError::bad_request(format!(
                "part must be meters, jobs or utilisation (not {other:?})"
            )));
        }
    };
    let (from, to) = super::period(q.from.as_deref(), q.to.as_deref())?;
    let bytes = ctx
        .read(move |store| {
            let report = store
                .meter_report(from, to, &chrono::Local, &mut |_, _| {})
                .map_err(store_error)?;
            match format {
                Format::Csv => {
                    let mut out = Vec::new();
                    write_csv_part(&report, part, &mut out, &mut |_| {})
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    Ok(out)
                }
                Format::Xlsx => {
                    xlsx_bytes(&report, &mut |_| {}).map_err(|e| ApiError::internal(e.to_string()))
                }
            }
        })
        .await?;
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let stem = format!("meter-report-{}", chrono::Local::now().format("%Y-%m-%d"));
    let name = match format {
        Format::Csv => part.file_name(&stem),
        Format::Xlsx => format!("{stem}.{ext}"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
