//! The code generated from `wit/v0.2.0`: the one place where the SDK meets the contract.
//!
//! Not part of a connector author's surface: [`crate::types`] re-exports the contract's types item
//! by item, and [`crate::export!`] wires the generated `Guest` trait to the author's
//! [`Connector`](crate::Connector). The export macro is generated `pub` so that it expands in the
//! author's crate, where the component's exported functions must be defined to be linked.

wit_bindgen::generate!({
    world: "source-connector",
    path: "../wit/v0.2.0",
    // The world imports `wasi:http`; the SDK's HTTP client talks to it directly.
    generate_all,
    // Tests compare resources, errors and settings with `assert_eq!`.
    additional_derives: [PartialEq],
    // wasi:io's stream error holds a resource handle, which has no `PartialEq`.
    additional_derives_ignore: ["stream-error"],
    export_macro_name: "__export_source_connector",
    pub_export_macro: true,
    default_bindings_module: "::euno_connector_sdk::__private::bindings",
});
