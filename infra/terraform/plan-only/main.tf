# A plan-only root configuration of the module: what ./dev test runs `terraform init` (offline, from the
# provider mirror), `terraform validate` and `terraform plan` on. Its kubeconfig names a cluster at
# 127.0.0.1:9 where nothing listens, so nothing is ever applied: planning the module's objects needs
# no API call (kubernetes_namespace_v1/secret_v1 plan creates from configuration alone;
# kustomization_resource's dry-run is skipped when the API cannot be discovered). The secret values
# below are placeholders for the plan, not credentials.
terraform {
  required_version = ">= 1.5"
  required_providers {
    kubernetes = {
      source = "hashicorp/kubernetes"
      # The version the mirror holds (providers/build-mirror.sh): a build of a commit after v3.2.1.
      version = "3.2.2-dev.20260821094251"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = "0.9.8"
    }
  }
}

provider "kubernetes" {
  config_path = "${path.module}/kubeconfig.yaml"
}

provider "kustomization" {
  kubeconfig_path = "${path.module}/kubeconfig.yaml"
}

module "persona" {
  source       = "../modules/persona"
  overlay_path = "${path.module}/../../../k8s/overlays/prod"

  kafka_sasl_password  = "plan-only-placeholder"
  kafka_ca_certificate = "plan-only-placeholder"
  cassandra_password   = "plan-only-placeholder"
  crm_password         = "plan-only-placeholder"
  s3_access_key        = "plan-only-placeholder"
  s3_secret_key        = "plan-only-placeholder"
}

output "objects" {
  value = module.persona.objects
}
