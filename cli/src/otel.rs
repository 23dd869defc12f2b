//! OTLP trace export (`--otlp-endpoint URL`, cargo feature `otlp`): the run, stage and gate spans
//! of the engine go to an OpenTelemetry collector over OTLP/HTTP, and the W3C trace context
//! travels in the events from the CLI to the orchestrator and back, so one trace shows a run
//! across processes.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Flushes and stops the exporter when dropped.
pub struct Guard(SdkTracerProvider);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("onex: flushing traces: {e}");
        }
    }
}

/// The tracing layer exporting to `endpoint`, and the engine hooks installed.
pub fn layer<S>(endpoint: &str) -> Result<(impl tracing_subscriber::Layer<S>, Guard), String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("onex")
                .build(),
        )
        .build();
    let tracer = provider.tracer("onex");
    onex_engine::telemetry::install(onex_engine::telemetry::Hooks {
        link_parent,
        current_traceparent,
    });
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Guard(provider),
    ))
}

fn link_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(cx);
}

fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}
