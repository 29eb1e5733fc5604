//! The JSON API under `/api/v1`, described by `/api/v1/openapi.json`. Each handler parses,
//! calls the [`Service`], and answers; errors are `{"errors": [{"field", "message"}]}` with the
//! status that fits (422 for an invalid source, naming fields as the CLI does).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::service::{ResourceQuery, Service, ServiceError};
use super::sources::{FieldError, SourceBody};
use crate::text::inert;

/// The OpenAPI document.
const OPENAPI: &str = include_str!("openapi.json");

/// An error as the API answers it.
pub struct ApiError(StatusCode, Vec<FieldError>);

impl ApiError {
    fn message(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, vec![FieldError::new("", message)])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors: Vec<serde_json::Value> = self
            .1
            .iter()
            .map(|e| {
                let field = (!e.field.is_empty()).then_some(e.field.as_str());
                serde_json::json!({"field": field, "message": e.message})
            })
            .collect();
        (self.0, Json(serde_json::json!({ "errors": errors }))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound(message) => Self::message(StatusCode::NOT_FOUND, message),
            ServiceError::Invalid(errors) => Self(StatusCode::UNPROCESSABLE_ENTITY, errors),
            ServiceError::Conflict(error) => Self(StatusCode::CONFLICT, vec![error]),
            other => {
                tracing::error!("{}", inert(&other.to_string()));
                Self::message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    inert(&other.to_string()).into_owned(),
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection {
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ref other => other.status(),
        };
        Self(status, vec![FieldError::new("body", rejection.body_text())])
    }
}

type Answer = Result<Response, ApiError>;

/// The routes, relative to `/api/v1`.
pub fn routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/connectors", get(connectors))
        .route("/sources", get(sources).post(create))
        .route("/sources/{name}", get(source).put(replace).delete(delete))
        .route("/sources/{name}/check", post(check))
        .route("/sources/{name}/runs", post(run_now))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/resources", get(resources))
        .route("/resources/{*uri}", get(resource))
        .route("/status", get(status))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn connectors(State(service): State<Arc<Service>>) -> Answer {
    let set = service.connectors().await;
    let list: Vec<serde_json::Value> = set
        .list()
        .iter()
        .map(|(_, connector)| super::service::spec_json(connector))
        .collect();
    Ok(Json(list).into_response())
}

async fn sources(State(service): State<Arc<Service>>) -> Answer {
    Ok(Json(service.sources().await?).into_response())
}

async fn create(
    State(service): State<Arc<Service>>,
    body: Result<Json<SourceBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let prepared = service.prepare(&body, None, Default::default()).await?;
    service.save(&prepared, None)?;
    let view = service.source_view(&prepared.name).await?;
    let location = format!("/api/v1/sources/{}", encode(&prepared.name));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

async fn source(State(service): State<Arc<Service>>, Path(name): Path<String>) -> Answer {
    Ok(Json(service.source_view(&name).await?).into_response())
}

async fn replace(
    State(service): State<Arc<Service>>,
    Path(name): Path<String>,
    body: Result<Json<SourceBody>, JsonRejection>,
) -> Answer {
    let existing = service.definition(&name)?;
    let Json(body) = body?;
    let prepared = service
        .prepare(&body, Some(&existing), Default::default())
        .await?;
    service.save(&prepared, Some(&existing))?;
    Ok(Json(service.source_view(&prepared.name).await?).into_response())
}

async fn delete(State(service): State<Arc<Service>>, Path(name): Path<String>) -> Answer {
    let removed = service.delete(&name).await?;
    Ok(Json(serde_json::json!({"deleted": name, "resources_removed": removed})).into_response())
}

async fn check(State(service): State<Arc<Service>>, Path(name): Path<String>) -> Answer {
    let (file, connector) = service.load(&name).await?;
    let body = match service.check(&file, &connector).await? {
        Ok(message) => serde_json::json!({"ok": true, "message": message}),
        Err(error) => serde_json::json!({"ok": false, "error": error}),
    };
    Ok(Json(body).into_response())
}

async fn run_now(State(service): State<Arc<Service>>, Path(name): Path<String>) -> Answer {
    let id = service.run_now(&name).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/runs/{id}"))],
        Json(serde_json::json!({"run_id": id})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct RunsQuery {
    source: Option<String>,
    limit: Option<usize>,
}

async fn runs(State(service): State<Arc<Service>>, Query(query): Query<RunsQuery>) -> Answer {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(service.runs(query.source, limit).await?).into_response())
}

async fn run(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Answer {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::message(StatusCode::NOT_FOUND, format!("no run {}", inert(&id))))?;
    Ok(Json(service.run(id).await?).into_response())
}

async fn resources(
    State(service): State<Arc<Service>>,
    query: Result<Query<ResourceQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldError::new("query", e.body_text())],
        )
    })?;
    Ok(Json(service.resources(query).await?).into_response())
}

async fn resource(State(service): State<Arc<Service>>, Path(uri): Path<String>) -> Answer {
    Ok(Json(service.resource(&uri).await?).into_response())
}

async fn status(State(service): State<Arc<Service>>) -> Answer {
    let sources = service.sources().await?;
    Ok(Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "sources": sources,
    }))
    .into_response())
}

/// `text` as one path segment.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
