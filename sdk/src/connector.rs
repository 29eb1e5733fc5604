//! The [`Connector`] trait a connector implements, the [`export!`](crate::export) macro that
//! makes it the component's export, and the glue between them.
//!
//! The glue (`run_check`, `run_discover`) builds the [`Config`], the [`Context`] and the
//! [`Run`] from the contract's arguments, calls the connector, and turns what the context counted
//! into the `discover-summary`, so the summary's counts always match what was emitted and sent.
//! The same glue runs inside the component (with the `wasi:http` and host ports) and in the
//! native test harness (with fakes).

use std::rc::Rc;

use crate::config::Config;
use crate::context::{Context, Phase, Run};
use crate::http::{Client, HttpOptions, Service};
use crate::ports::{Clock, Host, Transport};
use crate::types::{ConfigEntry, ConnectorError, ConnectorSpec, DiscoverSummary, RunContext};

/// A source connector. Implement it on a unit struct and export it with
/// [`export!`](crate::export).
///
/// Each call gets a fresh component instance, so the methods are associated functions: what a
/// call needs lives in its arguments.
pub trait Connector {
    /// Describes the connector: identity, settings, resource types, base-URL field and
    /// credential scheme. Must not touch the network, and answers the same every time. Build it
    /// with [`ConnectorSpec::new`] and its builder methods.
    fn spec() -> ConnectorSpec;

    /// Verifies that the source answers and the credential works, with as few requests as
    /// possible (one small page, typically), and returns one line for a person.
    ///
    /// There is no default: only the connector knows which request is cheap and proves that the
    /// credential can read what `discover` reads, and a check that does nothing would pass a
    /// broken source.
    fn check(config: &Config, cx: &mut Context) -> Result<String, ConnectorError>;

    /// Discovers every resource of the source, emitting each with [`Context::emit`]. The SDK
    /// flushes the last batch and builds the summary when this returns `Ok`.
    fn discover(config: &Config, run: &Run, cx: &mut Context) -> Result<(), ConnectorError>;

    /// How the HTTP client behaves for this config. By default
    /// [`HttpOptions::from_config`]: the base URL from the spec's base-URL field, and the
    /// settings of [`spec::fields`](crate::spec::fields) the spec declares. Override it to set
    /// another trace header, page cap or a fixed throttle.
    fn http_options(config: &Config) -> Result<HttpOptions, ConnectorError> {
        HttpOptions::from_config(config)
    }
}

/// What a call reaches the outside through: inside the component, `wasi:http`, the system
/// clock and the host's imports; in the `testing` harness, fakes.
pub struct Ports {
    /// Sends HTTP requests.
    pub transport: Box<dyn Transport>,
    /// Tells and passes time.
    pub clock: Box<dyn Clock>,
    /// Receives emitted resources, log lines, progress, waits and the checkpoint.
    pub host: Rc<dyn Host>,
}

fn context<C: Connector>(
    spec: &ConnectorSpec,
    config: &Config,
    ports: Ports,
    phase: Phase,
) -> Result<Context, ConnectorError> {
    let options = C::http_options(config)?;
    let client = Client::new(
        options,
        Service::of(spec),
        ports.transport,
        ports.clock,
        Rc::clone(&ports.host),
    );
    Ok(Context::new(client, ports.host, phase))
}

/// Runs `C`'s `check` on the contract's arguments, through `ports`. The component's export
/// calls it with the sandbox's ports; the `testing` harness with fakes.
pub fn run_check<C: Connector>(
    entries: Vec<ConfigEntry>,
    ports: Ports,
) -> Result<String, ConnectorError> {
    let spec = C::spec();
    let config = Config::new(entries, &spec);
    let mut cx = context::<C>(&spec, &config, ports, Phase::Check)?;
    C::check(&config, &mut cx)
}

/// Runs `C`'s `discover` on the contract's arguments, through `ports`: the connector's work,
/// then the last batch and the summary.
pub fn run_discover<C: Connector>(
    entries: Vec<ConfigEntry>,
    run: RunContext,
    ports: Ports,
) -> Result<DiscoverSummary, ConnectorError> {
    let spec = C::spec();
    let config = Config::new(entries, &spec);
    let run = Run::new(run, Rc::clone(&ports.host));
    let mut cx = context::<C>(&spec, &config, ports, Phase::Discover)?;
    C::discover(&config, &run, &mut cx)?;
    let (emitted, requests, request_counts) = cx.finish();
    Ok(DiscoverSummary {
        emitted,
        requests,
        request_counts,
    })
}

/// The component's exports, called by the code [`export!`](crate::export) expands to.
#[cfg(target_arch = "wasm32")]
pub mod exports {
    use super::{Connector, run_check, run_discover};
    use crate::platform;
    use crate::types::{ConfigEntry, ConnectorError, ConnectorSpec, DiscoverSummary, RunContext};

    /// `spec`.
    pub fn spec<C: Connector>() -> ConnectorSpec {
        C::spec()
    }

    /// `check`.
    pub fn check<C: Connector>(config: Vec<ConfigEntry>) -> Result<String, ConnectorError> {
        run_check::<C>(config, platform::ports())
    }

    /// `discover`.
    pub fn discover<C: Connector>(
        config: Vec<ConfigEntry>,
        context: RunContext,
    ) -> Result<DiscoverSummary, ConnectorError> {
        run_discover::<C>(config, context, platform::ports())
    }
}

/// Makes a [`Connector`] the component's implementation of `euno:connector/connector@0.2.0`.
///
/// Write it once, at the top level of the connector's crate (a `cdylib` built for
/// `wasm32-wasip2`), e.g. `euno_connector_sdk::export!(Bookshelf);` as in the crate-level quick
/// start. On other targets it expands to nothing, so the crate also builds and unit-tests
/// natively.
#[macro_export]
macro_rules! export {
    ($connector:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct EunoConnectorComponent;

            impl $crate::__private::Guest for EunoConnectorComponent {
                fn spec() -> $crate::types::ConnectorSpec {
                    $crate::__private::exports::spec::<$connector>()
                }

                fn check(
                    config: ::std::vec::Vec<$crate::types::ConfigEntry>,
                ) -> ::std::result::Result<::std::string::String, $crate::types::ConnectorError>
                {
                    $crate::__private::exports::check::<$connector>(config)
                }

                fn discover(
                    config: ::std::vec::Vec<$crate::types::ConfigEntry>,
                    context: $crate::types::RunContext,
                ) -> ::std::result::Result<
                    $crate::types::DiscoverSummary,
                    $crate::types::ConnectorError,
                > {
                    $crate::__private::exports::discover::<$connector>(config, context)
                }
            }

            $crate::__private::bindings::__export_source_connector!(
                EunoConnectorComponent with_types_in $crate::__private::bindings
            );
        };
    };
}
