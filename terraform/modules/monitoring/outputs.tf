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
