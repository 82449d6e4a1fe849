terraform {
  required_version = ">= 1.5"
  required_providers {
    # Both are built from the Go module proxy into a local mirror (providers/build-mirror.sh): the
    # kubernetes provider at a commit after v3.2.1, kustomization at v0.9.8.
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.36"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = ">= 0.9.8"
    }
  }
}
