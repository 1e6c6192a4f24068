output "prometheus_rule" {
  description = "Namespace and name of the PrometheusRule."
  value = {
    namespace = kubernetes_manifest.gmail_oauth_expiry.manifest.metadata.namespace
    name      = kubernetes_manifest.gmail_oauth_expiry.manifest.metadata.name
  }
}

output "alert_names" {
  description = "Alerts defined by the rule group, in file order."
  value       = flatten([for g in kubernetes_manifest.gmail_oauth_expiry.manifest.spec.groups : [for r in g.rules : r.alert]])
}

output "credential_expiry_crd" {
  description = "Name of the CustomResourceDefinition that credflow writes and kube-state-metrics exports."
  value       = kubernetes_manifest.credential_expiry_crd.manifest.metadata.name
}

output "kube_state_metrics_custom_resource_state_config" {
  description = "kube-state-metrics' custom-resource-state config for CredentialExpiry (YAML text): yamldecode it into kube-prometheus-stack's kube-state-metrics.customResourceState.config, or give it to --custom-resource-state-config-file."
  value       = file("${local.manifests}/kube-state-metrics-config.yaml")
}
