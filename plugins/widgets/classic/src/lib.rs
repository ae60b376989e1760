//! The default login theme: a centered card in the shadcn style (neutral palette, 0.5rem
//! radius, focus rings), light and dark, no external fonts or images.

use gatehouse_plugin::{
    PluginError, RenderRequest, Rendered, TenantContext, TokenSet, Widget, WidgetInfo,
};
use gatehouse_widget_common as common;

pub struct Classic;

const SKIN: common::Skin = common::Skin {
    root_class: "gh-classic",
    css: include_str!("classic.css"),
    title_prefix: "",
    providers_first: false,
};

impl Widget for Classic {
    fn describe() -> WidgetInfo {
        WidgetInfo {
            id: "classic".into(),
            name: "Classic".into(),
            description: "Clean, accessible card with light and dark modes (the default).".into(),
            default_tokens: TokenSet {
                light: common::tokens(&[
                    ("background", "hsl(0 0% 100%)"),
                    ("foreground", "hsl(240 10% 3.9%)"),
                    ("card", "hsl(0 0% 100%)"),
                    ("card-foreground", "hsl(240 10% 3.9%)"),
                    ("primary", "hsl(240 5.9% 10%)"),
                    ("primary-foreground", "hsl(0 0% 98%)"),
                    ("muted", "hsl(240 4.8% 95.9%)"),
                    ("muted-foreground", "hsl(240 3.8% 46.1%)"),
                    ("accent", "hsl(240 4.8% 95.9%)"),
                    ("accent-foreground", "hsl(240 5.9% 10%)"),
                    ("destructive", "hsl(0 72% 51%)"),
                    ("destructive-foreground", "hsl(0 0% 98%)"),
                    ("border", "hsl(240 5.9% 90%)"),
                    ("input", "hsl(240 5.9% 90%)"),
                    ("ring", "hsl(240 5.9% 10%)"),
                    ("radius", "0.5rem"),
                ]),
                dark: common::tokens(&[
                    ("background", "hsl(240 10% 3.9%)"),
                    ("foreground", "hsl(0 0% 98%)"),
                    ("card", "hsl(240 10% 5.9%)"),
                    ("card-foreground", "hsl(0 0% 98%)"),
                    ("primary", "hsl(0 0% 98%)"),
                    ("primary-foreground", "hsl(240 5.9% 10%)"),
                    ("muted", "hsl(240 3.7% 15.9%)"),
                    ("muted-foreground", "hsl(240 5% 64.9%)"),
                    ("accent", "hsl(240 3.7% 15.9%)"),
                    ("accent-foreground", "hsl(0 0% 98%)"),
                    ("destructive", "hsl(0 62.8% 50%)"),
                    ("destructive-foreground", "hsl(0 0% 98%)"),
                    ("border", "hsl(240 3.7% 15.9%)"),
                    ("input", "hsl(240 3.7% 15.9%)"),
                    ("ring", "hsl(240 4.9% 83.9%)"),
                    ("radius", "0.5rem"),
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
gatehouse_plugin::export_widget!(Classic);
