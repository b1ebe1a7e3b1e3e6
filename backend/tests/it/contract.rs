//! The contract (`contracts/openapi.yaml`) against the code: the same routes as `router::ROUTES`,
//! every route served, real answers valid against the documented schemas, and every error code
//! documented.

mod live;
mod validator;

use crate::support::repo_root;
use pressluft_backend::error::API_ERROR_CODES;
use pressluft_backend::router::ROUTES;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use validator::Contract;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

#[test]
fn contract_paths_equal_the_router_routes_exactly() {
    let c = Contract::load();
    let mut documented = BTreeSet::new();
    for (path, item) in c.doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if METHODS.contains(&method.as_str()) {
                documented.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed, "contract paths vs router::ROUTES");
}

#[test]
fn contract_is_openapi_3_1_with_both_security_schemes() {
    let c = Contract::load();
    assert_eq!(c.doc["openapi"], "3.1.0");
    let schemes = &c.doc["components"]["securitySchemes"];
    assert_eq!(schemes["sessionCookie"]["in"], "cookie");
    assert_eq!(schemes["sessionCookie"]["name"], "session_token");
    assert_eq!(schemes["bearerToken"]["scheme"], "bearer");
    assert_eq!(c.doc["paths"]["/api/login"]["post"]["security"], json!([]));
    let storage = c.schema("StorageType");
    assert_eq!(storage["enum"], json!(["local", "s3"]));
    assert!(storage["description"]
        .as_str()
        .unwrap()
        .contains("embedded default"));
}

#[tokio::test]
async fn every_route_is_served_and_none_hits_the_not_found_fallback() {
    use tower::ServiceExt;
    let tmp = tempfile::tempdir().unwrap();
    let config = pressluft_backend::Config::with_data_dir(tmp.path().join("data"));
    let state = pressluft_backend::AppState::open(config, Default::default()).unwrap();
    let id = "3f2b6c1e-8d4a-4c1b-9e2f-0a1b2c3d4e5f";
    let request = |method: &str, path: &str| {
        axum::http::Request::builder()
            .method(method)
            .uri(path.replace("{id}", id))
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{}"))
            .unwrap()
    };
    for (method, path) in ROUTES {
        let app = pressluft_backend::app(state.clone());
        let resp = app.oneshot(request(method, path)).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(
            body["code"] != "not_found" && body["code"] != "method_not_allowed",
            "{method} {path} is not served: {status} {body}"
        );
    }
    let app = pressluft_backend::app(state.clone());
    let resp = app.oneshot(request("GET", "/api/nope")).await.unwrap();
    assert_eq!(
        resp.status(),
        404,
        "control: an unknown route hits the fallback"
    );
}

#[test]
fn validator_rejects_a_missing_field_a_wrong_type_and_an_unknown_property() {
    let c = Contract::load();
    let site = json!({
        "id": "3f2b6c1e-8d4a-4c1b-9e2f-0a1b2c3d4e5f", "name": "Shop", "slug": "shop",
        "status": "active", "primary_environment_id": null, "state_version": 1,
        "created_at": "2026-02-18T12:34:56Z", "updated_at": "2026-02-18T12:34:56Z"
    });
    let schema = c.schema("Site");
    assert!(c.validate(schema, &site).is_ok());
    let mut missing = site.clone();
    missing.as_object_mut().unwrap().remove("slug");
    assert!(c.validate(schema, &missing).unwrap_err()[0].contains("missing required `slug`"));
    let mut wrong = site.clone();
    wrong["state_version"] = json!("1");
    assert!(c.validate(schema, &wrong).is_err());
    let mut unknown = site.clone();
    unknown["password"] = json!("x");
    assert!(c.validate(schema, &unknown).unwrap_err()[0].contains("unknown property"));
    let mut bad_enum = site.clone();
    bad_enum["status"] = json!("broken");
    assert!(c.validate(schema, &bad_enum).is_err());
    let mut nullable = site;
    nullable["primary_environment_id"] = json!(7);
    assert!(c.validate(schema, &nullable).is_err());
    let err = json!({"code": "no_such_code", "message": "m"});
    assert!(c.validate(c.schema("ErrorBody"), &err).is_err());
}

#[test]
fn every_error_code_is_documented_and_in_the_contract_enum() {
    let c = Contract::load();
    let documented: BTreeSet<&str> = c.schema("ErrorBody")["properties"]["code"]["enum"]
        .as_array()
        .expect("code enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let codes: BTreeSet<&str> = API_ERROR_CODES.iter().copied().collect();
    assert_eq!(documented, codes, "ErrorBody.code enum vs API_ERROR_CODES");
    let doc = std::fs::read_to_string(repo_root().join("docs/error-codes.md")).unwrap();
    for code in API_ERROR_CODES {
        assert!(
            doc.contains(&format!("`{code}`")),
            "docs/error-codes.md lacks `{code}`"
        );
    }
}
