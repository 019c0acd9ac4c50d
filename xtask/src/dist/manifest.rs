//! Rendering krew manifests: the source manifests in `krew-manifests/` get each platform's `uri` and
//! `sha256` (and `spec.version`) filled in; everything else, comments included, is kept as written.
//!
//! The rewrite is line-based so that a rendered manifest reads like its source, and it is checked by
//! parsing the result: a source layout the renderer does not understand is an error, never a manifest
//! with a wrong hash.

use anyhow::{Context, anyhow, bail, ensure};
use serde_yaml::Value;

/// What rendering needs to know about a platform of the source manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub bin: String,
}

/// A platform's release artifact: where krew downloads it and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub uri: String,
    pub sha256: String,
}

/// Reads the platforms of a source manifest, in order. Each must select exactly one os/arch pair with
/// `matchLabels`, since that pair names the archive.
pub fn platforms(text: &str) -> anyhow::Result<Vec<Platform>> {
    let doc: Value = serde_yaml::from_str(text).context("parsing the manifest as YAML")?;
    let list = doc
        .get("spec")
        .and_then(|s| s.get("platforms"))
        .and_then(Value::as_sequence)
        .ok_or_else(|| anyhow!("spec.platforms is missing or not a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let label = |key: &str| {
                p.get("selector")
                    .and_then(|s| s.get("matchLabels"))
                    .and_then(|m| m.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("spec.platforms[{i}].selector.matchLabels.{key} is missing"))
            };
            let bin = p
                .get("bin")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| anyhow!("spec.platforms[{i}].bin is missing"))?;
            Ok(Platform { os: label("os")?, arch: label("arch")?, bin })
        })
        .collect()
}

/// Renders `source` for `version` (`v1.2.3`): platform `i` gets `artifacts[i]`'s uri and sha256, and
/// platforms without an artifact (not built anywhere yet) are left out.
pub fn render(source: &str, version: &str, artifacts: &[Option<Artifact>]) -> anyhow::Result<String> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let layout = Layout::find(&lines)?;
    ensure!(
        layout.items.len() == artifacts.len(),
        "found {} platform entries in the text but {} platforms were given",
        layout.items.len(),
        artifacts.len()
    );
    ensure!(artifacts.iter().any(Option::is_some), "no platform has an archive");

    let mut out = String::with_capacity(source.len());
    let mut version_done = false;
    for line in &lines[..layout.list_start] {
        if !version_done && indent(line) > 0 && key_of(line) == Some("version") {
            out.push_str(&replace_value(line, version));
            version_done = true;
        } else {
            out.push_str(line);
        }
    }
    ensure!(version_done, "spec.version is missing (it must come before spec.platforms)");
    for (range, artifact) in layout.items.iter().zip(artifacts) {
        let Some(artifact) = artifact else { continue };
        let item = &lines[range.clone()];
        let item_indent = indent(item[0]) + 2;
        let mut uri = 0;
        let mut sha = 0;
        for line in item {
            let at_item_level = indent(line) == item_indent || line.trim_start().starts_with("- ");
            match key_of(line) {
                Some("uri") if at_item_level => {
                    out.push_str(&replace_value(line, &artifact.uri));
                    uri += 1;
                }
                Some("sha256") if at_item_level => {
                    // Always quoted: an all-digit (or all-zero) digest would otherwise read as a number,
                    // which krew's validator rejects.
                    out.push_str(&replace_value_quoted(line, &artifact.sha256));
                    sha += 1;
                }
                _ => out.push_str(line),
            }
        }
        ensure!(uri == 1 && sha == 1, "each platform needs exactly one `uri:` and one `sha256:` line");
    }
    for line in &lines[layout.list_end..] {
        out.push_str(line);
    }
    check(&out, version, artifacts).context("the rendered manifest does not say what was rendered")?;
    Ok(out)
}

fn check(rendered: &str, version: &str, artifacts: &[Option<Artifact>]) -> anyhow::Result<()> {
    let doc: Value = serde_yaml::from_str(rendered).context("the rendered manifest is not YAML")?;
    let spec = doc.get("spec").ok_or_else(|| anyhow!("spec is missing"))?;
    ensure!(spec.get("version").and_then(Value::as_str) == Some(version), "spec.version is not {version}");
    let platforms = spec.get("platforms").and_then(Value::as_sequence).ok_or_else(|| anyhow!("no platforms"))?;
    let expected: Vec<&Artifact> = artifacts.iter().flatten().collect();
    ensure!(platforms.len() == expected.len(), "{} platforms instead of {}", platforms.len(), expected.len());
    for (platform, artifact) in platforms.iter().zip(expected) {
        ensure!(platform.get("uri").and_then(Value::as_str) == Some(artifact.uri.as_str()), "uri not rendered");
        ensure!(
            platform.get("sha256").and_then(Value::as_str) == Some(artifact.sha256.as_str()),
            "sha256 not rendered"
        );
    }
    Ok(())
}

/// Where `spec.platforms` items are in the lines of a manifest.
struct Layout {
    /// First line after `platforms:`.
    list_start: usize,
    /// Line ranges of the items; comments and blank lines after an item belong to it.
    items: Vec<std::ops::Range<usize>>,
    /// First line after the list.
    list_end: usize,
}

impl Layout {
    fn find(lines: &[&str]) -> anyhow::Result<Layout> {
        let key_line = lines
            .iter()
            .position(|l| indent(l) > 0 && key_of(l) == Some("platforms"))
            .ok_or_else(|| anyhow!("no `platforms:` line under spec"))?;
        let key_indent = indent(lines[key_line]);
        let list_start = key_line + 1;
        let mut items: Vec<std::ops::Range<usize>> = Vec::new();
        let mut item_indent = None;
        let mut list_end = lines.len();
        for (i, line) in lines.iter().enumerate().skip(list_start) {
            if is_blank_or_comment(line) {
                continue;
            }
            let this = indent(line);
            let starts_item = line.trim_start().starts_with("- ") || line.trim() == "-";
            let item_indent = *item_indent.get_or_insert(this);
            if this < item_indent || (this == item_indent && !starts_item) || this < key_indent {
                list_end = i;
                break;
            }
            if this == item_indent && starts_item {
                if let Some(last) = items.last_mut() {
                    last.end = i;
                }
                items.push(i..i + 1);
            }
        }
        // Trailing comments and blank lines before the next key stay with the last item.
        if let Some(last) = items.last_mut() {
            last.end = list_end;
        }
        ensure!(!items.is_empty(), "spec.platforms has no items");
        if items[0].start != list_start {
            // Comments between `platforms:` and the first item belong to the list, not to an item.
            let first = items[0].start;
            ensure!(
                lines[list_start..first].iter().all(|l| is_blank_or_comment(l)),
                "unexpected text before the first platform"
            );
        }
        Ok(Layout { list_start: items[0].start, items, list_end })
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The mapping key a line starts, looking past a leading `- `.
fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let t = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
    let (key, _) = t.split_once(':')?;
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')).then_some(key)
}

/// `  key: old  # comment\n` -> `  key: new\n`.
fn replace_value(line: &str, value: &str) -> String {
    let colon = line.find(':').expect("key_of found a colon");
    let newline = if line.ends_with('\n') { "\n" } else { "" };
    format!("{}: {}{newline}", &line[..colon], yaml_scalar(value))
}

fn replace_value_quoted(line: &str, value: &str) -> String {
    let colon = line.find(':').expect("key_of found a colon");
    let newline = if line.ends_with('\n') { "\n" } else { "" };
    format!("{}: \"{value}\"{newline}", &line[..colon])
}

/// A plain scalar when YAML reads it back unchanged, else a double-quoted one.
fn yaml_scalar(value: &str) -> String {
    let plain_safe = !value.is_empty()
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.starts_with(|c: char| "!&*{}[],#|>@`\"'%-?: ".contains(c))
        && !value.ends_with([' ', ':'])
        && serde_yaml::from_str::<Value>(value).ok().and_then(|v| v.as_str().map(str::to_string)).as_deref()
            == Some(value);
    if plain_safe { value.to_string() } else { serde_json::to_string(value).expect("a string serializes") }
}

/// Fills a release URL template. Placeholders: `{repository}`, `{name}`, `{version}` (1.2.3), `{tag}`
/// (v1.2.3), `{os}`, `{arch}`, `{archive}` (the archive's file name).
pub fn render_url(template: &str, vars: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or_else(|| anyhow!("unclosed `{{` in URL template {template:?}"))?;
        let name = &rest[open + 1..open + close];
        let value = vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).ok_or_else(|| {
            let known: Vec<String> = vars.iter().map(|(k, _)| format!("{{{k}}}")).collect();
            anyhow!("unknown placeholder {{{name}}} in URL template {template:?}; known: {}", known.join(" "))
        })?;
        out.push_str(value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if !out.starts_with("https://") && !out.starts_with("http://") && !out.starts_with("file://") {
        bail!("the URL template must give an absolute URL, got {out:?} from {template:?}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
# A comment that must survive.
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: demo
spec:
  version: v0.0.1 # old
  shortDescription: A demo
  description: |
    Has a line with uri: in it and a version: too.
  platforms:
    # linux first
    - selector:
        matchLabels:
          os: linux
          arch: amd64
      uri: https://old/linux
      sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"
      bin: kubectl-demo
      files:
        - from: kubectl-demo
          to: .
    - selector:
        matchLabels:
          os: windows
          arch: amd64
      uri: https://old/windows
      sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"
      bin: kubectl-demo.exe
      files:
        - from: '*'
          to: .
  caveats: |
    Needs RBAC.
";

    fn artifact(uri: &str, c: char) -> Option<Artifact> {
        Some(Artifact { uri: uri.into(), sha256: c.to_string().repeat(64) })
    }

    #[test]
    fn reads_platforms_in_order() {
        assert_eq!(
            platforms(SOURCE).unwrap(),
            vec![
                Platform { os: "linux".into(), arch: "amd64".into(), bin: "kubectl-demo".into() },
                Platform { os: "windows".into(), arch: "amd64".into(), bin: "kubectl-demo.exe".into() },
            ]
        );
    }

    #[test]
    fn renders_only_version_uri_and_sha256() {
        let rendered =
            render(SOURCE, "v1.2.3", &[artifact("https://new/l.tar.gz", 'a'), artifact("https://new/w.zip", 'b')])
                .unwrap();
        let expected = SOURCE
            .replace("version: v0.0.1 # old", "version: v1.2.3")
            .replacen("https://old/linux", "https://new/l.tar.gz", 1)
            .replacen("https://old/windows", "https://new/w.zip", 1)
            .replacen(&"0".repeat(64), &"a".repeat(64), 1)
            .replacen(&"0".repeat(64), &"b".repeat(64), 1);
        assert_eq!(rendered, expected);
    }

    #[test]
    fn rendering_is_idempotent() {
        let artifacts = [artifact("https://new/l.tar.gz", 'a'), artifact("https://new/w.zip", 'b')];
        let once = render(SOURCE, "v1.2.3", &artifacts).unwrap();
        assert_eq!(render(&once, "v1.2.3", &artifacts).unwrap(), once);
    }

    #[test]
    fn platforms_without_an_archive_are_left_out() {
        let rendered = render(SOURCE, "v1.2.3", &[None, artifact("https://new/w.zip", 'b')]).unwrap();
        assert!(!rendered.contains("os: linux"), "{rendered}");
        assert!(rendered.contains("os: windows"));
        assert!(rendered.ends_with("  caveats: |\n    Needs RBAC.\n"), "keys after the list are kept:\n{rendered}");
        let error = render(SOURCE, "v1.2.3", &[None, None]).unwrap_err();
        assert!(error.to_string().contains("no platform has an archive"));
    }

    #[test]
    fn a_platform_without_a_sha256_line_is_an_error() {
        let source = SOURCE.replacen(
            "      sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
            "",
            1,
        );
        let error =
            render(&source, "v1.2.3", &[artifact("https://x/a", 'a'), artifact("https://x/b", 'b')]).unwrap_err();
        assert!(error.to_string().contains("exactly one `uri:` and one `sha256:`"), "{error:#}");
    }

    #[test]
    fn the_artifact_count_must_match_the_platforms() {
        let error = render(SOURCE, "v1.2.3", &[artifact("https://x/a", 'a')]).unwrap_err();
        assert!(error.to_string().contains("2 platform entries"), "{error:#}");
    }

    #[test]
    fn uris_that_yaml_would_misread_are_quoted() {
        let rendered =
            render(SOURCE, "v1.2.3", &[artifact("https://h/a #b", 'a'), artifact("https://h/c: d", 'b')]).unwrap();
        assert!(rendered.contains("uri: \"https://h/a #b\""), "{rendered}");
        assert!(rendered.contains("uri: \"https://h/c: d\""), "{rendered}");
    }

    #[test]
    fn url_templates() {
        let vars = [("tag", "v1.0.0"), ("archive", "a.tar.gz")];
        assert_eq!(render_url("https://h/{tag}/{archive}", &vars).unwrap(), "https://h/v1.0.0/a.tar.gz");
        let error = render_url("https://h/{nope}", &vars).unwrap_err().to_string();
        assert!(error.contains("{nope}") && error.contains("{tag} {archive}"), "{error}");
        assert!(render_url("https://h/{tag", &vars).unwrap_err().to_string().contains("unclosed"));
        assert!(render_url("{archive}", &vars).unwrap_err().to_string().contains("absolute URL"));
    }
}
