variable "namespace" {
  description = "Namespace of the PrometheusRule; the Prometheus ruleNamespaceSelector must match it."
  type        = string
  default     = "monitoring"
}

variable "rule_labels" {
  description = "Extra labels for the PrometheusRule, e.g. { release = \"kube-prometheus-stack\" } so that the Prometheus ruleSelector picks it up."
  type        = map(string)
  default     = {}
}

variable "kube_state_metrics_service_account" {
  description = "The ServiceAccount kube-state-metrics runs as: bound to the ClusterRole that lets it list and watch CredentialExpiry objects. The default is kube-prometheus-stack's (release kube-prometheus-stack in namespace monitoring)."
  type = object({
    namespace = string
    name      = string
  })
  default = {
    namespace = "monitoring"
    name      = "kube-prometheus-stack-kube-state-metrics"
  }
}

variable "service_monitor" {
  description = "Also create a ServiceMonitor (honorLabels) for kube-state-metrics in its namespace. Only for one you run yourself: kube-prometheus-stack's chart scrapes its own, and a second one doubles every series."
  type        = bool
  default     = false
}
