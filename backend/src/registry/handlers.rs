//! Registry endpoints: thin HTTP shells over `service`, `reset` and `store`. Registration
//! answers 201 when it created the resource and 200 when it was already registered unchanged.

use super::{reset, service, store};
use crate::app::AppState;
use crate::audit::CurrentUser;
use crate::error::{AppError, Id, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pressluft_common::{
    Environment, Metrics, Node, RegisterEnvironment, RegisterNode, RegisterSite, Site,
};

type Result<T> = std::result::Result<T, AppError>;

fn registered<T: serde::Serialize>(r: service::Registered<T>) -> Response {
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, axum::Json(r.value)).into_response()
}

pub async fn list_nodes(State(s): State<AppState>) -> Result<Json<Vec<Node>>> {
    s.db.run(|c| store::list_nodes(c)).await.map(Json)
}

pub async fn register_node(
    State(s): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Json(body): Json<RegisterNode>,
) -> Result<Response> {
    let r =
        s.db.run(move |c| {
            let rid = body.id.clone();
            service::audited(
                c,
                Some(&user.id),
                "node.register",
                ("node", rid.as_deref()),
                |tx| service::register_node(tx, Some(&user.id), body),
            )
        })
        .await?;
    Ok(registered(r))
}

pub async fn list_sites(State(s): State<AppState>) -> Result<Json<Vec<Site>>> {
    s.db.run(|c| store::list_sites(c)).await.map(Json)
}

pub async fn register_site(
    State(s): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Json(body): Json<RegisterSite>,
) -> Result<Response> {
    let r =
        s.db.run(move |c| {
            let rid = body.id.clone();
            service::audited(
                c,
                Some(&user.id),
                "site.register",
                ("site", rid.as_deref()),
                |tx| service::register_site(tx, Some(&user.id), body),
            )
        })
        .await?;
    Ok(registered(r))
}

pub async fn get_site(State(s): State<AppState>, Id(id): Id) -> Result<Json<Site>> {
    s.db.run(move |c| store::find_site(c, "id", &id)?.ok_or_else(|| super::site_not_found(&id)))
        .await
        .map(Json)
}

pub async fn reset_site(
    State(s): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Id(id): Id,
) -> Result<Json<Site>> {
    s.db.run(move |c| {
        service::audited(
            c,
            Some(&user.id),
            "site.reset",
            ("site", Some(id.as_str())),
            |tx| reset::reset_site(tx, Some(&user.id), &id),
        )
    })
    .await
    .map(Json)
}

pub async fn list_environments(
    State(s): State<AppState>,
    Id(site_id): Id,
) -> Result<Json<Vec<Environment>>> {
    s.db.run(move |c| {
        store::find_site(c, "id", &site_id)?.ok_or_else(|| super::site_not_found(&site_id))?;
        store::list_environments(c, &site_id)
    })
    .await
    .map(Json)
}

pub async fn register_environment(
    State(s): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Id(site_id): Id,
    Json(body): Json<RegisterEnvironment>,
) -> Result<Response> {
    let r =
        s.db.run(move |c| {
            let rid = body.id.clone();
            let res = ("environment", rid.as_deref());
            service::audited(c, Some(&user.id), "environment.register", res, |tx| {
                service::register_environment(tx, Some(&user.id), &site_id, body)
            })
        })
        .await?;
    Ok(registered(r))
}

pub async fn get_environment(State(s): State<AppState>, Id(id): Id) -> Result<Json<Environment>> {
    s.db.run(move |c| {
        store::get_environment(c, &id)?.ok_or_else(|| super::environment_not_found(&id))
    })
    .await
    .map(Json)
}

pub async fn reset_environment(
    State(s): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Id(id): Id,
) -> Result<Json<Environment>> {
    s.db.run(move |c| {
        let res = ("environment", Some(id.as_str()));
        service::audited(c, Some(&user.id), "environment.reset", res, |tx| {
            reset::reset_environment(tx, Some(&user.id), &id)
        })
    })
    .await
    .map(Json)
}

pub async fn metrics(State(s): State<AppState>) -> Result<Json<Metrics>> {
    s.db.run(|c| store::metrics(c)).await.map(Json)
}
