//! The raw `wit-bindgen` output, one module per world. Private: authors use the traits in the
//! crate root. `gatehouse:types` is generated once (`types`) and shared by the three worlds so
//! that `FieldError`, `PluginError`, … are one Rust type each.

pub mod types {
    wit_bindgen::generate!({
        inline: "
            package gatehouse:sdk-types;
            world types {
                import gatehouse:types/types@0.1.0;
                import gatehouse:types/log@0.1.0;
            }
        ",
        path: ["../wit/since_v0.1.0/types.wit"],
        world: "gatehouse:sdk-types/types",
        generate_all,
        generate_unused_types: true,
        runtime_path: "::gatehouse_plugin::__private::wit_bindgen::rt",
        type_section_suffix: "gatehouse-types",
    });
}

pub mod provider {
    wit_bindgen::generate!({
        path: ["../wit/since_v0.1.0/types.wit", "../wit/since_v0.1.0/provider.wit"],
        world: "gatehouse:provider/provider-plugin@0.1.0",
        with: {
            "gatehouse:types/types@0.1.0": crate::bindings::types::gatehouse::types::types,
            "gatehouse:types/log@0.1.0": crate::bindings::types::gatehouse::types::log,
        },
        runtime_path: "::gatehouse_plugin::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_provider_raw",
        default_bindings_module: "::gatehouse_plugin::__private::provider",
    });
}

pub mod widget {
    wit_bindgen::generate!({
        path: ["../wit/since_v0.1.0/types.wit", "../wit/since_v0.1.0/widget.wit"],
        world: "gatehouse:widget/widget-plugin@0.1.0",
        with: {
            "gatehouse:types/types@0.1.0": crate::bindings::types::gatehouse::types::types,
            "gatehouse:types/log@0.1.0": crate::bindings::types::gatehouse::types::log,
        },
        runtime_path: "::gatehouse_plugin::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_widget_raw",
        default_bindings_module: "::gatehouse_plugin::__private::widget",
    });
}

pub mod webhook {
    wit_bindgen::generate!({
        path: ["../wit/since_v0.1.0/types.wit", "../wit/since_v0.1.0/webhook.wit"],
        world: "gatehouse:webhook/webhook-plugin@0.1.0",
        with: {
            "gatehouse:types/types@0.1.0": crate::bindings::types::gatehouse::types::types,
            "gatehouse:types/log@0.1.0": crate::bindings::types::gatehouse::types::log,
        },
        runtime_path: "::gatehouse_plugin::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_webhook_raw",
        default_bindings_module: "::gatehouse_plugin::__private::webhook",
    });
}
