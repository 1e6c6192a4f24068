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
