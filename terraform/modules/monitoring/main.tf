# Everything a cluster needs for credflow's expiry alerts (docs/expiry.md), from the same files
# deploy/ holds for kubectl and GitOps users, so the two never differ. The module is
# self-contained: manifests/ holds byte-for-byte copies of those deploy/ files (written by
# scripts/monitoring-copies.ts; a test fails when they drift), so it works from a registry, a
# copied directory or any source, with nothing beside it:
#   - CustomResourceDefinition credentialexpiries.credflow.dev (deploy/credentialexpiry-crd.yaml):
#     the object per credential that credflow's record-expiry step writes at every sync;
#   - ClusterRole + ClusterRoleBinding for kube-state-metrics to list/watch them
#     (deploy/monitoring/kube-state-metrics-clusterrole*.yaml, bound to
#     var.kube_state_metrics_service_account; with kube-prometheus-stack the same rules may also
#     come from its values, rbac.extraRules: RBAC adds up, so both do no harm);
#   - optionally a ServiceMonitor for a kube-state-metrics you run yourself
#     (deploy/monitoring/kube-state-metrics-servicemonitor.yaml; kube-prometheus-stack's own
#     ServiceMonitor already scrapes it);
#   - PrometheusRule gmail-oauth-expiry: the alerts on the consent-derived series, each
#     runbook_url var.runbook_base_url followed by the README #section the rule file names.
# The kube-state-metrics custom-resource-state config itself belongs to whoever runs
# kube-state-metrics (kube-prometheus-stack values): output kube_state_metrics_custom_resource_state_config.
#
# The rule group lives in ONE plain Prometheus rule file that promtool tests
# (test/ops/gmail-oauth-expiry.promtool-test.yaml); the PrometheusRule spec has the same
# shape as a rule file, so it is embedded as is (only the runbook URLs completed). Do not inline
# rules here.
#
# kubernetes_manifest needs API access and the PrometheusRule (and, with service_monitor, the
# ServiceMonitor) CRD at plan time (hashicorp/terraform-provider-kubernetes#1775): install
# prometheus-operator first.

locals {
  manifests       = "${path.module}/manifests"
  service_monitor = yamldecode(file("${local.manifests}/kube-state-metrics-servicemonitor.yaml"))
  ksm_binding     = yamldecode(file("${local.manifests}/kube-state-metrics-clusterrolebinding.yaml"))

  # The rule file's runbook_url is the README #section only; the README's URL is the deployer's.
  rule_file = yamldecode(file("${path.module}/rules/gmail-oauth-expiry.rules.yaml"))
  rules = {
    groups = [for g in local.rule_file.groups : merge(g, {
      rules = [for r in g.rules : merge(r, {
        annotations = merge(r.annotations, { runbook_url = "${var.runbook_base_url}${r.annotations.runbook_url}" })
      })]
    })]
  }
}

resource "kubernetes_manifest" "credential_expiry_crd" {
  manifest = yamldecode(file("${local.manifests}/credentialexpiry-crd.yaml"))
}

resource "kubernetes_manifest" "kube_state_metrics_cluster_role" {
  manifest = yamldecode(file("${local.manifests}/kube-state-metrics-clusterrole.yaml"))
}

resource "kubernetes_manifest" "kube_state_metrics_cluster_role_binding" {
  manifest = merge(local.ksm_binding, {
    subjects = [merge({ kind = "ServiceAccount" }, var.kube_state_metrics_service_account)]
  })
}

# In kube-state-metrics' namespace: a ServiceMonitor selects Services of its own namespace.
resource "kubernetes_manifest" "kube_state_metrics_service_monitor" {
  count = var.service_monitor ? 1 : 0
  manifest = merge(local.service_monitor, {
    metadata = merge(local.service_monitor.metadata, { namespace = var.kube_state_metrics_service_account.namespace })
  })
}

resource "kubernetes_manifest" "gmail_oauth_expiry" {
  manifest = {
    apiVersion = "monitoring.coreos.com/v1"
    kind       = "PrometheusRule"
    metadata = {
      name      = "gmail-oauth-expiry"
      namespace = var.namespace
      labels = merge(var.rule_labels, {
        "app.kubernetes.io/name"       = "gmail-oauth-expiry"
        "app.kubernetes.io/part-of"    = "credflow"
        "app.kubernetes.io/managed-by" = "terraform"
      })
    }
    spec = local.rules
  }
}
