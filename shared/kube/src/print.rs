//! Objects as kubectl prints them: a YAML stream that `kubectl apply -f -` accepts, or JSON (one
//! object, or a `List`), without the server-side noise kubectl hides.

use harden_cli::Result;
use kube::api::DynamicObject;
use serde_json::{Value, json};

/// A YAML stream (`---` between documents).
pub fn yaml_stream(objects: &[DynamicObject]) -> Result<String> {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&harden_cli::output::yaml(&clean(object)?)?);
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

/// Drops what kubectl hides by default (managedFields).
fn clean(object: &DynamicObject) -> Result<Value> {
    let mut value = serde_json::to_value(object)?;
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    Ok(value)
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
}
