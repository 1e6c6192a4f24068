# PrometheusRule monitoring/gmail-oauth-expiry: alerts when the Gmail OAuth token Secret
# (basketball-api/gmail-oauth-token) is older than 6 days or missing.
#
# The rule group lives in ONE plain Prometheus rule file that promtool tests
# (test/ops/gmail-oauth-expiry.promtool-test.yaml); the PrometheusRule spec has the same
# shape as a rule file, so it is embedded as is. Do not inline rules here.
#
# kubernetes_manifest needs API access and the PrometheusRule CRD at plan time
# (hashicorp/terraform-provider-kubernetes#1775): install prometheus-operator first.

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
    spec = yamldecode(file("${path.module}/rules/gmail-oauth-expiry.rules.yaml"))
  }
}
