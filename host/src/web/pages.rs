//! The server-rendered pages: Sources, Add/Edit/Delete a source, a source with its runs, a run,
//! and the Resources browser. maud checks the templates at compile time and escapes every
//! value; the pages use no script at all, so they work without JavaScript and under a CSP that
//! allows none. Every state-changing form carries its session's CSRF token.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use super::access::{Access, Session};
use super::api::encode;
use super::service::{
    Prepared, ResourceQuery, Service, ServiceError, is_secret_field, setting_json,
};
use super::sources::{Definition, FieldError, SourceBody, view_of};
use crate::contract::{ConnectorSpec, FieldKind};
use crate::sandbox::Connector;

/// The style sheet.
const STYLE: &str = include_str!("style.css");

/// What the page handlers share.
pub struct Pages {
    /// The operations.
    pub service: Arc<Service>,
    /// Sessions, drafts and the admin token.
    pub access: Arc<Access>,
}

type Shared = State<Arc<Pages>>;

/// The page routes.
pub fn routes() -> Router<Arc<Pages>> {
    Router::new()
        .route("/", get(sources))
        .route("/static/style.css", get(style))
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/sources/new", get(new_source).post(create_source))
        .route("/sources/{name}", get(source_page))
        .route("/sources/{name}/edit", get(edit_source).post(update_source))
        .route(
            "/sources/{name}/delete",
            get(confirm_delete).post(delete_source),
        )
        .route("/sources/{name}/run", axum::routing::post(run_now))
        .route("/sources/{name}/check", axum::routing::post(check_source))
        .route("/runs/{id}", get(run_page))
        .route("/resources", get(resources))
        .route("/resources/{*uri}", get(resource_page))
}

/// The submitted fields of a form, in order (a name may repeat: the weekly days).
struct FormValues(Vec<(String, String)>);

impl FormValues {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self, key: &str) -> &str {
        self.get(key).unwrap_or_default()
    }

    fn has(&self, key: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == key && v == value)
    }

    fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.push((key.to_owned(), value.into()));
    }
}

fn page(session: Option<&Session>, has_token: bool, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Euno" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header {
                    a.brand href="/" { "Euno" }
                    nav {
                        a href="/" { "Sources" }
                        a href="/resources" { "Resources" }
                    }
                    @if let (true, Some(session)) = (has_token, session) {
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn render(
    pages: &Pages,
    session: &Session,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    (
        status,
        page(Some(session), pages.access.has_token(), title, body),
    )
        .into_response()
}

fn error_page(pages: &Pages, session: &Session, error: ServiceError) -> Response {
    let (status, lines) = match error {
        ServiceError::NotFound(message) => (StatusCode::NOT_FOUND, vec![message]),
        ServiceError::Invalid(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors.into_iter().map(|e| e.message).collect(),
        ),
        ServiceError::Conflict(error) => (StatusCode::CONFLICT, vec![error.message]),
        other => (StatusCode::INTERNAL_SERVER_ERROR, vec![other.to_string()]),
    };
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Error")) }
        @for line in &lines { p.error { (line) } }
        p { a href="/" { "Back to the sources" } }
    };
    render(pages, session, status, "Error", body)
}

fn csrf_refused(pages: &Pages, session: &Session) -> Response {
    let body = html! {
        h1 { "Form expired" }
        p.error { "This form's security token does not match your session. Go back, reload the page and try again." }
    };
    render(pages, session, StatusCode::FORBIDDEN, "Form expired", body)
}

/// Parses a state-changing form, or the response refusing it (CSRF).
fn checked_form(
    pages: &Pages,
    session: &Session,
    body: &[u8],
) -> Result<FormValues, Box<Response>> {
    let form = FormValues::parse(body);
    if session.check_csrf(form.get("csrf")) {
        Ok(form)
    } else {
        Err(Box::new(csrf_refused(pages, session)))
    }
}

fn csrf_input(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

async fn login_form(Extension(session): Extension<Session>) -> Response {
    login_page(&session, None)
}

fn login_page(session: &Session, error: Option<&str>) -> Response {
    let body = html! {
        h1 { "Log in" }
        @if let Some(error) = error { p.error { (error) } }
        form.card method="post" action="/login" {
            (csrf_input(session))
            label for="token" { "Admin token" }
            input #token type="password" name="token" autocomplete="current-password" required;
            button.primary type="submit" { "Log in" }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (status, page(None, false, "Log in", body)).into_response()
}

async fn login(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let form = match checked_form(&pages, &session, &body) {
        Ok(form) => form,
        Err(refused) => return *refused,
    };
    if !pages.access.is_token(form.text("token")) {
        return login_page(&session, Some("That is not the admin token."));
    }
    let fresh = pages.access.log_in(&session);
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, Access::cookie(&fresh));
    response
}

async fn logout(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked_form(&pages, &session, &body) {
        return *refused;
    }
    pages.access.log_out(&session);
    Redirect::to("/login").into_response()
}

async fn sources(State(pages): Shared, Extension(session): Extension<Session>) -> Response {
    let list = match pages.service.sources().await {
        Ok(list) => list,
        Err(error) => return error_page(&pages, &session, error),
    };
    let body = html! {
        div.titlebar {
            h1 { "Sources" }
            a.button.primary href="/sources/new" { "Add New Source" }
        }
        @if list.is_empty() {
            p.empty { "No sources yet. Add one to start discovering." }
        } @else {
            table.sources {
                thead { tr { th { "Name" } th { "Connector" } th { "Schedule" } th { "Next run" } th { "Last run" } th {} } }
                tbody {
                    @for line in &list {
                        @let status = &line.status;
                        tr {
                            @if let Some(name) = &status.name {
                                td { a href={ "/sources/" (encode(name)) } { (name) } }
                                td { (line.connector.as_deref().unwrap_or("")) }
                                td { (status.schedule.as_deref().unwrap_or("")) }
                                td { (status.next_run.as_deref().unwrap_or("—")) }
                                td {
                                    @if status.running { span.badge.running { "running" } " " }
                                    @match &status.last_run {
                                        Some(run) => {
                                            a href={ "/runs/" (run.id) } {
                                                span class={ "badge " (run.outcome.as_str()) } { (run.outcome.as_str()) }
                                            }
                                            " "
                                            span.counts { "+" (run.added) " ~" (run.updated) " =" (run.unchanged) " −" (run.removed) }
                                        }
                                        None => { "never" }
                                    }
                                }
                                td {
                                    form method="post" action={ "/sources/" (encode(name)) "/run" } {
                                        (csrf_input(&session))
                                        button type="submit" { "Run now" }
                                    }
                                }
                            } @else {
                                td colspan="5" { span.error { (status.error.as_deref().unwrap_or("invalid")) } }
                                td {}
                            }
                        }
                    }
                }
            }
        }
    };
    render(&pages, &session, StatusCode::OK, "Sources", body)
}

#[derive(serde::Deserialize)]
struct NewQuery {
    connector: Option<String>,
}

async fn new_source(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<NewQuery>,
) -> Response {
    let Some(id) = query.connector.filter(|c| !c.is_empty()) else {
        let set = pages.service.connectors().await;
        let body = html! {
            h1 { "Add New Source" }
            p { "Select the platform to discover:" }
            ul.choices {
                @for (_, connector) in set.list() {
                    li {
                        a.choice href={ "/sources/new?connector=" (encode(&connector.spec.id)) } {
                            strong { (connector.spec.display_name) }
                            span.muted { " " (connector.spec.id) " " (connector.spec.version) }
                            br;
                            span.muted { (connector.spec.description) }
                        }
                    }
                }
            }
        };
        return render(&pages, &session, StatusCode::OK, "Add New Source", body);
    };
    let connector = match pages.service.connector(&id).await {
        Ok(connector) => connector,
        Err(error) => return error_page(&pages, &session, error.into()),
    };
    let values = defaults(&connector.spec);
    let form = Form {
        action: "/sources/new".to_owned(),
        title: format!("Add New Source: {}", connector.spec.display_name),
        connector: &connector,
        values: &values,
        errors: &[],
        stored_secrets: &[],
        draft: None,
        tested: None,
    };
    render(
        &pages,
        &session,
        StatusCode::OK,
        "Add New Source",
        source_form(&session, &form),
    )
}

/// The form's values for a new source of `spec`: its defaults, no schedule, immediate cleanup.
fn defaults(spec: &ConnectorSpec) -> FormValues {
    let mut values = FormValues(Vec::new());
    values.set("connector", spec.id.clone());
    for field in &spec.fields {
        if let Some(default) = &field.default_value {
            set_setting(&mut values, &field.name, &setting_json(default));
        }
    }
    values.set("schedule_kind", "weekly");
    values.set("timezone", "UTC");
    values.set("times", "09:00");
    values.set("every_hours", "6");
    values.set("cleanup", "immediate");
    values
}

fn set_setting(values: &mut FormValues, name: &str, value: &serde_json::Value) {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    };
    values.set(&format!("setting.{name}"), text);
}

/// The form's values for the stored source `text`.
fn values_of(text: &str, spec: &ConnectorSpec) -> FormValues {
    let view = view_of(text, Some(spec));
    let mut values = FormValues(Vec::new());
    values.set("name", view["name"].as_str().unwrap_or_default());
    values.set("connector", spec.id.clone());
    for field in &spec.fields {
        match view["settings"].get(&field.name) {
            Some(value) => set_setting(&mut values, &field.name, value),
            None if !matches!(field.kind, FieldKind::Boolean) => {
                if let Some(default) = &field.default_value {
                    set_setting(&mut values, &field.name, &setting_json(default));
                }
            }
            None => {}
        }
        if matches!(field.kind, FieldKind::Boolean)
            && view["settings"].get(&field.name).is_none()
            && let Some(default) = &field.default_value
        {
            set_setting(&mut values, &field.name, &setting_json(default));
        }
    }
    let schedule = &view["schedule"];
    let enabled = schedule.is_object() && schedule["enabled"].as_bool().unwrap_or(true);
    if enabled {
        values.set("schedule_enabled", "on");
    }
    if let Some(hourly) = schedule.get("hourly") {
        values.set("schedule_kind", "hourly");
        values.set("every_hours", hourly["every_hours"].to_string());
    } else {
        values.set("schedule_kind", "weekly");
        values.set("every_hours", "6");
    }
    let weekly = &schedule["weekly"];
    for day in weekly["days"].as_array().into_iter().flatten() {
        values.set("days", day.as_str().unwrap_or_default());
    }
    let times: Vec<&str> = weekly["times"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    values.set(
        "times",
        if times.is_empty() {
            "09:00".to_owned()
        } else {
            times.join(", ")
        },
    );
    values.set("timezone", weekly["timezone"].as_str().unwrap_or("UTC"));
    let cleanup = &view["cleanup"];
    values.set(
        "cleanup",
        cleanup["strategy"].as_str().unwrap_or("immediate"),
    );
    if let Some(days) = cleanup["after_days"].as_u64() {
        values.set("after_days", days.to_string());
    }
    values
}

/// A source body from the form, as the API would take it.
fn body_of(form: &FormValues, spec: &ConnectorSpec) -> SourceBody {
    let mut body = SourceBody {
        name: form.text("name").trim().to_owned(),
        connector: spec.id.clone(),
        ..SourceBody::default()
    };
    for field in &spec.fields {
        let key = format!("setting.{}", field.name);
        if is_secret_field(spec, field) {
            let typed = form.text(&format!("secret.{}", field.name));
            if !typed.is_empty() {
                body.secrets.insert(field.name.clone(), typed.to_owned());
            }
            continue;
        }
        let text = form.text(&key).trim();
        let value = match &field.kind {
            FieldKind::Boolean => {
                let checked = form.has(&key, "true");
                let default = matches!(
                    field.default_value,
                    Some(crate::contract::SettingValue::Boolean(true))
                );
                if checked == default {
                    continue;
                }
                serde_json::Value::Bool(checked)
            }
            _ if text.is_empty() => continue,
            FieldKind::Integer => text
                .parse::<i64>()
                .map_or_else(|_| text.into(), serde_json::Value::from),
            FieldKind::TextList => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .into(),
            _ => text.into(),
        };
        body.settings.insert(field.name.clone(), value);
    }
    if form.has("schedule_enabled", "on") {
        let number = |text: &str| {
            text.trim().parse::<i64>().map_or_else(
                |_| serde_json::Value::from(text.trim()),
                serde_json::Value::from,
            )
        };
        body.schedule = Some(if form.text("schedule_kind") == "hourly" {
            serde_json::json!({"enabled": true, "hourly": {"every_hours": number(form.text("every_hours"))}})
        } else {
            let days: Vec<&str> = form
                .0
                .iter()
                .filter(|(k, _)| k == "days")
                .map(|(_, v)| v.as_str())
                .collect();
            let times: Vec<&str> = form
                .text("times")
                .split([',', ' '])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            let zone = match form.text("timezone").trim() {
                "" => "UTC",
                zone => zone,
            };
            serde_json::json!({"enabled": true, "weekly": {"days": days, "times": times, "timezone": zone}})
        });
    }
    body.cleanup = Some(match form.text("cleanup") {
        "after_days" => {
            let days = form.text("after_days").trim();
            let days = days
                .parse::<i64>()
                .map_or_else(|_| serde_json::Value::from(days), serde_json::Value::from);
            serde_json::json!({"strategy": "after_days", "after_days": days})
        }
        "none" => serde_json::json!({"strategy": "none"}),
        _ => serde_json::json!({"strategy": "immediate"}),
    });
    body
}

/// What the source form shows.
struct Form<'a> {
    action: String,
    title: String,
    connector: &'a Connector,
    values: &'a FormValues,
    errors: &'a [FieldError],
    /// Secrets stored already: their inputs may stay empty.
    stored_secrets: &'a [String],
    /// The draft holding secrets typed before a connection test.
    draft: Option<&'a str>,
    /// The connection test's outcome.
    tested: Option<Result<String, String>>,
}

fn errors_for<'a>(errors: &'a [FieldError], field: &str) -> Vec<&'a str> {
    errors
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.as_str())
        .collect()
}

fn source_form(session: &Session, form: &Form<'_>) -> Markup {
    let spec = &form.connector.spec;
    let values = form.values;
    let (main, advanced): (Vec<_>, Vec<_>) = spec
        .fields
        .iter()
        .partition(|f| f.required || matches!(f.kind, FieldKind::Text | FieldKind::Url));
    let field_markup = |field: &crate::contract::ConfigField| {
        let secret = is_secret_field(spec, field);
        let input_name = if secret {
            format!("secret.{}", field.name)
        } else {
            format!("setting.{}", field.name)
        };
        let path = if secret {
            format!("secrets.{}", field.name)
        } else {
            format!("settings.{}", field.name)
        };
        let id = format!("f-{}", field.name);
        let value = values.text(&input_name);
        let stored = form.stored_secrets.contains(&field.name) || form.draft.is_some();
        let problems = errors_for(form.errors, &path);
        html! {
            div class={ "field" @if !problems.is_empty() { " invalid" } } {
                @if matches!(field.kind, FieldKind::Boolean) {
                    label.check {
                        input id=(id) type="checkbox" name=(input_name) value="true" checked[values.has(&input_name, "true")];
                        " " (field.label)
                    }
                } @else {
                    label for=(id) { (field.label) @if field.required { "*" } }
                    @if secret {
                        input id=(id) type="password" name=(input_name) autocomplete="new-password"
                            placeholder=(if stored { "stored; type a new one to replace it" } else { "" })
                            required[field.required && !stored];
                    } @else {
                        @match &field.kind {
                            FieldKind::Integer => { input id=(id) type="number" name=(input_name) value=(value); }
                            FieldKind::Url => { input id=(id) type="url" name=(input_name) value=(value) required[field.required]; }
                            FieldKind::Choice(choices) => {
                                select id=(id) name=(input_name) {
                                    option value="" selected[value.is_empty()] { "(default)" }
                                    @for choice in choices {
                                        option value=(choice) selected[value == choice] { (choice) }
                                    }
                                }
                            }
                            FieldKind::TextList => { textarea id=(id) name=(input_name) rows="3" { (value) } }
                            _ => { input id=(id) type="text" name=(input_name) value=(value) required[field.required]; }
                        }
                    }
                }
                @if !field.description.is_empty() { small.help { (field.description) } }
                @for problem in &problems { span.error { (problem) } }
            }
        }
    };
    let schedule_errors: Vec<&FieldError> = form
        .errors
        .iter()
        .filter(|e| e.field.starts_with("schedule"))
        .collect();
    let cleanup_errors: Vec<&FieldError> = form
        .errors
        .iter()
        .filter(|e| e.field.starts_with("cleanup"))
        .collect();
    let days = [
        ("mon", "Mon"),
        ("tue", "Tue"),
        ("wed", "Wed"),
        ("thu", "Thu"),
        ("fri", "Fri"),
        ("sat", "Sat"),
        ("sun", "Sun"),
    ];
    html! {
        h1 { (form.title) }
        @if !form.errors.is_empty() {
            div.errors role="alert" {
                p { strong { "The source was not saved:" } }
                ul { @for e in form.errors { li { code { (e.field) } ": " (e.message) } } }
            }
        }
        @match &form.tested {
            Some(Ok(message)) => { div.tested.ok role="status" { strong { "Connection OK" } ": " (message) } }
            Some(Err(error)) => { div.tested.failed role="alert" { strong { "Connection failed" } ": " (error) } }
            None => {}
        }
        form.card.source method="post" action=(form.action) {
            (csrf_input(session))
            input type="hidden" name="connector" value=(spec.id);
            @if let Some(draft) = form.draft { input type="hidden" name="draft" value=(draft); }
            fieldset {
                legend { "General Configuration" }
                div class={ "field" @if !errors_for(form.errors, "name").is_empty() { " invalid" } } {
                    label for="f-name" { "Name*" }
                    input #f-name type="text" name="name" value=(values.text("name")) required placeholder="Hex - Analytics Projects";
                    @for problem in errors_for(form.errors, "name") { span.error { (problem) } }
                }
                @for field in &main { (field_markup(field)) }
                @if !advanced.is_empty() {
                    details {
                        summary { "Advanced settings" }
                        @for field in &advanced { (field_markup(field)) }
                    }
                }
            }
            fieldset {
                legend { "Schedule" }
                label.check.toggle {
                    input #f-schedule type="checkbox" name="schedule_enabled" value="on" checked[values.has("schedule_enabled", "on")];
                    " Schedule"
                }
                div.cadence {
                    label.check { input type="radio" name="schedule_kind" value="weekly" checked[values.text("schedule_kind") != "hourly"]; " Weekly" }
                    div.indent {
                        div.days {
                            @for (value, label) in days {
                                label.check { input type="checkbox" name="days" value=(value) checked[values.has("days", value)]; " " (label) }
                            }
                        }
                        label for="f-times" { "Times (HH:MM, comma-separated)" }
                        input #f-times type="text" name="times" value=(values.text("times"));
                        label for="f-timezone" { "Time zone" }
                        input #f-timezone type="text" name="timezone" value=(values.text("timezone")) placeholder="UTC";
                    }
                    label.check { input type="radio" name="schedule_kind" value="hourly" checked[values.text("schedule_kind") == "hourly"]; " Hourly" }
                    div.indent {
                        label for="f-every" { "Every N hours" }
                        input #f-every type="number" min="1" max="168" name="every_hours" value=(values.text("every_hours"));
                    }
                }
                @for e in &schedule_errors { span.error { code { (e.field) } ": " (e.message) } }
            }
            fieldset {
                legend { "Resource Cleanup" }
                label.check { input type="radio" name="cleanup" value="immediate" checked[values.text("cleanup") == "immediate" || values.get("cleanup").is_none()]; " Immediate Cleanup" }
                small.help { "Remove resources not detected in the most recent successful run." }
                label.check { input type="radio" name="cleanup" value="none" checked[values.text("cleanup") == "none"]; " No Cleanup" }
                small.help { "Keep all resources indefinitely, even if they are no longer detected." }
                label.check { input type="radio" name="cleanup" value="after_days" checked[values.text("cleanup") == "after_days"]; " After N days" }
                div.indent {
                    input #f-after-days type="number" min="1" name="after_days" value=(values.text("after_days")) aria-label="days";
                }
                @for e in &cleanup_errors { span.error { code { (e.field) } ": " (e.message) } }
            }
            div.actions {
                button #test type="submit" name="action" value="test" { "Test connection" }
                button.primary #save type="submit" name="action" value="save" { "Save" }
            }
        }
    }
}

async fn create_source(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let form = match checked_form(&pages, &session, &body) {
        Ok(form) => form,
        Err(refused) => return *refused,
    };
    submit(&pages, &session, form, None).await
}

async fn edit_source(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    let (definition, connector) = match edited(&pages, &name).await {
        Ok(found) => found,
        Err(error) => return error_page(&pages, &session, error),
    };
    let values = values_of(&definition.text, &connector.spec);
    let stored = stored_secrets(&definition);
    let form = Form {
        action: format!("/sources/{}/edit", encode(&name)),
        title: format!("Edit {name}"),
        connector: &connector,
        values: &values,
        errors: &[],
        stored_secrets: &stored,
        draft: None,
        tested: None,
    };
    render(
        &pages,
        &session,
        StatusCode::OK,
        "Edit source",
        source_form(&session, &form),
    )
}

fn stored_secrets(definition: &Definition) -> Vec<String> {
    super::sources::written_secrets(&definition.text)
}

async fn edited(pages: &Pages, name: &str) -> Result<(Definition, Arc<Connector>), ServiceError> {
    let definition = pages.service.definition(name)?;
    let table: toml::Table = definition.text.parse().unwrap_or_default();
    let id = table
        .get("connector")
        .and_then(toml::Value::as_str)
        .unwrap_or(crate::connectors::BUNDLED_ID)
        .to_owned();
    let connector = pages.service.connector(&id).await?;
    Ok((definition, connector))
}

async fn update_source(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let form = match checked_form(&pages, &session, &body) {
        Ok(form) => form,
        Err(refused) => return *refused,
    };
    let definition = match pages.service.definition(&name) {
        Ok(definition) => definition,
        Err(error) => return error_page(&pages, &session, error),
    };
    submit(&pages, &session, form, Some(definition)).await
}

/// Saves or tests a submitted source form.
async fn submit(
    pages: &Pages,
    session: &Session,
    form: FormValues,
    existing: Option<Definition>,
) -> Response {
    let connector = match pages.service.connector(form.text("connector")).await {
        Ok(connector) => connector,
        Err(error) => return error_page(pages, session, error.into()),
    };
    let body = body_of(&form, &connector.spec);
    let kept = form
        .get("draft")
        .map(|id| pages.access.draft(session, id))
        .unwrap_or_default();
    let prepared = pages
        .service
        .prepare(&body, existing.as_ref(), kept.clone())
        .await;
    let action = match &existing {
        Some(d) => format!("/sources/{}/edit", encode(&d.name)),
        None => "/sources/new".to_owned(),
    };
    let title = match &existing {
        Some(d) => format!("Edit {}", d.name),
        None => format!("Add New Source: {}", connector.spec.display_name),
    };
    let stored = existing.as_ref().map(stored_secrets).unwrap_or_default();
    let again = |errors: &[FieldError],
                 draft: Option<&str>,
                 tested: Option<Result<String, String>>,
                 status| {
        let form = Form {
            action: action.clone(),
            title: title.clone(),
            connector: &connector,
            values: &form,
            errors,
            stored_secrets: &stored,
            draft,
            tested,
        };
        render(
            pages,
            session,
            status,
            "Source",
            source_form(session, &form),
        )
    };
    let prepared: Prepared = match prepared {
        Ok(prepared) => prepared,
        Err(ServiceError::Invalid(errors)) => {
            return again(&errors, None, None, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(ServiceError::Conflict(error)) => {
            return again(&[error], None, None, StatusCode::CONFLICT);
        }
        Err(error) => return error_page(pages, session, error),
    };
    if form.text("action") == "test" {
        let secrets = prepared.typed.clone();
        let draft = (!secrets.is_empty()).then(|| pages.access.keep_draft(session, secrets));
        let tested = match pages
            .service
            .check(&prepared.file, &prepared.connector)
            .await
        {
            Ok(outcome) => outcome,
            Err(ServiceError::Invalid(errors)) => {
                return again(
                    &errors,
                    draft.as_deref(),
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
            Err(error) => return error_page(pages, session, error),
        };
        return again(&[], draft.as_deref(), Some(tested), StatusCode::OK);
    }
    if let Err(error) = pages.service.save(&prepared, existing.as_ref()) {
        return error_page(pages, session, error);
    }
    Redirect::to(&format!("/sources/{}", encode(&prepared.name))).into_response()
}

async fn source_page(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    source_view(&pages, &session, &name, None).await
}

async fn source_view(
    pages: &Pages,
    session: &Session,
    name: &str,
    tested: Option<Result<String, String>>,
) -> Response {
    let view = match pages.service.source_view(name).await {
        Ok(view) => view,
        Err(error) => return error_page(pages, session, error),
    };
    let runs = match pages.service.runs(Some(name.to_owned()), 50).await {
        Ok(runs) => runs,
        Err(error) => return error_page(pages, session, error),
    };
    let path = encode(name);
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    let body = html! {
        div.titlebar {
            h1 { (name) }
            div.actions {
                form method="post" action={ "/sources/" (path) "/run" } { (csrf_input(session)) button.primary type="submit" { "Run now" } }
                form method="post" action={ "/sources/" (path) "/check" } { (csrf_input(session)) button type="submit" { "Test connection" } }
                a.button href={ "/sources/" (path) "/edit" } { "Edit" }
                a.button.danger href={ "/sources/" (path) "/delete" } { "Delete" }
            }
        }
        @match &tested {
            Some(Ok(message)) => { div.tested.ok role="status" { strong { "Connection OK" } ": " (message) } }
            Some(Err(error)) => { div.tested.failed role="alert" { strong { "Connection failed" } ": " (error) } }
            None => {}
        }
        dl.card {
            dt { "Connector" } dd { (text(&view["connector"])) }
            dt { "Schedule" } dd { (text(&view["schedule_text"])) }
            dt { "Next run" } dd { (text(&view["next_run"])) }
            dt { "Cleanup" } dd { (view["cleanup"]["strategy"].as_str().unwrap_or("immediate")) @if let Some(days) = view["cleanup"]["after_days"].as_u64() { " after " (days) " days" } }
            @if let Some(settings) = view["settings"].as_object() {
                @for (key, value) in settings { dt { code { (key) } } dd { (text(value)) } }
            }
            dt { "Secrets" } dd { @for s in view["secrets"].as_array().into_iter().flatten() { code { (text(s)) } " (stored) " } }
            dt { "File" } dd { code { (text(&view["file"])) } }
        }
        h2 { "Runs" }
        (runs_table(&runs))
    };
    render(pages, session, StatusCode::OK, name, body)
}

fn runs_table(runs: &[crate::inventory::RunRecord]) -> Markup {
    html! {
        @if runs.is_empty() { p.empty { "No runs yet." } } @else {
            table.runs {
                thead { tr { th { "Run" } th { "Started" } th { "Outcome" } th { "Added" } th { "Updated" } th { "Unchanged" } th { "Removed" } th { "Warnings" } th { "Error" } } }
                tbody {
                    @for run in runs {
                        tr {
                            td { a href={ "/runs/" (run.id) } { "#" (run.id) } }
                            td { (crate::inventory::format_timestamp(run.started_at)) }
                            td { span class={ "badge " (run.outcome.as_str()) } { (run.outcome.as_str()) } }
                            td { (run.added) } td { (run.updated) } td { (run.unchanged) } td { (run.removed) }
                            td { (run.warnings.len()) }
                            td.error { (run.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

async fn check_source(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked_form(&pages, &session, &body) {
        return *refused;
    }
    let tested = match pages.service.load(&name).await {
        Ok((file, connector)) => pages.service.check(&file, &connector).await,
        Err(error) => Err(error),
    };
    match tested {
        Ok(tested) => source_view(&pages, &session, &name, Some(tested)).await,
        Err(error) => error_page(&pages, &session, error),
    }
}

async fn run_now(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked_form(&pages, &session, &body) {
        return *refused;
    }
    match pages.service.run_now(&name).await {
        Ok(id) => Redirect::to(&format!("/runs/{id}")).into_response(),
        Err(error) => error_page(&pages, &session, error),
    }
}

async fn confirm_delete(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    if let Err(error) = pages.service.definition(&name) {
        return error_page(&pages, &session, error);
    }
    let body = html! {
        h1 { "Delete " (name) "?" }
        p { "This removes the source's definition and stored secrets, and, as " code { "euno-host sources remove" } " does, its sponsorships: every resource no other source sponsors leaves the inventory. Its run history stays." }
        form.card method="post" action={ "/sources/" (encode(&name)) "/delete" } {
            (csrf_input(&session))
            div.actions {
                a.button href={ "/sources/" (encode(&name)) } { "Cancel" }
                button.danger #confirm-delete type="submit" { "Delete" }
            }
        }
    };
    render(&pages, &session, StatusCode::OK, "Delete source", body)
}

async fn delete_source(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked_form(&pages, &session, &body) {
        return *refused;
    }
    match pages.service.delete(&name).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(error) => error_page(&pages, &session, error),
    }
}

async fn run_page(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let detail = match id.parse::<i64>() {
        Ok(id) => pages.service.run(id).await,
        Err(_) => Err(ServiceError::NotFound(format!("no run {id}"))),
    };
    let detail = match detail {
        Ok(detail) => detail,
        Err(error) => return error_page(&pages, &session, error),
    };
    let run = &detail.run;
    let body = html! {
        h1 { "Run #" (run.id) " of " a href={ "/sources/" (encode(&run.source)) } { (run.source) } }
        p { span #outcome class={ "badge " (run.outcome.as_str()) } { (run.outcome.as_str()) }
            @if run.outcome.as_str() == "running" { " " a href={ "/runs/" (run.id) } { "Refresh" } } }
        dl.card {
            dt { "Connector" } dd { (run.connector_id) " " (run.connector_version) }
            dt { "Started" } dd { (crate::inventory::format_timestamp(run.started_at)) }
            dt { "Finished" } dd { (run.finished_at.map(crate::inventory::format_timestamp).unwrap_or_else(|| "—".to_owned())) }
            dt { "Emitted" } dd { (run.emitted) }
            dt { "Added" } dd { (run.added) }
            dt { "Updated" } dd { (run.updated) }
            dt { "Unchanged" } dd { (run.unchanged) }
            dt { "Removed" } dd { (run.removed) }
            @if let Some(refused) = &run.cleanup_refused { dt { "Cleanup refused" } dd.error { (refused) } }
            dt { "Warnings" } dd { (run.warnings.len()) }
            @if let Some(error) = &run.error { dt { "Error" } dd.error { (error) } }
        }
        h2 { "Log" }
        @if detail.log.is_empty() { p.empty { "The connector warned about nothing." } } @else {
            pre.log { @for line in &detail.log { (line) "\n" } }
        }
        p { a href={ "/resources?source=" (encode(&run.source)) } { "Browse what this source discovered" } }
    };
    render(&pages, &session, StatusCode::OK, "Run", body)
}

async fn resources(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ResourceQuery>,
) -> Response {
    let sources: Vec<String> = match pages.service.sources().await {
        Ok(list) => list.into_iter().filter_map(|l| l.status.name).collect(),
        Err(error) => return error_page(&pages, &session, error),
    };
    let resources = match pages.service.resources(query.clone()).await {
        Ok(page) => page,
        Err(error) => return error_page(&pages, &session, error),
    };
    let source = query.source.clone().unwrap_or_default();
    let kind = query.resource_type.clone().unwrap_or_default();
    let q = query.q.clone().unwrap_or_default();
    let parent = query.parent.clone().unwrap_or_default();
    let next_link = resources.next.as_ref().map(|next| {
        let mut link = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("source", &source),
            ("type", &kind),
            ("q", &q),
            ("parent", &parent),
        ] {
            if !value.is_empty() {
                link.append_pair(key, value);
            }
        }
        link.append_pair("after", next);
        format!("/resources?{}", link.finish())
    });
    let body = html! {
        h1 { "Resources" }
        form.filters method="get" action="/resources" {
            label for="r-source" { "Source" }
            select #r-source name="source" {
                option value="" { "All sources" }
                @for name in &sources { option value=(name) selected[*name == source] { (name) } }
            }
            label for="r-type" { "Type" }
            select #r-type name="type" {
                option value="" { "All types" }
                @for t in &resources.types { option value=(t) selected[*t == kind] { (t) } }
            }
            label for="r-q" { "Name" }
            input #r-q type="search" name="q" value=(q) placeholder="Search by name";
            @if !parent.is_empty() { input type="hidden" name="parent" value=(parent); }
            button type="submit" { "Search" }
        }
        @if !parent.is_empty() { p { "Inside " a href={ "/resources/" (parent) } { code { (parent) } } " · " a href="/resources" { "show all" } } }
        p.muted #total { (resources.total) " resources" }
        table.resources {
            thead { tr { th { "Name" } th { "Type" } th { "URI" } th { "Sponsors" } } }
            tbody {
                @for r in &resources.items {
                    tr {
                        td { a href={ "/resources/" (r.uri) } { (r.name) } }
                        td { span.type { (r.resource_type) } }
                        td { code { (r.uri) } }
                        td { (r.sponsors.join(", ")) }
                    }
                }
            }
        }
        @if let Some(link) = &next_link { p { a.button href=(link) { "Next page →" } } }
    };
    render(&pages, &session, StatusCode::OK, "Resources", body)
}

/// Whether `text` is a link a page may show: http or https, nothing else (no `javascript:`).
fn is_web_link(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(char::is_whitespace)
}

/// The web links among a resource's properties, by property name.
fn links_of(
    properties: &serde_json::Map<String, serde_json::Value>,
) -> BTreeMap<String, Vec<String>> {
    let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut visit = |key: &str, value: &serde_json::Value| {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::String(s) if is_web_link(s) => {
                    links.entry(key.to_owned()).or_default().push(s.clone());
                }
                serde_json::Value::Array(items) => stack.extend(items.iter()),
                serde_json::Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
    };
    for (key, value) in properties {
        visit(key, value);
    }
    links
}

async fn resource_page(
    State(pages): Shared,
    Extension(session): Extension<Session>,
    Path(uri): Path<String>,
) -> Response {
    let detail = match pages.service.resource(&uri).await {
        Ok(detail) => detail,
        Err(error) => return error_page(&pages, &session, error),
    };
    let r = &detail.resource;
    let links = links_of(&r.properties);
    let body = html! {
        h1 { (r.name) " " span.type { (r.resource_type) } }
        dl.card {
            dt { "URI" } dd { code { (r.uri) } }
            @if let Some(native) = &r.native_id { dt { "Native id" } dd { code { (native) } } }
            dt { "Parent" } dd { @match &r.parent_uri { Some(p) => { a href={ "/resources/" (p) } { code { (p) } } } None => { "—" } } }
            dt { "Contains" } dd { a href={ "/resources?parent=" (encode(&r.uri)) } { (detail.children) " resources" } }
            dt { "Sponsors" } dd { @for s in &r.sponsors { a href={ "/sources/" (encode(s)) } { (s) } " " } }
            dt { "First seen" } dd { (crate::inventory::format_timestamp(r.first_seen)) }
            dt { "Last seen" } dd { (crate::inventory::format_timestamp(r.last_seen)) }
        }
        @if !links.is_empty() {
            h2 { "External links" }
            ul.links {
                @for (key, urls) in &links { @for url in urls { li { a href=(url) rel="noopener noreferrer" target="_blank" { (url) } " " span.muted { (key) } } } }
            }
        }
        h2 { "Properties" }
        table.properties {
            tbody {
                @for (key, value) in &r.properties {
                    tr { th { (key) } td { code { (match value { serde_json::Value::String(s) => s.clone(), other => other.to_string() }) } } }
                }
            }
        }
        @if !r.relations.is_empty() {
            h2 { "Relations" }
            ul { @for rel in &r.relations { li { (rel.kind) " " code { (rel.target) } } } }
        }
    };
    render(&pages, &session, StatusCode::OK, &r.name, body)
}
