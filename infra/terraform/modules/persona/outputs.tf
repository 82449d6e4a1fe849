output "namespace" {
  description = "The namespace persona runs in."
  value       = kubernetes_namespace_v1.persona.metadata[0].name
}

output "objects" {
  description = "Ids of every object of the overlay this module applies."
  value       = sort(tolist(data.kustomization_build.overlay.ids))
}
