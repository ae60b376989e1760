//! A second built-in theme, deliberately different from Classic: monospace type, square
//! corners, heavy borders, high contrast, provider buttons first, a terminal-style title.

use gatehouse_plugin::{
    PluginError, RenderRequest, Rendered, TenantContext, TokenSet, Widget, WidgetInfo,
};
use gatehouse_widget_common as common;

pub struct Mono;

const SKIN: common::Skin = common::Skin {
    root_class: "gh-mono",
    css: include_str!("mono.css"),
    title_prefix: "<span class=\"gh-prompt\" aria-hidden=\"true\">&gt;&nbsp;</span>",
    providers_first: true,
};

impl Widget for Mono {
    fn describe() -> WidgetInfo {
        WidgetInfo {
            id: "mono".into(),
            name: "Mono".into(),
            description: "Monospace, high-contrast and square; external providers first.".into(),
            default_tokens: TokenSet {
                light: common::tokens(&[
                    ("background", "hsl(48 33% 97%)"),
                    ("foreground", "hsl(0 0% 5%)"),
                    ("card", "hsl(48 33% 97%)"),
                    ("card-foreground", "hsl(0 0% 5%)"),
                    ("primary", "hsl(0 0% 5%)"),
                    ("primary-foreground", "hsl(48 100% 60%)"),
                    ("muted", "hsl(48 20% 90%)"),
                    ("muted-foreground", "hsl(0 0% 30%)"),
                    ("accent", "hsl(48 100% 60%)"),
                    ("accent-foreground", "hsl(0 0% 5%)"),
                    ("destructive", "hsl(0 80% 42%)"),
                    ("destructive-foreground", "hsl(0 0% 100%)"),
                    ("border", "hsl(0 0% 5%)"),
                    ("input", "hsl(0 0% 5%)"),
                    ("ring", "hsl(220 90% 50%)"),
                    ("radius", "0px"),
                ]),
                dark: common::tokens(&[
                    ("background", "hsl(0 0% 4%)"),
                    ("foreground", "hsl(120 60% 80%)"),
                    ("card", "hsl(0 0% 4%)"),
                    ("card-foreground", "hsl(120 60% 80%)"),
                    ("primary", "hsl(120 60% 70%)"),
                    ("primary-foreground", "hsl(0 0% 4%)"),
                    ("muted", "hsl(0 0% 12%)"),
                    ("muted-foreground", "hsl(120 15% 65%)"),
                    ("accent", "hsl(120 60% 70%)"),
                    ("accent-foreground", "hsl(0 0% 4%)"),
                    ("destructive", "hsl(0 90% 65%)"),
                    ("destructive-foreground", "hsl(0 0% 4%)"),
                    ("border", "hsl(120 60% 70%)"),
                    ("input", "hsl(120 60% 70%)"),
                    ("ring", "hsl(48 100% 60%)"),
                    ("radius", "0px"),
                ]),
            },
            screens: common::screens(),
            default_strings: common::default_strings(),
        }
    }

    fn render(_ctx: &TenantContext, request: &RenderRequest) -> Result<Rendered, PluginError> {
        common::render(&SKIN, request)
    }
}

#[cfg(target_arch = "wasm32")]
gatehouse_plugin::export_widget!(Mono);
