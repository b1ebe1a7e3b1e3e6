//! A small JSON-schema validator for the subset `contracts/openapi.yaml` uses: `$ref`, `type`
//! (also type arrays for nullables), `enum`, `required`, `properties`,
//! `additionalProperties: false`, `items`, `oneOf`/`anyOf`, integer bounds, and the `uuid` and
//! `date-time` formats.

use serde_json::Value;

/// The parsed contract.
pub struct Contract {
    pub doc: Value,
}

impl Contract {
    pub fn load() -> Contract {
        let path = super::super::support::repo_root().join("contracts/openapi.yaml");
        let text = std::fs::read_to_string(&path).expect("read contracts/openapi.yaml");
        let doc: Value = serde_norway::from_str(&text).expect("openapi.yaml is valid YAML");
        Contract { doc }
    }

    /// Follows a local `$ref` (`#/components/...`).
    pub fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("non-local $ref {r}"));
            v = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        v
    }

    pub fn schema(&self, name: &str) -> &Value {
        self.doc
            .pointer(&format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("no schema {name}"))
    }

    /// The documented response of `method path` for `status`, if the contract lists it.
    pub fn response(&self, method: &str, path: &str, status: u16) -> Option<&Value> {
        let op = self
            .doc
            .get("paths")?
            .get(path)?
            .get(method.to_ascii_lowercase())?;
        op.get("responses")?
            .get(status.to_string())
            .map(|r| self.resolve(r))
    }

    /// Validates a JSON body against the documented response (`application/json`).
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &str) {
        let resp = self.response(method, path, status).unwrap_or_else(|| {
            panic!("{method} {path} answered {status}, not in the contract: {body}")
        });
        let Some(schema) = resp.pointer("/content/application~1json/schema") else {
            return;
        };
        let value: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: body is not JSON ({e}): {body}"));
        if let Err(errors) = self.validate(schema, &value) {
            panic!("{method} {path} {status} breaks the contract: {errors:#?}\nbody: {body}");
        }
    }

    pub fn validate(&self, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("oneOf").or_else(|| schema.get("anyOf")) {
            let options = options.as_array().expect("oneOf is a list");
            let matching = options
                .iter()
                .filter(|o| self.validate(o, v).is_ok())
                .count();
            let one_of = schema.get("oneOf").is_some();
            if matching == 0 || (one_of && matching > 1) {
                errors.push(format!(
                    "{at}: matches {matching} of the oneOf/anyOf options"
                ));
            }
            return;
        }
        if let Some(t) = schema.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => panic!("bad type in schema at {at}"),
            };
            if !types.iter().any(|t| type_matches(t, v)) {
                errors.push(format!("{at}: expected {types:?}, got {v}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(v) {
                errors.push(format!("{at}: {v} is not one of {allowed:?}"));
            }
        }
        if let (Some(fmt), Some(s)) = (schema.get("format").and_then(Value::as_str), v.as_str()) {
            let ok = match fmt {
                "uuid" => uuid::Uuid::parse_str(s).is_ok() && s.len() == 36,
                "date-time" => s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T',
                _ => true,
            };
            if !ok {
                errors.push(format!("{at}: `{s}` is not a {fmt}"));
            }
        }
        if let Some(n) = v.as_i64() {
            if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
                if n < min {
                    errors.push(format!("{at}: {n} < minimum {min}"));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_i64) {
                if n > max {
                    errors.push(format!("{at}: {n} > maximum {max}"));
                }
            }
        }
        if let Some(obj) = v.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = req.as_str().expect("required names are strings");
                if !obj.contains_key(key) {
                    errors.push(format!("{at}: missing required `{key}`"));
                }
            }
            for (key, val) in obj {
                match props.and_then(|p| p.get(key)) {
                    Some(s) => self.check(s, val, &format!("{at}.{key}"), errors),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{at}: unknown property `{key}`"))
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.check(items, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown schema type {other}"),
    }
}
