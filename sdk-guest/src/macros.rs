//! The export macros. Each one implements the hidden generated `Guest` trait for a private
//! struct that forwards to the author's trait impl, exports it, and stamps the WIT version into
//! the `gatehouse:wit-version` custom section (read by the host before instantiating).

/// Exports a [`Provider`](crate::Provider) implementation as the component's provider world.
#[macro_export]
macro_rules! export_provider {
    ($plugin:ty) => {
        const _: () = {
            struct __GatehouseExport;

            impl $crate::__private::provider::exports::gatehouse::provider::provider::Guest
                for __GatehouseExport
            {
                fn describe() -> $crate::ProviderInfo {
                    <$plugin as $crate::Provider>::describe()
                }

                fn validate(
                    ctx: $crate::TenantContext,
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), $crate::PluginError> {
                    let config = $crate::__private::config(&config)?;
                    <$plugin as $crate::Provider>::validate(&ctx, &config)
                }

                fn redirect_uris(
                    ctx: $crate::TenantContext,
                    config: ::std::string::String,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::string::String>,
                    $crate::PluginError,
                > {
                    let config = $crate::__private::config(&config)?;
                    <$plugin as $crate::Provider>::redirect_uris(&ctx, &config)
                }

                fn egress(
                    config: ::std::string::String,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::EgressHost>, $crate::PluginError>
                {
                    let config = $crate::__private::config(&config)?;
                    <$plugin as $crate::Provider>::egress(&config)
                }

                fn zitadel_idp(
                    ctx: $crate::TenantContext,
                    config: ::std::string::String,
                    existing_id: ::std::option::Option<::std::string::String>,
                ) -> ::std::result::Result<$crate::ZitadelRequest, $crate::PluginError> {
                    let config = $crate::__private::config(&config)?;
                    <$plugin as $crate::Provider>::zitadel_idp(
                        &ctx,
                        &config,
                        existing_id.as_deref(),
                    )
                }
            }

            $crate::__private::provider::export_provider_raw!(
                __GatehouseExport with_types_in $crate::__private::provider
            );

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "gatehouse:wit-version")]
            #[used]
            static __GATEHOUSE_WIT_VERSION: [u8; $crate::__private::PROVIDER_STAMP.len()] =
                $crate::__private::PROVIDER_STAMP;
        };
    };
}

/// Exports a [`Widget`](crate::Widget) implementation as the component's widget world.
#[macro_export]
macro_rules! export_widget {
    ($plugin:ty) => {
        const _: () = {
            struct __GatehouseExport;

            impl $crate::__private::widget::exports::gatehouse::widget::widget::Guest
                for __GatehouseExport
            {
                fn describe() -> $crate::WidgetInfo {
                    <$plugin as $crate::Widget>::describe()
                }

                fn render(
                    ctx: $crate::TenantContext,
                    request: $crate::RenderRequest,
                ) -> ::std::result::Result<$crate::Rendered, $crate::PluginError> {
                    <$plugin as $crate::Widget>::render(&ctx, &request)
                }
            }

            $crate::__private::widget::export_widget_raw!(
                __GatehouseExport with_types_in $crate::__private::widget
            );

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "gatehouse:wit-version")]
            #[used]
            static __GATEHOUSE_WIT_VERSION: [u8; $crate::__private::WIDGET_STAMP.len()] =
                $crate::__private::WIDGET_STAMP;
        };
    };
}

/// Exports a [`Webhook`](crate::Webhook) implementation as the component's webhook world.
#[macro_export]
macro_rules! export_webhook {
    ($plugin:ty) => {
        const _: () = {
            struct __GatehouseExport;

            impl $crate::__private::webhook::exports::gatehouse::webhook::transformer::Guest
                for __GatehouseExport
            {
                fn describe() -> $crate::WebhookInfo {
                    <$plugin as $crate::Webhook>::describe()
                }

                fn transform(
                    event: ::std::string::String,
                    config: ::std::string::String,
                ) -> ::std::result::Result<$crate::Outcome, $crate::PluginError> {
                    let config = $crate::__private::config(&config)?;
                    <$plugin as $crate::Webhook>::transform(&event, &config)
                }
            }

            $crate::__private::webhook::export_webhook_raw!(
                __GatehouseExport with_types_in $crate::__private::webhook
            );

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "gatehouse:wit-version")]
            #[used]
            static __GATEHOUSE_WIT_VERSION: [u8; $crate::__private::WEBHOOK_STAMP.len()] =
                $crate::__private::WEBHOOK_STAMP;
        };
    };
}
