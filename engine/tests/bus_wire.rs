//! What the back ends put on the wire, read with the brokers' own clients: Kafka key, value and
//! CloudEvents 1.0 binary-mode headers; Redis entry fields; `kafka.<property>` pass-through.

mod bus_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bus_support::*;
use onex_engine::bus::{BusError, Role, connect};
use onex_engine::events::Envelope;
use rdkafka::Message as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Headers as _;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_message_carries_key_value_and_cloudevents_headers() {
    let Some(t) = TestBus::new(Backend::Kafka, "wire").await else {
        return;
    };
    let env = prompt(Uuid::now_v7());
    let pos = t.bus.publish(&env).await.unwrap();
    let servers = t.cfg.url.trim_start_matches("kafka://").to_string();
    let topic = pos.topic.clone();
    let (key, value, headers) = tokio::task::spawn_blocking(move || {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("group.id", format!("wire-{}", Uuid::now_v7().simple()))
            .set("enable.auto.commit", "false")
            .create()
            .expect("raw consumer");
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition_offset(&topic, pos.partition, rdkafka::Offset::Beginning)
            .expect("tpl");
        c.assign(&tpl).expect("assign");
        drop(tpl);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
                let headers: HashMap<String, String> = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| {
                                (
                                    x.key.to_string(),
                                    String::from_utf8_lossy(x.value.unwrap_or_default())
                                        .to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                return (
                    m.key().map(|k| String::from_utf8_lossy(k).to_string()),
                    m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    headers,
                );
            }
        }
        panic!("message not readable with a plain consumer");
    })
    .await
    .unwrap();
    assert_eq!(
        key.as_deref(),
        Some(env.correlation_id.to_string().as_str())
    );
    let decoded: Envelope = serde_json::from_slice(&value).expect("value is the envelope JSON");
    assert_eq!(decoded, env);
    assert_eq!(headers["ce_specversion"], "1.0");
    assert_eq!(headers["ce_id"], env.event_id.to_string());
    assert_eq!(headers["ce_type"], "PromptSubmitted");
    assert_eq!(headers["ce_time"], env.timestamp);
    assert_eq!(headers["ce_source"], "/onex/orchestrator/bus-test");
    assert_eq!(headers["correlation_id"], env.correlation_id.to_string());
    assert_eq!(headers["seq"], "1");
    assert_eq!(headers["traceparent"], env.trace.traceparent);
}

#[tokio::test]
async fn kafka_properties_are_passed_through() {
    let Some(url) = broker_var("ONEX_TEST_KAFKA_URL") else {
        missing(
            Backend::Kafka,
            "kafka_properties_are_passed_through",
            "ONEX_TEST_KAFKA_URL is not set",
        );
        return;
    };
    let mut cfg = test_config(&url, "props");
    cfg.kafka.insert("no.such.property".into(), "1".into());
    match connect(&cfg, Role::Cli, events()).await {
        Err(BusError::Config(m)) => assert!(m.contains("no.such.property"), "{m}"),
        Err(e) => panic!("expected a configuration error naming the property, got {e:?}"),
        Ok(_) => panic!("librdkafka accepted an unknown property: not passed through"),
    }
}

#[tokio::test]
async fn redis_entry_has_key_and_event_fields() {
    let Some(t) = TestBus::new(Backend::Redis, "wire").await else {
        return;
    };
    let env = prompt(Uuid::now_v7());
    let pos = t.bus.publish(&env).await.unwrap();
    let client = redis::Client::open(t.cfg.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(&pos.topic)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(reply.ids.len(), 1);
    let entry = &reply.ids[0];
    assert_eq!(entry.id, pos.offset.to_string());
    let key: String = entry.get("key").expect("field key");
    let event: String = entry.get("event").expect("field event");
    assert_eq!(key, env.correlation_id.to_string());
    assert_eq!(serde_json::from_str::<Envelope>(&event).unwrap(), env);
    assert_eq!(entry.map.len(), 2, "only the fields key and event");
}
