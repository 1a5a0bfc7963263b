export {
  connectionSecrets,
  type KafkaConnectionOptions,
  librdkafkaConfig,
  SASL_MECHANISMS,
  type SaslMechanism,
  type SaslOptions,
  type TlsOptions,
} from './connection';
export { type KafkaDeadLetterOptions, kafkaDeadLetters } from './dead-letter-topic';
export { fromClientError } from './kafka-errors';
export { type KafkaHeader, type KafkaRecord, kafkaText } from './kafka-record';
export {
  type KafkaSource,
  type KafkaSourceEvent,
  type KafkaSourceOptions,
  kafkaSource,
  laneOf,
  type PartitionLag,
  parseLane,
} from './kafka-source';
export {
  createKafkaProducer,
  type Delivery,
  type KafkaProducer,
  type KafkaProducerOptions,
} from './producer';
