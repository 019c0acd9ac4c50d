//! Printing objects and tables the way kubectl does.

use comfy_table::{ContentArrangement, Table, presets};
use kube::api::DynamicObject;
use serde_json::{Value, json};

use crate::error::Result;

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::Error::other(format!("writing to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// A YAML stream (`---` between documents) that `kubectl apply -f -` accepts.
pub fn yaml_stream(objects: &[DynamicObject]) -> Result<String> {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml::to_string(&clean(object)?)?);
    }
    Ok(out)
}

/// One object as JSON, or several as a `v1` `List`, as `kubectl create -o json` prints them.
pub fn json_list(objects: &[DynamicObject]) -> Result<String> {
    let items: Vec<Value> = objects.iter().map(clean).collect::<Result<_>>()?;
    let value = match <[Value; 1]>::try_from(items) {
        Ok([one]) => one,
        Err(items) => json!({ "apiVersion": "v1", "kind": "List", "metadata": {}, "items": items }),
    };
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// Drops what kubectl hides by default (managedFields) and empty metadata noise.
fn clean(object: &DynamicObject) -> Result<Value> {
    let mut value = serde_json::to_value(object)?;
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    Ok(value)
}

/// A borderless table with kubectl's upper-case headers.
pub fn table<I, R, S>(headers: &[&str], rows: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    // comfy-table pads the first column with one space on the left; kubectl's tables start at column 0.
    let mut text = String::new();
    for line in table.to_string().lines() {
        text.push_str(line.strip_prefix(' ').unwrap_or(line).trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "managedFields": [{"manager": "x"}]},
        }))
        .unwrap()
    }

    #[test]
    fn yaml_stream_separates_documents_and_hides_managed_fields() {
        let text = yaml_stream(&[object("a"), object("b")]).unwrap();
        assert_eq!(text.matches("---").count(), 1);
        assert!(!text.contains("managedFields"));
        let docs: Vec<Value> = text.split("---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
        assert_eq!(docs[1]["metadata"]["name"], "b");
    }

    #[test]
    fn json_is_a_list_for_several_and_the_object_for_one() {
        let many: Value = serde_json::from_str(&json_list(&[object("a"), object("b")]).unwrap()).unwrap();
        assert_eq!(many["kind"], "List");
        assert_eq!(many["items"][1]["metadata"]["name"], "b");
        let one: Value = serde_json::from_str(&json_list(&[object("a")]).unwrap()).unwrap();
        assert_eq!(one["kind"], "ConfigMap");
    }

    #[test]
    fn table_has_upper_case_headers_and_no_borders() {
        let text = table(&["name", "ok"], [["a", "yes"], ["bb", "no"]]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(lines[2].starts_with("bb"), "{text}");
        assert!(!text.contains('|'));
    }
}
