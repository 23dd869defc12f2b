//! The event bus: one [`EventBus`] trait and its back ends (embedded, Kafka, Redis Streams).
