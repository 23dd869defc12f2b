//! `/metrics` (Prometheus text), `/healthz` (the process answers and its bus does) and `/readyz`
//! (the orchestrator consumes: its group membership is settled and the bus answers) for
//! `onex orchestrator --metrics-addr`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use onex_engine::bus::EventBus;
use onex_engine::service::orchestrator::metrics::{DURATION_BUCKETS, describe};
use std::net::SocketAddr;
use std::sync::Arc;

/// Installs the Prometheus recorder and serves it; returns the bound address once listening
/// (port 0 picks a free one). `ready` turns true once the orchestrator consumes.
pub async fn serve(
    addr: SocketAddr,
    bus: Arc<dyn EventBus>,
    ready: tokio::sync::watch::Receiver<bool>,
) -> Result<SocketAddr, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let health_bus = bus.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let handle = handle.clone();
                async move { handle.render() }
            }),
        )
        .route(
            "/healthz",
            axum::routing::get(move || {
                let bus = health_bus.clone();
                async move { bus_answer(&*bus, "ok").await }
            }),
        )
        .route(
            "/readyz",
            axum::routing::get(move || {
                let (bus, ready) = (bus.clone(), ready.clone());
                async move {
                    if !*ready.borrow() {
                        return (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "not ready: joining the consumer group\n".to_string(),
                        );
                    }
                    bus_answer(&*bus, "ready").await
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("metrics server: {e}");
        }
    });
    Ok(bound)
}

/// 200 `{word} backend target round-trip` when the bus answers, else 503 with the error.
async fn bus_answer(bus: &dyn EventBus, word: &str) -> (axum::http::StatusCode, String) {
    match bus.health().await {
        Ok(h) => (
            axum::http::StatusCode::OK,
            format!("{word} {} {} {:?}\n", h.backend, h.target, h.round_trip),
        ),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("bus: {e}\n"),
        ),
    }
}
