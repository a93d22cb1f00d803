//! `docs/configuration.md` is generated from the configuration types (issue 19 point 6): every
//! key of `crates/inkan-server/src/config.rs`, its default (the embedded default configuration,
//! serialized) and its meaning (the field's doc comment). This test regenerates it and fails
//! when the file differs; `INKAN_WRITE_DOCS=1 cargo test -p inkan-server --test
//! configuration_doc` writes it.
#![allow(clippy::unwrap_used)]

use inkan_server::config::Config;
use quote::ToTokens as _;
use std::fmt::Write as _;
use std::path::PathBuf;

/// A documented item: its doc comment, and its fields (name, type, doc, default attribute).
struct Item {
    doc: String,
    fields: Vec<Field>,
}

struct Field {
    name: String,
    ty: String,
    doc: String,
    /// `#[serde(default…)]` is on the field.
    has_default: bool,
}

fn doc_of(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_owned()
}

fn has_serde_default(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("serde") && a.meta.to_token_stream().to_string().contains("default")
    })
}

fn fields_of(fields: &syn::Fields) -> Vec<Field> {
    fields
        .iter()
        .filter(|f| f.ident.is_some())
        .map(|f| Field {
            name: f.ident.as_ref().unwrap().to_string(),
            ty: f.ty.to_token_stream().to_string().replace(' ', ""),
            doc: doc_of(&f.attrs),
            has_default: has_serde_default(&f.attrs),
        })
        .collect()
}

/// A default value as TOML writes it, or what stands in for one.
fn default_text(value: Option<&toml::Value>, field: &Field) -> String {
    match value {
        Some(toml::Value::String(s)) if s.is_empty() => "`\"\"`".into(),
        Some(value) => format!("`{value}`"),
        None if field.ty.starts_with("Option<") => "none".into(),
        None if field.has_default => "none".into(),
        None => "**required**".into(),
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A table of `item`'s keys; with `declared_only`, a value of `defaults` counts only for a
/// field that declares a serde default (the others were given to make a loadable example).
fn table(out: &mut String, item: &Item, defaults: Option<&toml::Table>, declared_only: bool) {
    out.push_str("| key | default | meaning |\n|---|---|---|\n");
    for field in &item.fields {
        let value = defaults
            .and_then(|t| t.get(&field.name))
            .filter(|_| !declared_only || field.has_default);
        let default = default_text(value, field);
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            field.name,
            cell(&default),
            cell(&field.doc)
        );
    }
}

/// The `[device]` table of a configuration of that `kind` with only its required keys.
fn variant_defaults(kind: &str) -> Option<toml::Table> {
    let required = match kind {
        "pkcs11" => "module = \"m.so\"\ntoken_label = \"t\"\nuser_pin_env = \"P\"\n",
        _ => "",
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inkan.toml");
    let text = format!("environment = \"test\"\n[device]\nkind = \"{kind}\"\n{required}");
    std::fs::write(&path, text).unwrap();
    let config = Config::load(Some(&path), Vec::new()).ok()?;
    let mut table = toml::Value::try_from(&config)
        .ok()?
        .get("device")?
        .as_table()
        .cloned()?;
    // What the example set is no default.
    for given in ["module", "token_label", "user_pin_env"] {
        table.remove(given);
    }
    Some(table)
}

fn generate() -> String {
    let source =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/config.rs"))
            .unwrap();
    let file = syn::parse_file(&source).unwrap();
    let mut structs = std::collections::BTreeMap::new();
    let mut enums = std::collections::BTreeMap::new();
    for item in &file.items {
        match item {
            syn::Item::Struct(s) => {
                structs.insert(
                    s.ident.to_string(),
                    Item {
                        doc: doc_of(&s.attrs),
                        fields: fields_of(&s.fields),
                    },
                );
            }
            syn::Item::Enum(e) => {
                let variants: Vec<(String, Item)> = e
                    .variants
                    .iter()
                    .map(|v| {
                        (
                            v.ident.to_string().to_lowercase(),
                            Item {
                                doc: doc_of(&v.attrs),
                                fields: fields_of(&v.fields),
                            },
                        )
                    })
                    .collect();
                enums.insert(e.ident.to_string(), (doc_of(&e.attrs), variants));
            }
            _ => {}
        }
    }
    let config = Config::load(None, Vec::new()).unwrap();
    let defaults = toml::Value::try_from(&config).unwrap();
    let defaults = defaults.as_table().unwrap();
    let top = &structs["Config"];

    let mut out = String::new();
    out.push_str(
        "# Configuration reference\n\n\
         Generated from `crates/inkan-server/src/config.rs` (its doc comments) and the embedded \
         default configuration by `crates/inkan-server/tests/configuration_doc.rs`, which fails \
         when this file is out of date (`INKAN_WRITE_DOCS=1 cargo test -p inkan-server --test \
         configuration_doc` rewrites it). Do not edit by hand.\n\n\
         A configuration is a TOML file (`inkan --config FILE`, or `INKAN_CONFIG`). Without a \
         file Inkan runs on the embedded default below, in environment `test`; a file must name \
         its `environment`. Any key can be set from the environment as \
         `INKAN_<SECTION>__<KEY>` (two underscores; `INKAN_ENVIRONMENT` and \
         `INKAN_ALLOW_SOFTWARE_DEVICE_IN_PRODUCTION` at the top level); other `INKAN_` \
         variables are not configuration. `inkan config check [FILE]` shows the effective \
         configuration, every default filled in, and its digest. A value that does not fit is \
         named by the file's line and column, or by the variable. Defaults are those of the \
         embedded default; paths are relative to the folder Inkan runs in.\n\n",
    );
    out.push_str("## Top level\n\n");
    let scalar_fields: Vec<Field> = top
        .fields
        .iter()
        .filter(|f| !structs.contains_key(&f.ty) && !enums.contains_key(&f.ty))
        .filter(|f| !f.ty.starts_with("Vec<"))
        .map(|f| Field {
            name: f.name.clone(),
            ty: f.ty.clone(),
            doc: f.doc.clone(),
            has_default: f.has_default,
        })
        .collect();
    let mut top_defaults = defaults.clone();
    top_defaults.insert("environment".into(), "test".into());
    table(
        &mut out,
        &Item {
            doc: String::new(),
            fields: scalar_fields,
        },
        Some(&top_defaults),
        false,
    );
    for field in &top.fields {
        let section_defaults = defaults.get(&field.name).and_then(toml::Value::as_table);
        if let Some(item) = structs.get(&field.ty) {
            let _ = write!(out, "\n## `[{}]`\n\n{}\n\n", field.name, item.doc);
            table(&mut out, item, section_defaults, false);
        } else if let Some((doc, variants)) = enums.get(&field.ty) {
            let _ = write!(out, "\n## `[{}]`\n\n{doc}\n\n", field.name);
            for (name, variant) in variants {
                let _ = write!(out, "\n### `kind = \"{name}\"`\n\n{}\n\n", variant.doc);
                // The embedded default is one kind; another kind's defaults come from loading a
                // configuration that names only what that kind requires.
                let example = variant_defaults(name);
                let (defaults, declared_only) = match section_defaults {
                    Some(t) if t.get("kind").and_then(|k| k.as_str()) == Some(name.as_str()) => {
                        (Some(t.clone()), false)
                    }
                    _ => (example, true),
                };
                table(&mut out, variant, defaults.as_ref(), declared_only);
            }
        } else if let Some(inner) = field
            .ty
            .strip_prefix("Vec<")
            .and_then(|t| t.strip_suffix('>'))
            .and_then(|t| structs.get(t))
        {
            let _ = write!(
                out,
                "\n## `[[{}]]`\n\n{}\n\nNone by default; each entry:\n\n",
                field.name, inner.doc
            );
            table(&mut out, inner, None, false);
        }
    }
    out
}

#[test]
fn the_configuration_reference_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let generated = generate();
    if std::env::var_os("INKAN_WRITE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == generated,
        "docs/configuration.md is out of date: run `INKAN_WRITE_DOCS=1 cargo test -p \
         inkan-server --test configuration_doc`"
    );
    // Every key of every section is in it.
    for key in [
        "listen",
        "checkpoint_every_entries",
        "retention_days",
        "token_label",
    ] {
        assert!(generated.contains(&format!("| `{key}` |")), "{key}");
    }
}
