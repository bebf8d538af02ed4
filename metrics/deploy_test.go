package metrics_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// Checks of the sources in deploy/ that need no rendering and no tools.

func TestDeployDocumentsParse(t *testing.T) {
	n := 0
	err := filepath.WalkDir(deployDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
			n++
			if docs := readDocsFile(t, path); len(docs) == 0 {
				t.Errorf("%s: no document", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("parsed only %d files under %s", n, deployDir)
	}
}

// registeredNames returns every metric name a scrape of the worker can show:
// the families of NewRegistry + New, plus _bucket/_sum/_count of histograms
// and summaries.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	reg, _ := newMetrics(t)
	names := map[string]bool{}
	for name, mf := range gather(t, reg) {
		names[name] = true
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	return names
}

// labelValuesArg extracts the selector of a Grafana `label_values(selector, label)` query.
var labelValuesArg = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)

func TestDashboardAndRulesUseRegisteredMetrics(t *testing.T) {
	known := registeredNames(t)
	spec := prometheusRuleSpec(t)
	for _, r := range rules(spec) {
		if rec := str(r, "record"); rec != "" {
			known[rec] = true
		}
	}
	exprs := map[string]string{}
	for i, r := range rules(spec) {
		exprs[fmt.Sprintf("rule %d %s%s", i, str(r, "alert"), str(r, "record"))] = str(r, "expr")
	}
	d, _ := dashboard(t)
	for k, e := range dashboardExprs(d) {
		exprs["dashboard "+k] = e
	}
	for _, v := range list(d, "templating", "list") {
		if q := str(v, "query", "query"); q != "" {
			if m := labelValuesArg.FindStringSubmatch(q); m != nil {
				q = m[1]
			}
			exprs["dashboard variable "+str(v, "name")] = q
		}
	}
	for i, tc := range list(readDocsFile(t, filepath.Join(deployDir, "tests", "txworker.rules_test.yaml"))[0], "tests") {
		for j, s := range list(tc, "input_series") {
			exprs[fmt.Sprintf("rules test %d series %d", i, j)] = str(s, "series")
		}
	}
	used := 0
	for where, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, e)
		}
		for _, n := range names {
			used++
			if !known[n] {
				t.Errorf("%s: metric %s is not registered by metrics.New or NewRegistry", where, n)
			}
		}
	}
	t.Logf("checked %d expressions with %d metric references", len(exprs), used)
}

func TestDashboardConventions(t *testing.T) {
	d, _ := dashboard(t)
	if uid := str(d, "uid"); uid != "txworker-overview" {
		t.Errorf("uid %q, want the fixed txworker-overview", uid)
	}
	if at(d, "id") != nil {
		t.Errorf("id %v, want null (Grafana assigns it)", at(d, "id"))
	}
	var hasDatasourceVar bool
	for _, v := range list(d, "templating", "list") {
		if str(v, "name") == "datasource" && str(v, "type") == "datasource" && str(v, "query") == "prometheus" {
			hasDatasourceVar = true
		} else if uid := str(v, "datasource", "uid"); uid != "${datasource}" && str(v, "type") == "query" {
			t.Errorf("variable %s: datasource %q, want ${datasource}", str(v, "name"), uid)
		}
	}
	if !hasDatasourceVar {
		t.Error("no `datasource` template variable of type datasource (prometheus)")
	}
	rangeFn := regexp.MustCompile(`\b(rate|irate|increase|delta|idelta|deriv)\(`)
	titles := map[string]bool{}
	for _, p := range list(d, "panels") {
		title := str(p, "title")
		titles[title] = true
		if uid := str(p, "datasource", "uid"); uid != "${datasource}" {
			t.Errorf("panel %q: datasource %q, want ${datasource}", title, uid)
		}
		if str(p, "fieldConfig", "defaults", "unit") == "" {
			t.Errorf("panel %q: no unit", title)
		}
		if len(list(p, "targets")) == 0 {
			t.Errorf("panel %q: no query", title)
		}
		for _, tg := range list(p, "targets") {
			e := str(tg, "expr")
			if uid := str(tg, "datasource", "uid"); uid != "${datasource}" {
				t.Errorf("panel %q %s: datasource %q, want ${datasource}", title, str(tg, "refId"), uid)
			}
			if rangeFn.MatchString(e) && strings.Count(e, "[$__rate_interval]") != len(rangeFn.FindAllString(e, -1)) {
				t.Errorf("panel %q: every range function must use [$__rate_interval]: %s", title, e)
			}
			if strings.Contains(e, "txworker_") && !strings.Contains(e, `namespace=~"$namespace"`) {
				t.Errorf("panel %q: query ignores the namespace variable: %s", title, e)
			}
		}
	}
	for _, want := range []string{"Throughput by outcome", "Failures by platform code", "Platform latency quantiles",
		"In-flight orchestrations", "Settle-time quantiles", "Retries and 429s", "Poll efficiency", "Replicas ready"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}

func TestAlertsAreAnnotatedAndTested(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(deployDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ +(.+?) *$`).FindAllStringSubmatch(string(readme), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	tested := map[string]bool{}
	for _, tc := range list(readDocsFile(t, filepath.Join(deployDir, "tests", "txworker.rules_test.yaml"))[0], "tests") {
		for _, at := range list(tc, "alert_rule_test") {
			if len(list(at, "exp_alerts")) > 0 {
				tested[str(at, "alertname")] = true
			}
		}
	}
	var alerts []string
	for _, r := range rules(prometheusRuleSpec(t)) {
		name := str(r, "alert")
		if name == "" {
			continue
		}
		alerts = append(alerts, name)
		if s := str(r, "labels", "severity"); s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", name, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if str(r, "annotations", a) == "" {
				t.Errorf("%s: no %s annotation", name, a)
			}
		}
		const base = "https://github.com/txworker/txworker/blob/main/deploy/README.md#"
		if u := str(r, "annotations", "runbook_url"); !strings.HasPrefix(u, base) || !anchors[strings.TrimPrefix(u, base)] {
			t.Errorf("%s: runbook_url %q is not a section of deploy/README.md", name, u)
		}
		if !tested[name] {
			t.Errorf("%s: no promtool unit test in which it fires", name)
		}
		if !runbookNamesCommand(string(readme), name) {
			t.Errorf("%s: its runbook in deploy/README.md has no **Run:** line naming a command (txworker list|status, nats, kubectl)", name)
		}
	}
	sort.Strings(alerts)
	for _, want := range []string{"TxworkerCommandsPilingUp", "TxworkerCommandsTimedOut", "TxworkerDependencyMissing", "TxworkerFailureRatioHigh",
		"TxworkerNoReadyReplica", "TxworkerOrchestrationsNotSettling", "TxworkerPlatformRefusesTokens", "TxworkerPlatformUnreachable"} {
		if i := sort.SearchStrings(alerts, want); i == len(alerts) || alerts[i] != want {
			t.Errorf("no alert %s", want)
		}
	}
}

// runCommand is a runbook's **Run:** line: the first command to run, a
// txworker, nats or kubectl command in a code span.
var runCommand = regexp.MustCompile("(?m)^\\*\\*Run:\\*\\* `(txworker (list|status) |nats |kubectl )")

// runbookNamesCommand reports whether the section "### alert" of the README
// (up to the next heading) has a **Run:** line.
func runbookNamesCommand(readme, alert string) bool {
	_, section, ok := strings.Cut(readme, "\n### "+alert+"\n")
	if !ok {
		return false
	}
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	return runCommand.MatchString(section)
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestNATSResourcesMatchDesign checks the NACK resources against the design's
// streams, consumers and bucket (prefix "txworker"); TestNATSResourcesMatchProvisioning
// holds them to what the worker itself provisions.
func TestNATSResourcesMatchDesign(t *testing.T) {
	var docs []doc
	for _, f := range []string{"streams.yaml", "consumers.yaml", "keyvalue.yaml"} {
		docs = append(docs, readDocsFile(t, filepath.Join(deployDir, "nats", f))...)
	}
	for _, d := range docs {
		if v := str(d, "apiVersion"); v != "jetstream.nats.io/v1beta2" {
			t.Errorf("%s %s: apiVersion %q", str(d, "kind"), str(d, "metadata", "name"), v)
		}
	}
	want := map[string]map[string]any{
		"TXWORKER_COMMANDS": {"subjects": []any{"txworker.cmd.>"}, "retention": "workqueue", "storage": "file", "maxMsgSize": 1048576, "duplicateWindow": "10m",
			"maxMsgs": 1000000, "maxBytes": 1 << 30, "discard": "new"},
		"TXWORKER_EVENTS": {"subjects": []any{"txworker.evt.>"}, "retention": "limits", "storage": "file", "maxAge": "168h", "duplicateWindow": "10m",
			"maxBytes": 2 << 30, "discard": "old"},
		"TXWORKER_TRACKING": {"subjects": []any{"txworker.track.>"}, "retention": "workqueue", "storage": "file", "duplicateWindow": "10m",
			"maxMsgs": 1000000, "maxBytes": 1 << 30, "discard": "new"},
	}
	for _, s := range find(docs, "Stream", "") {
		name := str(s, "spec", "name")
		fields, ok := want[name]
		if !ok {
			t.Errorf("unexpected stream %s", name)
			continue
		}
		delete(want, name)
		for k, v := range fields {
			if got := at(s, "spec", k); !equalYAML(got, v) {
				t.Errorf("stream %s: %s = %v, want %v", name, k, got, v)
			}
		}
	}
	for name := range want {
		t.Errorf("no stream %s", name)
	}
	consumers := map[string]map[string]any{
		"worker": {"streamName": "TXWORKER_COMMANDS", "ackPolicy": "explicit", "ackWait": "30s", "maxDeliver": -1, "maxAckPending": 4096},
		"poller": {"streamName": "TXWORKER_TRACKING", "ackPolicy": "explicit", "ackWait": "15s", "maxDeliver": -1, "maxAckPending": 1000000},
	}
	for _, c := range find(docs, "Consumer", "") {
		name := str(c, "spec", "durableName")
		fields, ok := consumers[name]
		if !ok {
			t.Errorf("unexpected consumer %s", name)
			continue
		}
		delete(consumers, name)
		if str(c, "spec", "deliverSubject") != "" {
			t.Errorf("consumer %s: a push consumer, want pull", name)
		}
		for k, v := range fields {
			if got := at(c, "spec", k); !equalYAML(got, v) {
				t.Errorf("consumer %s: %s = %v, want %v", name, k, got, v)
			}
		}
	}
	for name := range consumers {
		t.Errorf("no consumer %s", name)
	}
	kv := findOne(t, docs, "KeyValue", "txworker-state")
	for k, v := range map[string]any{"bucket": "TXWORKER_STATE", "history": 1, "ttl": "168h", "storage": "file"} {
		if got := at(kv, "spec", k); !equalYAML(got, v) {
			t.Errorf("bucket: %s = %v, want %v", k, got, v)
		}
	}
}

func equalYAML(got, want any) bool {
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !equalYAML(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return got == want
	}
}

func TestScaledReplicaProblems(t *testing.T) {
	so := func(kind, name string) doc {
		ref := map[string]any{"name": name}
		if kind != "" {
			ref["kind"] = kind
		}
		return doc{"kind": "ScaledObject", "metadata": map[string]any{"name": "so"}, "spec": map[string]any{"scaleTargetRef": ref}}
	}
	dep := func(name string, replicas any) doc {
		spec := map[string]any{}
		if replicas != nil {
			spec["replicas"] = replicas
		}
		return doc{"kind": "Deployment", "metadata": map[string]any{"name": name}, "spec": spec}
	}
	for _, tc := range []struct {
		name string
		docs []doc
		want int
	}{
		{"scaled, replicas set", []doc{so("Deployment", "txworker"), dep("txworker", 3)}, 1},
		{"scaled, kind defaulted, replicas set", []doc{so("", "txworker"), dep("txworker", 1)}, 1},
		{"scaled, no replicas", []doc{so("Deployment", "txworker"), dep("txworker", nil)}, 0},
		{"another Deployment scaled", []doc{so("Deployment", "other"), dep("txworker", 3)}, 0},
		{"no ScaledObject", []doc{dep("txworker", 1)}, 0},
	} {
		if got := scaledReplicaProblems(tc.docs); len(got) != tc.want {
			t.Errorf("%s: %d problems %q, want %d", tc.name, len(got), got, tc.want)
		}
	}
}

// TestOverlaysLeaveScaledReplicasToKEDA checks the sources (the rendered
// overlays are checked by TestRenderedWorkloadsPassPolicy): an overlay with a
// ScaledObject neither sets its target's replicas (replicas: field, a patch
// of /spec/replicas) nor includes a base Deployment that sets them.
func TestOverlaysLeaveScaledReplicasToKEDA(t *testing.T) {
	overlays, err := filepath.Glob(filepath.Join(deployDir, "overlays", "*"))
	if err != nil || len(overlays) == 0 {
		t.Fatalf("no overlays (%v)", err)
	}
	baseDeps := map[string]bool{} // name → sets spec.replicas
	for _, d := range find(readDocsFile(t, filepath.Join(deployDir, "base", "deployment.yaml")), "Deployment", "") {
		baseDeps[str(d, "metadata", "name")] = at(d, "spec", "replicas") != nil
	}
	checked := 0
	for _, dir := range overlays {
		k := readDocsFile(t, filepath.Join(dir, "kustomization.yaml"))[0]
		targets := map[string]bool{}
		usesBase := false
		for _, r := range list(k, "resources") {
			res := fmt.Sprint(r)
			if filepath.Clean(filepath.Join(dir, res)) == filepath.Clean(filepath.Join(deployDir, "base")) {
				usesBase = true
			}
			if filepath.Ext(res) != ".yaml" {
				continue
			}
			for _, so := range find(readDocsFile(t, filepath.Join(dir, res)), "ScaledObject", "") {
				if kind := str(so, "spec", "scaleTargetRef", "kind"); kind == "" || kind == "Deployment" {
					targets[str(so, "spec", "scaleTargetRef", "name")] = true
				}
			}
		}
		if len(targets) == 0 {
			continue
		}
		checked++
		for _, r := range list(k, "replicas") {
			if targets[str(r, "name")] {
				t.Errorf("%s: kustomization sets replicas of %s, which KEDA scales", dir, str(r, "name"))
			}
		}
		for _, p := range list(k, "patches") {
			if targets[str(p, "target", "name")] && strings.Contains(str(p, "patch"), "/spec/replicas") {
				t.Errorf("%s: a patch sets /spec/replicas of %s, which KEDA scales", dir, str(p, "target", "name"))
			}
		}
		for name := range targets {
			if usesBase && baseDeps[name] {
				t.Errorf("%s: deploy/base/deployment.yaml sets replicas of %s, which KEDA scales in this overlay", dir, name)
			}
		}
	}
	if checked == 0 {
		t.Error("no overlay with a ScaledObject was checked")
	}
}

// TestNetworkPolicyShape checks deploy/base/networkpolicy.yaml (the rendered
// overlays are checked in TestRenderedWorkloadsPassPolicy) and that the
// shape check catches each way of opening the policy up.
func TestNetworkPolicyShape(t *testing.T) {
	base := readDocsFile(t, filepath.Join(deployDir, "base", "kustomization.yaml"))[0]
	if !slices.Contains(list(base, "resources"), any("networkpolicy.yaml")) {
		t.Error("deploy/base/kustomization.yaml does not include networkpolicy.yaml")
	}
	dep := findOne(t, readDocsFile(t, filepath.Join(deployDir, "base", "deployment.yaml")), "Deployment", "txworker")
	fresh := func() doc {
		return findOne(t, readDocsFile(t, filepath.Join(deployDir, "base", "networkpolicy.yaml")), "NetworkPolicy", "txworker")
	}
	if p := networkPolicyProblems(fresh(), dep); len(p) > 0 {
		t.Errorf("deploy/base/networkpolicy.yaml: %q", p)
	}
	egress := func(np doc, i int) map[string]any { return obj(np, "spec", "egress", i) }
	for _, tc := range []struct {
		name   string
		mutate func(np doc)
	}{
		{"egress not denied", func(np doc) { obj(np, "spec")["policyTypes"] = []any{"Ingress"} }},
		{"other pods selected", func(np doc) { obj(np, "spec")["podSelector"] = map[string]any{} }},
		{"every port to NATS", func(np doc) { delete(egress(np, 0), "ports") }},
		{"NATS port to anywhere", func(np doc) { delete(egress(np, 0), "to") }},
		{"an extra port", func(np doc) {
			egress(np, 2)["ports"] = append(list(egress(np, 2), "ports"), map[string]any{"port": 80, "protocol": "TCP"})
		}},
		{"DNS elsewhere", func(np doc) {
			obj(egress(np, 1), "to", 0, "namespaceSelector", "matchLabels")["kubernetes.io/metadata.name"] = "default"
		}},
		{"peer selector rewritten to the worker", func(np doc) {
			obj(egress(np, 0), "to", 0)["podSelector"] = map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "txworker"}}
		}},
		{"ingress from anywhere", func(np doc) { delete(obj(np, "spec", "ingress", 0), "from") }},
		{"ingress on another port", func(np doc) {
			obj(np, "spec", "ingress", 0)["ports"] = []any{map[string]any{"port": 9090, "protocol": "TCP"}}
		}},
		{"no DNS", func(np doc) { obj(np, "spec")["egress"] = []any{egress(np, 0), egress(np, 2)} }},
	} {
		np := fresh()
		tc.mutate(np)
		if p := networkPolicyProblems(np, dep); len(p) == 0 {
			t.Errorf("%s: no problem found", tc.name)
		}
	}
}
