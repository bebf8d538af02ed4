# pint configuration for .ci/deploy-check (pint lint --offline).
#
# No `prometheus` block, and --offline besides: CI has no Prometheus server,
# so the checks that query one (promql/series, promql/rate, promql/counter,
# promql/range_query, alerts/count, labels/conflict, …) are skipped instead
# of failing on a connection error. What runs is every check that needs only
# the rule itself (syntax, alerts/for, alerts/comparison, alerts/template,
# promql/fragile, promql/regexp, promql/impossible, …), plus the conventions
# below, which deploy/README.md promises for every alert.

rule {
  match {
    kind = "alerting"
  }

  label "severity" {
    severity = "bug"
    required = true
    values   = ["warning", "critical"]
    comment  = "every alert is `warning` or `critical` (deploy/README.md, Alerts)"
  }

  annotation "summary" {
    severity = "bug"
    required = true
  }

  annotation "description" {
    severity = "bug"
    required = true
  }

  annotation "runbook_url" {
    severity = "bug"
    required = true
    value    = "https://github.com/txworker/txworker/blob/main/deploy/README.md#[a-z0-9-]+"
    comment  = "runbooks are sections of deploy/README.md"
  }

  # Alerts are per namespace (one txworker per namespace).
  aggregate ".+" {
    severity = "bug"
    keep     = ["namespace"]
  }
}
