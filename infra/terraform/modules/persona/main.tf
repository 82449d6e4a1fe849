# persona on a Kubernetes cluster: the namespace, the credentials' secrets (from sensitive variables,
# never from the repository), and every object of a rendered Kustomize overlay (k8s/), Kafka topics
# included as Strimzi KafkaTopic objects in the prod overlay.

resource "kubernetes_namespace_v1" "persona" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of" = "persona"
      # The pods run as non-root with no privilege and a read-only root filesystem (k8s/base).
      "pod-security.kubernetes.io/enforce" = "restricted"
    }
  }
}

# The secrets the pods mount by reference (k8s/base): file keys as PERSONA_*_PASSWORD_FILE expects them.
resource "kubernetes_secret_v1" "kafka_sasl" {
  metadata {
    name      = "persona-kafka-sasl"
    namespace = kubernetes_namespace_v1.persona.metadata[0].name
  }
  data = {
    password = var.kafka_sasl_password
    "ca.crt" = var.kafka_ca_certificate
  }
}

resource "kubernetes_secret_v1" "cassandra" {
  metadata {
    name      = "persona-cassandra"
    namespace = kubernetes_namespace_v1.persona.metadata[0].name
  }
  data = {
    password = var.cassandra_password
  }
}

resource "kubernetes_secret_v1" "crm" {
  metadata {
    name      = "persona-crm"
    namespace = kubernetes_namespace_v1.persona.metadata[0].name
  }
  data = {
    username = var.crm_username
    password = var.crm_password
  }
}

# The Iceberg publication's object store (k8s/components/publication): Nessie, Trino and the RFM job
# read the key pair from it (and s3proxy, where the cluster runs one).
resource "kubernetes_secret_v1" "s3" {
  metadata {
    name      = "persona-s3"
    namespace = kubernetes_namespace_v1.persona.metadata[0].name
  }
  data = {
    "access-key" = var.s3_access_key
    "secret-key" = var.s3_secret_key
  }
}

# The overlay, rendered by the provider's built-in Kustomize at plan time.
data "kustomization_build" "overlay" {
  path = var.overlay_path
}

# Applied in the provider's priority order: namespaces and CRDs first (p0), then the bulk (p1), then
# what refers to it (p2: webhooks and the like).
resource "kustomization_resource" "p0" {
  for_each = data.kustomization_build.overlay.ids_prio[0]
  manifest = data.kustomization_build.overlay.manifests[each.value]

  depends_on = [kubernetes_namespace_v1.persona]
}

resource "kustomization_resource" "p1" {
  for_each = data.kustomization_build.overlay.ids_prio[1]
  manifest = data.kustomization_build.overlay.manifests[each.value]

  depends_on = [
    kustomization_resource.p0,
    kubernetes_secret_v1.kafka_sasl,
    kubernetes_secret_v1.cassandra,
    kubernetes_secret_v1.crm,
    kubernetes_secret_v1.s3,
  ]
}

resource "kustomization_resource" "p2" {
  for_each = data.kustomization_build.overlay.ids_prio[2]
  manifest = data.kustomization_build.overlay.manifests[each.value]

  depends_on = [kustomization_resource.p1]
}
