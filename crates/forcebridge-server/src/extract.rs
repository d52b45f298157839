//! [`ApiJson`]: `axum::Json` whose rejections are [`ApiError`]s naming the field at fault
//! (`missing field `label``), a 413 for bodies over the limit and a 415 for a wrong content type.
//!
//! Invariant: no request body error becomes a 5xx.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

/// The field a serde message is about: the first `backticked` name, else the path before `:`.
fn serde_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d).to_owned();
                let field = detail.split_once(": ").map(|(path, _)| path.to_owned());
                let field = match field {
                    Some(p) if !p.contains(' ') && p != "." => p,
                    _ => serde_field(&detail).unwrap_or_else(|| "body".into()),
                };
                Err(ApiError::invalid(
                    field,
                    format!("the request body does not fit: {detail}"),
                ))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::invalid(
                "body",
                format!("the request body is not valid JSON: {}", e.body_text()),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::invalid(
                "content-type",
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::too_large(
                "the request body is larger than the server accepts; send fewer events per call",
            )),
            Err(e) => Err(ApiError::invalid("body", e.body_text())),
        }
    }
}
