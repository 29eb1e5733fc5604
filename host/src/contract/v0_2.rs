//! `euno:connector@0.2.0`: the bindings generated from `wit/v0.2.0/connector.wit`, and the
//! conversions between them and the host's types in both directions.
//!
//! Like [`super::v0_1`], this is the only module that names its generated types, and every
//! conversion moves the fields it is given. 0.2 is the shape the host's types follow, so each
//! conversion is one-to-one.

use std::marker::PhantomData;

use wasmtime::Store;
use wasmtime::component::{HasData, InstancePre, Linker};

use super::types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, CredentialScheme, DiscoverSummary,
    FieldKind, HostImports, InvalidConfigError, LogLevel, Property, PropertyValue,
    RateLimitedError, Relation, Relations, RequestCount, Resource, RunContext, SettingValue,
    UpstreamError, WaitReason,
};

/// The generated bindings: private, so that nothing outside this module names them.
mod generated {
    wasmtime::component::bindgen!({
        world: "source-connector",
        path: "../wit/v0.2.0",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

use generated::euno::connector::types as wit;

/// The interface a component must export for this version.
pub const INTERFACE: &str = "euno:connector/connector@0.2.0";

/// The store's data seen through the 0.2 `host` interface.
struct Imports<'a, T>(&'a mut T);

/// [`HasData`] for [`Imports`].
struct ImportsOf<T>(PhantomData<T>);

impl<T: 'static> HasData for ImportsOf<T> {
    type Data<'a> = Imports<'a, T>;
}

impl<T: Send> wit::Host for Imports<'_, T> {}

impl<T: HostImports> generated::euno::connector::host::Host for Imports<'_, T> {
    fn emit(&mut self, batch: Vec<wit::Resource>) -> wasmtime::Result<()> {
        self.0.emit(batch.into_iter().map(Resource::from).collect())
    }

    fn log(&mut self, level: wit::LogLevel, message: String) -> wasmtime::Result<()> {
        self.0.log(level.into(), message);
        Ok(())
    }

    fn progress(&mut self, done: u64, total: Option<u64>) -> wasmtime::Result<()> {
        self.0.progress(done, total);
        Ok(())
    }

    fn waiting(&mut self, reason: wit::WaitReason, duration_ms: u64) -> wasmtime::Result<()> {
        self.0.waiting(reason.into(), duration_ms);
        Ok(())
    }

    fn save_checkpoint(&mut self, checkpoint: Vec<u8>) -> wasmtime::Result<()> {
        self.0.save_checkpoint(checkpoint)
    }
}

/// Adds the 0.2 `host` interface, served by the store's [`HostImports`], to `linker`.
pub fn add_to_linker<T: HostImports + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    generated::euno::connector::host::add_to_linker::<T, ImportsOf<T>>(linker, |state| {
        Imports(state)
    })
}

/// A component that implements `euno:connector@0.2.0`, linked and ready to instantiate.
pub struct Linked<T: 'static>(generated::SourceConnectorPre<T>);

impl<T: 'static> Clone for Linked<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Send + 'static> Linked<T> {
    /// The component behind `pre`, if it exports this version's interface.
    pub fn new(pre: InstancePre<T>) -> wasmtime::Result<Self> {
        generated::SourceConnectorPre::new(pre).map(Self)
    }

    /// Instantiates the component in `store` and calls `spec`.
    pub async fn spec(&self, store: &mut Store<T>) -> wasmtime::Result<ConnectorSpec> {
        let bindings = self.0.instantiate_async(&mut *store).await?;
        let spec = bindings
            .euno_connector_connector()
            .call_spec(&mut *store)
            .await?;
        Ok(spec.into())
    }

    /// Instantiates the component in `store` and calls `check`.
    pub async fn check(
        &self,
        store: &mut Store<T>,
        config: Vec<ConfigEntry>,
    ) -> wasmtime::Result<Result<String, ConnectorError>> {
        let config: Vec<wit::ConfigEntry> = config.into_iter().map(Into::into).collect();
        let bindings = self.0.instantiate_async(&mut *store).await?;
        let answer = bindings
            .euno_connector_connector()
            .call_check(&mut *store, &config)
            .await?;
        Ok(answer.map_err(Into::into))
    }

    /// Instantiates the component in `store` and calls `discover`.
    pub async fn discover(
        &self,
        store: &mut Store<T>,
        config: Vec<ConfigEntry>,
        context: RunContext,
    ) -> wasmtime::Result<Result<DiscoverSummary, ConnectorError>> {
        let config: Vec<wit::ConfigEntry> = config.into_iter().map(Into::into).collect();
        let context = wit::RunContext::from(context);
        let bindings = self.0.instantiate_async(&mut *store).await?;
        let summary = bindings
            .euno_connector_connector()
            .call_discover(&mut *store, &config, &context)
            .await?;
        Ok(summary.map(Into::into).map_err(Into::into))
    }
}

impl From<wit::FieldKind> for FieldKind {
    fn from(kind: wit::FieldKind) -> Self {
        match kind {
            wit::FieldKind::Text => Self::Text,
            wit::FieldKind::Integer => Self::Integer,
            wit::FieldKind::Boolean => Self::Boolean,
            wit::FieldKind::Url => Self::Url,
            wit::FieldKind::Choice(values) => Self::Choice(values),
            wit::FieldKind::TextList => Self::TextList,
        }
    }
}

impl From<wit::SettingValue> for SettingValue {
    fn from(value: wit::SettingValue) -> Self {
        match value {
            wit::SettingValue::Text(text) => Self::Text(text),
            wit::SettingValue::Integer(i) => Self::Integer(i),
            wit::SettingValue::Boolean(b) => Self::Boolean(b),
            wit::SettingValue::TextList(items) => Self::TextList(items),
        }
    }
}

impl From<SettingValue> for wit::SettingValue {
    fn from(value: SettingValue) -> Self {
        match value {
            SettingValue::Text(text) => Self::Text(text),
            SettingValue::Integer(i) => Self::Integer(i),
            SettingValue::Boolean(b) => Self::Boolean(b),
            SettingValue::TextList(items) => Self::TextList(items),
        }
    }
}

impl From<wit::ConfigField> for ConfigField {
    fn from(field: wit::ConfigField) -> Self {
        Self {
            name: field.name,
            label: field.label,
            description: field.description,
            kind: field.kind.into(),
            required: field.required,
            secret: field.secret,
            default_value: field.default_value.map(Into::into),
        }
    }
}

impl From<wit::CredentialScheme> for CredentialScheme {
    fn from(scheme: wit::CredentialScheme) -> Self {
        match scheme {
            wit::CredentialScheme::Bearer(secret) => Self::Bearer(secret),
            wit::CredentialScheme::Header(h) => Self::Header {
                header: h.header,
                prefix: h.prefix,
                secret: h.secret,
            },
            wit::CredentialScheme::Basic(b) => Self::Basic {
                username: b.username,
                password: b.password,
            },
            wit::CredentialScheme::Query(q) => Self::Query {
                parameter: q.parameter,
                secret: q.secret,
            },
        }
    }
}

impl From<wit::ConnectorSpec> for ConnectorSpec {
    fn from(spec: wit::ConnectorSpec) -> Self {
        Self {
            id: spec.id,
            display_name: spec.display_name,
            version: spec.version,
            description: spec.description,
            fields: spec.fields.into_iter().map(Into::into).collect(),
            resource_types: spec.resource_types,
            external_namespaces: spec.external_namespaces,
            base_url_field: spec.base_url_field,
            credential: spec.credential.map(Into::into),
        }
    }
}

impl From<ConfigEntry> for wit::ConfigEntry {
    fn from(entry: ConfigEntry) -> Self {
        Self {
            name: entry.name,
            value: entry.value.into(),
        }
    }
}

impl From<RunContext> for wit::RunContext {
    fn from(context: RunContext) -> Self {
        Self {
            run_id: context.run_id,
            source_name: context.source_name,
            started_at: context.started_at,
            checkpoint: context.checkpoint,
            last_success_at: context.last_success_at,
        }
    }
}

impl From<wit::PropertyValue> for PropertyValue {
    fn from(value: wit::PropertyValue) -> Self {
        match value {
            wit::PropertyValue::Null => Self::Null,
            wit::PropertyValue::Text(text) => Self::Text(text),
            wit::PropertyValue::Integer(i) => Self::Integer(i),
            wit::PropertyValue::Boolean(b) => Self::Boolean(b),
            wit::PropertyValue::Timestamp(ms) => Self::Timestamp(ms),
            wit::PropertyValue::TextList(items) => Self::TextList(items),
        }
    }
}

impl From<wit::Property> for Property {
    fn from(property: wit::Property) -> Self {
        Self {
            name: property.name,
            value: property.value.into(),
        }
    }
}

impl From<wit::Relations> for Relations {
    fn from(relations: wit::Relations) -> Self {
        match relations {
            wit::Relations::Set(list) => Self::Set(
                list.into_iter()
                    .map(|r| Relation {
                        kind: r.kind,
                        target: r.target,
                    })
                    .collect(),
            ),
            wit::Relations::Unchanged => Self::Unchanged,
        }
    }
}

impl From<wit::Resource> for Resource {
    fn from(resource: wit::Resource) -> Self {
        Self {
            uri: resource.uri,
            resource_type: resource.resource_type,
            name: resource.name,
            parent_uri: resource.parent_uri,
            native_id: resource.native_id,
            properties: resource.properties.into_iter().map(Into::into).collect(),
            relations: resource.relations.into(),
        }
    }
}

impl From<wit::ConnectorError> for ConnectorError {
    fn from(error: wit::ConnectorError) -> Self {
        match error {
            wit::ConnectorError::InvalidConfig(e) => Self::InvalidConfig(InvalidConfigError {
                field: e.field,
                message: e.message,
            }),
            wit::ConnectorError::Unauthorized(m) => Self::Unauthorized(m),
            wit::ConnectorError::Forbidden(m) => Self::Forbidden(m),
            wit::ConnectorError::NotFound(m) => Self::NotFound(m),
            wit::ConnectorError::RateLimited(e) => Self::RateLimited(RateLimitedError {
                message: e.message,
                retry_after_seconds: e.retry_after_seconds,
            }),
            wit::ConnectorError::Upstream(e) => Self::Upstream(UpstreamError {
                status: e.status,
                message: e.message,
                trace_id: e.trace_id,
            }),
            wit::ConnectorError::MalformedResponse(m) => Self::MalformedResponse(m),
            wit::ConnectorError::Network(m) => Self::Network(m),
        }
    }
}

impl From<wit::DiscoverSummary> for DiscoverSummary {
    fn from(summary: wit::DiscoverSummary) -> Self {
        Self {
            emitted: summary.emitted,
            requests: summary.requests,
            request_counts: summary
                .request_counts
                .into_iter()
                .map(|c| RequestCount {
                    kind: c.kind,
                    count: c.count,
                })
                .collect(),
        }
    }
}

impl From<wit::LogLevel> for LogLevel {
    fn from(level: wit::LogLevel) -> Self {
        match level {
            wit::LogLevel::Trace => Self::Trace,
            wit::LogLevel::Debug => Self::Debug,
            wit::LogLevel::Info => Self::Info,
            wit::LogLevel::Warn => Self::Warn,
            wit::LogLevel::Error => Self::Error,
        }
    }
}

impl From<wit::WaitReason> for WaitReason {
    fn from(reason: wit::WaitReason) -> Self {
        match reason {
            wit::WaitReason::Throttle => Self::Throttle,
            wit::WaitReason::RetryAfter => Self::RetryAfter,
            wit::WaitReason::Backoff => Self::Backoff,
        }
    }
}
