//! `/metrics` (Prometheus text) and `/healthz` for `onex orchestrator --metrics-addr`.

use metrics_exporter_prometheus::PrometheusBuilder;
use onex_engine::bus::EventBus;
use std::net::SocketAddr;
use std::sync::Arc;

/// Installs the Prometheus recorder and serves it; returns the bound address once listening
/// (port 0 picks a free one).
pub async fn serve(addr: SocketAddr, bus: Arc<dyn EventBus>) -> Result<SocketAddr, String> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
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
                let bus = bus.clone();
                async move {
                    match bus.health().await {
                        Ok(h) => (
                            axum::http::StatusCode::OK,
                            format!("ok {} {} {:?}\n", h.backend, h.target, h.round_trip),
                        ),
                        Err(e) => (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            format!("bus: {e}\n"),
                        ),
                    }
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
