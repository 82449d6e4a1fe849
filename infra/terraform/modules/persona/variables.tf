variable "namespace" {
  description = "Namespace of persona's objects; the overlay's own `namespace:` must name the same."
  type        = string
  default     = "persona"
}

variable "overlay_path" {
  description = "The Kustomize overlay this module applies (k8s/overlays/prod or k8s/overlays/local)."
  type        = string
}

variable "kafka_sasl_password" {
  description = "Password of the Kafka SASL user the prod overlay names (PERSONA_KAFKA_SASL_USERNAME)."
  type        = string
  sensitive   = true
}

variable "kafka_ca_certificate" {
  description = "PEM CA certificate(s) that verify the Kafka brokers (mounted as ca.crt)."
  type        = string
  sensitive   = true
}

variable "cassandra_password" {
  description = "Password of the Cassandra user the prod overlay names (PERSONA_CASSANDRA_USERNAME)."
  type        = string
  sensitive   = true
}

variable "crm_username" {
  description = "The CRM (MariaDB) user the nightly RFM job reads as: read-only on the CRM database is enough."
  type        = string
  default     = "persona"
}

variable "crm_password" {
  description = "That CRM user's password."
  type        = string
  sensitive   = true
}

variable "s3_access_key" {
  description = "The access key id of the Iceberg publication's object store (S3): Nessie, Trino and the RFM job (secret persona-s3)."
  type        = string
  sensitive   = true
}

variable "s3_secret_key" {
  description = "That access key's secret."
  type        = string
  sensitive   = true
}
