package metrics_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Checks of the rendered manifests. .ci/deploy-check renders deploy/base,
// both overlays and deploy/nats with kustomize into $TXWORKER_RENDERED_DIR
// (base.yaml, dev.yaml, prod.yaml, nats.yaml); without it these tests skip.
// They also write, for promtool, rules/txworker.rules.yaml (the rendered
// PrometheusRule's spec) and rules/dashboard.rules.yaml (every dashboard query
// as a recording rule, Grafana variables replaced), for promtool and pint.

func renderedDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TXWORKER_RENDERED_DIR")
	if dir == "" {
		t.Skip("TXWORKER_RENDERED_DIR unset (.ci/deploy-check renders the overlays and sets it)")
	}
	return dir
}

func rendered(t *testing.T, dir, name string) []doc {
	t.Helper()
	docs := readDocsFile(t, filepath.Join(dir, name+".yaml"))
	for i, d := range docs {
		if str(d, "apiVersion") == "" || str(d, "kind") == "" || str(d, "metadata", "name") == "" {
			t.Errorf("%s document %d: no apiVersion, kind or metadata.name", name, i+1)
		}
	}
	return docs
}

func TestRenderedWorkloadsPassPolicy(t *testing.T) {
	dir := renderedDir(t)
	for _, name := range []string{"base", "dev", "prod", "nats"} {
		docs := rendered(t, dir, name)
		for _, d := range docs {
			switch str(d, "kind") {
			case "Deployment", "StatefulSet", "DaemonSet":
				for _, p := range workloadProblems(d) {
					t.Errorf("%s: %s %s: %s", name, str(d, "kind"), str(d, "metadata", "name"), p)
				}
			}
		}
		if name == "nats" {
			continue
		}
		checkWorker(t, name, docs)
	}
}

// workloadProblems applies the Pod Security "restricted" and operability policy
// to every container of a workload.
func workloadProblems(d doc) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	pod := obj(d, "spec", "template", "spec")
	if at(pod, "automountServiceAccountToken") != false {
		add("automountServiceAccountToken is not false")
	}
	podNonRoot := at(pod, "securityContext", "runAsNonRoot") == true
	podSeccomp := str(pod, "securityContext", "seccompProfile", "type")
	containers := list(pod, "containers")
	if len(containers) == 0 {
		add("no containers")
	}
	all := append(slices.Clone(containers), list(pod, "initContainers")...)
	for i, c := range all {
		name, sc := str(c, "name"), obj(c, "securityContext")
		if i < len(containers) { // init containers need no probes
			for _, probe := range []string{"livenessProbe", "readinessProbe"} {
				if obj(c, probe) == nil {
					add("container %s: no %s", name, probe)
				}
			}
		}
		for _, r := range [][]any{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"},
			{"requests", "ephemeral-storage"}, {"limits", "ephemeral-storage"}} {
			if at(c, append([]any{"resources"}, r...)...) == nil {
				add("container %s: no resources.%s.%s", name, r[0], r[1])
			}
		}
		if v, set := sc["runAsNonRoot"]; set && v != true || !set && !podNonRoot {
			add("container %s: runAsNonRoot is not true", name)
		}
		if sc["readOnlyRootFilesystem"] != true {
			add("container %s: readOnlyRootFilesystem is not true", name)
		}
		if sc["allowPrivilegeEscalation"] != false {
			add("container %s: allowPrivilegeEscalation is not false", name)
		}
		if !slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
			add("container %s: capabilities do not drop ALL", name)
		}
		if s := str(sc, "seccompProfile", "type"); s != "RuntimeDefault" && s != "Localhost" && !(s == "" && podSeccomp == "RuntimeDefault") {
			add("container %s: seccompProfile is not RuntimeDefault", name)
		}
	}
	return out
}

// checkWorker checks the txworker Deployment of an overlay against STYLE.md
// and the overlay's promises.
func checkWorker(t *testing.T, overlay string, docs []doc) {
	t.Helper()
	dep := findOne(t, docs, "Deployment", "txworker")
	pod := obj(dep, "spec", "template", "spec")
	c := obj(pod, "containers", 0)
	for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component", "app.kubernetes.io/part-of"} {
		if str(dep, "spec", "template", "metadata", "labels", l) == "" {
			t.Errorf("%s: pod template lacks label %s", overlay, l)
		}
	}
	if ports := list(c, "ports"); len(ports) != 1 || str(ports[0], "name") != "http-metrics" {
		t.Errorf("%s: ports %v, want exactly one, named http-metrics", overlay, ports)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if str(c, probe, "httpGet", "path") != path || str(c, probe, "httpGet", "port") != "http-metrics" {
			t.Errorf("%s: %s is not GET %s on http-metrics", overlay, probe, path)
		}
	}
	env := map[string]any{}
	for _, e := range list(c, "env") {
		env[str(e, "name")] = e
	}
	if str(env["GOMEMLIMIT"], "valueFrom", "resourceFieldRef", "resource") != "limits.memory" {
		t.Errorf("%s: GOMEMLIMIT does not come from limits.memory", overlay)
	}
	for name, e := range env {
		secret := strings.Contains(name, "SECRET") || strings.Contains(name, "PASSWORD") || strings.HasSuffix(name, "_TOKEN")
		if secret && !strings.HasSuffix(name, "_FILE") && obj(e, "valueFrom", "secretKeyRef") == nil {
			t.Errorf("%s: %s does not come from a Secret", overlay, name)
		}
	}
	cm := workerConfig(t, docs, c)
	for _, want := range []string{"TXWORKER_NATS_URL", "TXWORKER_SUBJECT_PREFIX", "TXWORKER_STREAM_REPLICAS", "TXWORKER_PLATFORM_URL",
		"TXWORKER_ALLOW_INSECURE_HTTP", "TXWORKER_HTTP_ADDR", "TXWORKER_CONCURRENCY", "TXWORKER_PLATFORM_RPS",
		"TXWORKER_POLL_INTERVAL", "TXWORKER_POLL_MAX_INTERVAL", "TXWORKER_SETTLE_TIMEOUT", "TXWORKER_LOG_LEVEL"} {
		if cm[want] == "" && !(overlay == "base" && want == "TXWORKER_PLATFORM_URL") { // overlays set the URL
			t.Errorf("%s: ConfigMap lacks %s", overlay, want)
		}
	}
	if !strings.HasSuffix(cm["TXWORKER_HTTP_ADDR"], fmt.Sprintf(":%v", at(c, "ports", 0, "containerPort"))) {
		t.Errorf("%s: TXWORKER_HTTP_ADDR %q does not listen on the container port", overlay, cm["TXWORKER_HTTP_ADDR"])
	}
	drain, err := time.ParseDuration(cm["TXWORKER_SHUTDOWN_TIMEOUT"])
	grace, _ := at(pod, "terminationGracePeriodSeconds").(int)
	if err != nil || time.Duration(grace)*time.Second < drain+10*time.Second {
		t.Errorf("%s: terminationGracePeriodSeconds %d is not well above the drain budget %q", overlay, grace, cm["TXWORKER_SHUTDOWN_TIMEOUT"])
	}
	checkNetworkPolicy(t, overlay, docs, dep, cm["TXWORKER_NATS_URL"])
	replicas, _ := at(dep, "spec", "replicas").(int)
	for _, p := range scaledReplicaProblems(docs) {
		t.Errorf("%s: %s", overlay, p)
	}
	switch overlay {
	case "dev":
		if replicas != 1 {
			t.Errorf("dev: %d replicas, want 1", replicas)
		}
		findOne(t, docs, "StatefulSet", "nats")
		svc := findOne(t, docs, "Service", "nats")
		if cm["TXWORKER_NATS_URL"] != "nats://nats:4222" || at(svc, "spec", "ports", 0, "port") != 4222 {
			t.Errorf("dev: TXWORKER_NATS_URL %q does not point at the in-cluster NATS service", cm["TXWORKER_NATS_URL"])
		}
	case "prod":
		if cm["TXWORKER_STREAM_REPLICAS"] != "3" {
			t.Errorf("prod: stream replicas %q, want 3", cm["TXWORKER_STREAM_REPLICAS"])
		}
		pdb := findOne(t, docs, "PodDisruptionBudget", "txworker")
		if str(pdb, "spec", "unhealthyPodEvictionPolicy") != "AlwaysAllow" ||
			!reflect.DeepEqual(obj(pdb, "spec", "selector", "matchLabels"), obj(dep, "spec", "selector", "matchLabels")) {
			t.Errorf("prod: the PodDisruptionBudget does not select the worker with unhealthyPodEvictionPolicy AlwaysAllow")
		}
		so := findOne(t, docs, "ScaledObject", "txworker")
		trig := obj(so, "spec", "triggers", 0)
		if str(so, "spec", "scaleTargetRef", "name") != "txworker" || str(trig, "type") != "nats-jetstream" ||
			str(trig, "metadata", "stream") != "TXWORKER_COMMANDS" || str(trig, "metadata", "consumer") != "worker" {
			t.Errorf("prod: the ScaledObject does not scale txworker on the worker consumer of TXWORKER_COMMANDS")
		}
		if least, _ := at(so, "spec", "minReplicaCount").(int); least != 3 {
			t.Errorf("prod: KEDA minReplicaCount %d, want 3", least)
		}
	}
}

// scaledReplicaProblems names every Deployment that a ScaledObject scales and
// that still sets spec.replicas: each apply or GitOps sync would reset the
// count KEDA chose (and ScaledObject.minReplicaCount holds the floor anyway).
func scaledReplicaProblems(docs []doc) []string {
	var out []string
	for _, so := range find(docs, "ScaledObject", "") {
		ref := obj(so, "spec", "scaleTargetRef")
		kind := str(ref, "kind")
		if kind == "" {
			kind = "Deployment" // KEDA's default
		}
		for _, d := range find(docs, kind, str(ref, "name")) {
			if r := at(d, "spec", "replicas"); r != nil {
				out = append(out, fmt.Sprintf("%s %s sets spec.replicas %v but ScaledObject %s scales it: remove it (minReplicaCount is the floor)",
					kind, str(d, "metadata", "name"), r, str(so, "metadata", "name")))
			}
		}
	}
	return out
}

// workerConfig returns the data of the ConfigMap the container takes its environment from.
func workerConfig(t *testing.T, docs []doc, c map[string]any) map[string]string {
	t.Helper()
	name := str(c, "envFrom", 0, "configMapRef", "name")
	cm := findOne(t, docs, "ConfigMap", name)
	out := map[string]string{}
	for k, v := range obj(cm, "data") {
		out[k], _ = v.(string)
	}
	return out
}

func TestRenderedObservabilityMatchesSources(t *testing.T) {
	dir := renderedDir(t)
	_, rawDashboard := dashboard(t)
	var source any
	if err := json.Unmarshal(rawDashboard, &source); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	wantSpec := prometheusRuleSpec(t)
	for _, name := range []string{"base", "dev", "prod"} {
		docs := rendered(t, dir, name)
		cm := findOne(t, docs, "ConfigMap", "txworker-dashboard")
		if str(cm, "metadata", "labels", "grafana_dashboard") != "1" {
			t.Errorf("%s: dashboard ConfigMap lacks label grafana_dashboard: \"1\"", name)
		}
		var got any
		if err := json.Unmarshal([]byte(str(cm, "data", "txworker.json")), &got); err != nil || !reflect.DeepEqual(got, source) {
			t.Errorf("%s: dashboard ConfigMap does not hold the dashboard JSON (%v)", name, err)
		}
		pr := findOne(t, docs, "PrometheusRule", "txworker")
		if !reflect.DeepEqual(obj(pr, "spec"), wantSpec) {
			t.Errorf("%s: rendered PrometheusRule spec differs from deploy/base/prometheusrule.yaml", name)
		}
		pm := findOne(t, docs, "PodMonitor", "txworker")
		if str(pm, "spec", "podMetricsEndpoints", 0, "port") != "http-metrics" {
			t.Errorf("%s: PodMonitor does not scrape port http-metrics", name)
		}
	}
	if t.Failed() {
		return
	}
	exportForPromtool(t, dir, wantSpec, source.(map[string]any))
}

// exportForPromtool writes the rules and the dashboard's queries as rule files.
func exportForPromtool(t *testing.T, dir string, spec doc, dash doc) {
	t.Helper()
	out := filepath.Join(dir, "rules")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	writeYAML(t, filepath.Join(out, "txworker.rules.yaml"), spec)
	// Grafana's variables as Grafana would substitute them; $namespace is a
	// regexp matcher's value, "All" selects every namespace.
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$namespace", ".+")
	exprs := dashboardExprs(dash)
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var recs []map[string]any
	for _, k := range keys {
		var id int
		var ref string
		if _, err := fmt.Sscanf(k, "panel %d %s", &id, &ref); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		recs = append(recs, map[string]any{"record": fmt.Sprintf("dashboard:panel_%d_%s", id, ref), "expr": grafana.Replace(exprs[k])})
	}
	writeYAML(t, filepath.Join(out, "dashboard.rules.yaml"), map[string]any{
		"groups": []any{map[string]any{"name": "dashboard-queries", "rules": recs}},
	})
	t.Logf("wrote %s/txworker.rules.yaml and %s/dashboard.rules.yaml (%d queries)", out, out, len(recs))
}

// networkPolicyProblems checks the worker's NetworkPolicy against the worker
// Deployment: default deny both ways for exactly the worker's pods; ingress
// only to the metrics port from selected namespaces; egress only to NATS
// (4222), DNS (53 UDP/TCP in kube-system) and HTTPS (443, any address); no
// peer selector that kustomize pointed at the worker's own labels.
func networkPolicyProblems(np, dep doc) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	types := map[string]bool{}
	for _, p := range list(np, "spec", "policyTypes") {
		types[fmt.Sprint(p)] = true
	}
	if len(types) != 2 || !types["Ingress"] || !types["Egress"] {
		add("policyTypes %v, want Ingress and Egress (default deny both ways)", list(np, "spec", "policyTypes"))
	}
	sel := obj(dep, "spec", "selector", "matchLabels")
	if !reflect.DeepEqual(obj(np, "spec", "podSelector", "matchLabels"), sel) || obj(np, "spec", "podSelector", "matchExpressions") != nil {
		add("podSelector %v does not select exactly the worker's pods %v", obj(np, "spec", "podSelector"), sel)
	}
	peers := func(rule any, key string) []any { return list(rule, key) }
	checkPeer := func(where string, p any) {
		if obj(p, "ipBlock") != nil {
			add("%s: an ipBlock peer", where)
		}
		if obj(p, "namespaceSelector") == nil && obj(p, "podSelector") == nil {
			add("%s: a peer without selectors", where)
		}
		if ps := obj(p, "podSelector"); ps != nil {
			if len(obj(ps, "matchLabels")) == 0 && len(list(ps, "matchExpressions")) == 0 {
				add("%s: a podSelector that selects every pod", where)
			}
			for k, v := range obj(ps, "matchLabels") {
				if sel[k] == v {
					add("%s: podSelector has the worker's own label %s=%v (kustomize includeSelectors?)", where, k, v)
				}
			}
		}
		if ns := obj(p, "namespaceSelector"); ns != nil && len(obj(ns, "matchLabels")) == 0 && len(list(ns, "matchExpressions")) == 0 {
			add("%s: a namespaceSelector that selects every namespace", where)
		}
	}
	ingress := list(np, "spec", "ingress")
	if len(ingress) != 1 {
		add("%d ingress rules, want 1 (the metrics port)", len(ingress))
	}
	for i, r := range ingress {
		if ports := list(r, "ports"); len(ports) != 1 || fmt.Sprint(at(ports[0], "port")) != "http-metrics" || str(ports[0], "protocol") != "TCP" {
			add("ingress %d: ports %v, want only http-metrics/TCP", i, ports)
		}
		if len(peers(r, "from")) == 0 {
			add("ingress %d: from anywhere, want the monitoring namespace", i)
		}
		for _, p := range peers(r, "from") {
			checkPeer(fmt.Sprintf("ingress %d", i), p)
			if obj(p, "namespaceSelector") == nil {
				add("ingress %d: a peer without namespaceSelector (only the worker's own namespace)", i)
			}
		}
	}
	want := map[string]bool{"4222/TCP": false, "53/UDP": false, "53/TCP": false, "443/TCP": false}
	for i, r := range list(np, "spec", "egress") {
		ports := list(r, "ports")
		if len(ports) == 0 {
			add("egress %d: every port", i)
		}
		open := len(peers(r, "to")) == 0
		for _, p := range ports {
			key := fmt.Sprintf("%v/%s", at(p, "port"), str(p, "protocol"))
			seen, known := want[key]
			switch {
			case !known:
				add("egress %d: port %s is none of NATS, DNS, HTTPS", i, key)
			case seen:
				add("egress %d: port %s allowed twice", i, key)
			}
			want[key] = true
			if open && key != "443/TCP" {
				add("egress %d: port %s to any address, want selected peers", i, key)
			}
			if at(p, "endPort") != nil {
				add("egress %d: a port range", i)
			}
		}
		for _, p := range peers(r, "to") {
			checkPeer(fmt.Sprintf("egress %d", i), p)
			if fmt.Sprint(at(ports, 0, "port")) == "53" && (str(p, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name") != "kube-system" ||
				!selects(obj(p, "podSelector"), map[string]any{"k8s-app": "kube-dns"})) {
				add("egress %d: DNS goes to %v, want kube-system's kube-dns pods", i, p)
			}
		}
	}
	for k, seen := range want {
		if !seen {
			add("egress: port %s not allowed", k)
		}
	}
	return out
}

// selects reports whether a label selector (matchLabels, matchExpressions
// with In, NotIn, Exists, DoesNotExist) selects an object with these labels.
func selects(sel map[string]any, labels map[string]any) bool {
	if sel == nil {
		return false
	}
	for k, v := range obj(sel, "matchLabels") {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range list(sel, "matchExpressions") {
		v, has := labels[str(e, "key")]
		in := slices.Contains(list(e, "values"), v)
		switch str(e, "operator") {
		case "In":
			if !has || !in {
				return false
			}
		case "NotIn":
			if has && in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// checkNetworkPolicy checks an overlay's worker NetworkPolicy, and that its
// NATS peer is where TXWORKER_NATS_URL points: the same namespace for a bare
// service name (and then the NATS pods rendered there), else the namespace
// of name.namespace.svc….
func checkNetworkPolicy(t *testing.T, overlay string, docs []doc, dep doc, natsURL string) {
	t.Helper()
	np := findOne(t, docs, "NetworkPolicy", "txworker")
	for _, p := range networkPolicyProblems(np, dep) {
		t.Errorf("%s: NetworkPolicy: %s", overlay, p)
	}
	var nats []any
	for _, r := range list(np, "spec", "egress") {
		if fmt.Sprint(at(r, "ports", 0, "port")) == "4222" {
			nats = list(r, "to")
		}
	}
	if len(nats) != 1 {
		t.Errorf("%s: NATS egress peers %v (one expected)", overlay, nats)
		return
	}
	peer := nats[0]
	// Every server of the list: a service (nats, nats.NS.svc…) or a pod of
	// a StatefulSet by its stable name (nats-0.nats-headless.NS.svc…).
	for _, one := range strings.Split(natsURL, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if err != nil || u.Port() != "4222" {
			t.Errorf("%s: NATS URL %q: port 4222 expected", overlay, one)
			continue
		}
		host := strings.Split(u.Hostname(), ".")
		if len(host) == 1 {
			if obj(peer, "namespaceSelector") != nil {
				t.Errorf("%s: NATS %q is in the worker's namespace, the NetworkPolicy lets the worker reach NATS in %v", overlay, one, obj(peer, "namespaceSelector"))
			}
			sts := findOne(t, docs, "StatefulSet", host[0])
			if !selects(obj(peer, "podSelector"), obj(sts, "spec", "template", "metadata", "labels")) {
				t.Errorf("%s: the NetworkPolicy's NATS peer %v does not select the pods of StatefulSet %s", overlay, peer, host[0])
			}
			continue
		}
		ns := host[1]
		if i := slices.Index(host, "svc"); i >= 2 {
			ns = host[i-1]
		}
		if got := str(peer, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"); got != ns {
			t.Errorf("%s: NATS %q is in namespace %s, the NetworkPolicy lets the worker reach NATS in namespace %q", overlay, one, ns, got)
		}
	}
}
