variable "runbook_base_url" {
  description = "Where your on-call reads credflow's README.md: its http(s) URL as your forge serves it, e.g. https://git.corp.internal/platform/credflow/src/branch/main/README.md. Every alert's runbook_url is this followed by the #section that explains the alert. No default: credflow has no home every user can reach, and a placeholder would be a dead link in the page at 2 a.m."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/?#\\s]+(/[^?#\\s]*)?$", var.runbook_base_url))
    error_message = "runbook_base_url must be an http(s) URL without a query or #fragment (the module appends each alert's #section), e.g. https://git.corp.internal/platform/credflow/src/branch/main/README.md."
  }

  validation {
    condition     = !can(regex("^https?://([^/:]*[.])?(example[.](com|net|org)|example|invalid|test|localhost)[.]?(:[0-9]+)?(/|$)", var.runbook_base_url))
    error_message = "runbook_base_url names a placeholder host (example.com/.net/.org, .example, .invalid, .test or localhost), which no on-call browser reaches: set it to where your forge serves credflow's README.md."
  }
}

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
