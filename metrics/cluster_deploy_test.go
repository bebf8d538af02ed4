package metrics_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/queue"
)

// The three-node NATS cluster of deploy/nats/values.yaml (the official Helm
// chart's values) held to what the worker provisions and to the prod overlay.

// natsRelease and natsNamespace are the Helm release and namespace that
// deploy/nats/values.yaml tells to install into; the prod overlay's URLs,
// NetworkPolicy and ScaledObject name them.
const natsRelease, natsNamespace = "nats", "nats"

// overlayLiterals returns the configMapGenerator literals of an overlay's
// kustomization (KEY=value).
func overlayLiterals(t *testing.T, overlay string) map[string]string {
	t.Helper()
	k := readDocsFile(t, filepath.Join(deployDir, "overlays", overlay, "kustomization.yaml"))[0]
	out := map[string]string{}
	for _, g := range list(k, "configMapGenerator") {
		for _, l := range list(g, "literals") {
			key, value, _ := strings.Cut(fmt.Sprint(l), "=")
			out[key] = value
		}
	}
	return out
}

// byteSize parses a Kubernetes quantity (10Gi) or a NATS size (1MB, powers of
// 1024 as nats-server reads them).
func byteSize(t *testing.T, s string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)\s*([KMGT]?)(i|B|iB)?$`).FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		t.Fatalf("size %q does not parse", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n << map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
}

// TestNATSClusterMatchesWorker: deploy/nats/values.yaml describes a
// three-node JetStream cluster on file storage; the prod overlay provisions
// as many replicas as it has nodes and lists every node in TXWORKER_NATS_URL;
// every NACK stream and the bucket have that many replicas (consumers inherit
// their stream's, as the worker's own provisioning does); the volumes hold
// the streams' limits and the payload limit admits their largest message.
func TestNATSClusterMatchesWorker(t *testing.T) {
	v := readDocsFile(t, filepath.Join(deployDir, "nats", "values.yaml"))[0]
	if at(v, "config", "cluster", "enabled") != true {
		t.Error("values.yaml: config.cluster.enabled is not true")
	}
	nodes, _ := at(v, "config", "cluster", "replicas").(int)
	if nodes != 3 {
		t.Errorf("values.yaml: config.cluster.replicas %d, want 3 (issue 17: a three-node cluster)", nodes)
	}
	if at(v, "config", "jetstream", "enabled") != true || at(v, "config", "jetstream", "fileStore", "enabled") != true ||
		at(v, "config", "jetstream", "fileStore", "pvc", "enabled") != true {
		t.Error("values.yaml: JetStream with a file store on a persistent volume is not enabled")
	}
	if at(v, "config", "jetstream", "memoryStore", "enabled") == true {
		t.Error("values.yaml: a memory store is enabled; the worker's streams and bucket are file-backed")
	}
	if at(v, "config", "monitor", "enabled") != true || at(v, "config", "monitor", "port") != 8222 {
		t.Error("values.yaml: the monitoring port 8222 (probes, KEDA) is not enabled")
	}

	prod := overlayLiterals(t, "prod")
	if got := prod["TXWORKER_STREAM_REPLICAS"]; got != strconv.Itoa(nodes) {
		t.Errorf("prod: TXWORKER_STREAM_REPLICAS %q, want %d (one replica per node)", got, nodes)
	}
	var want, got []string
	for i := range nodes {
		want = append(want, fmt.Sprintf("%s-%d.%s-headless.%s.svc.cluster.local:4222", natsRelease, i, natsRelease, natsNamespace))
	}
	for _, u := range strings.Split(prod["TXWORKER_NATS_URL"], ",") {
		got = append(got, strings.TrimPrefix(strings.TrimSpace(u), "nats://"))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("prod: TXWORKER_NATS_URL lists %v, want every node of the cluster: %v", got, want)
	}
	replicas, _ := strconv.Atoi(prod["TXWORKER_STREAM_REPLICAS"])
	if err := (queue.Config{URL: prod["TXWORKER_NATS_URL"], Replicas: replicas}).Validate(); err != nil {
		t.Errorf("prod: the worker refuses its NATS settings: %v", err)
	}
	so := findOne(t, readDocsFile(t, filepath.Join(deployDir, "overlays", "prod", "scaledobject.yaml")), "ScaledObject", "txworker")
	if ep := str(so, "spec", "triggers", 0, "metadata", "natsServerMonitoringEndpoint"); ep != fmt.Sprintf("%s-headless.%s.svc.cluster.local:8222", natsRelease, natsNamespace) {
		t.Errorf("prod: KEDA's natsServerMonitoringEndpoint %q is not the cluster's headless service (KEDA asks {leader}.{endpoint})", ep)
	}

	docs := nackDocs(t)
	var reserved int64
	maxMsg := int64(0)
	for _, d := range find(docs, "Stream", "") {
		if r, _ := at(d, "spec", "replicas").(int); r != nodes {
			t.Errorf("NACK stream %s: replicas %d, want %d", str(d, "spec", "name"), r, nodes)
		}
		if b, ok := at(d, "spec", "maxBytes").(int); ok {
			reserved += int64(b)
		}
		if m, ok := at(d, "spec", "maxMsgSize").(int); ok {
			maxMsg = max(maxMsg, int64(m))
		}
	}
	for _, d := range find(docs, "KeyValue", "") {
		if r, _ := at(d, "spec", "replicas").(int); r != nodes {
			t.Errorf("NACK bucket %s: replicas %d, want %d", str(d, "spec", "bucket"), r, nodes)
		}
	}
	for _, d := range find(docs, "Consumer", "") {
		if r := at(d, "spec", "replicas"); r != nil && r != nodes {
			t.Errorf("NACK consumer %s: replicas %v, want its stream's (%d) or none (inherited)", str(d, "spec", "durableName"), r, nodes)
		}
	}
	if reserved < 4<<30 {
		t.Errorf("NACK streams reserve %d bytes, want the 4 GiB deploy/README.md sizes", reserved)
	}
	if vol := byteSize(t, str(v, "config", "jetstream", "fileStore", "pvc", "size")); vol < reserved*2 {
		t.Errorf("values.yaml: a %d-byte volume per node, want at least twice the %d bytes the streams reserve (room for the state bucket)", vol, reserved)
	}
	if p := byteSize(t, str(v, "config", "merge", "max_payload")); p < maxMsg {
		t.Errorf("values.yaml: max_payload %d bytes is below the streams' maxMsgSize %d", p, maxMsg)
	}
}

// TestTrackingAckWaitAgrees holds every statement of the tracking consumer's
// ack wait to one value, as TestAckWaitAgrees does the command consumer's:
// the binary's flag default, queue.DefaultTrackingAckWait,
// deploy/base/config.env, the NACK poller consumer and the README's settings
// table.
func TestTrackingAckWaitAgrees(t *testing.T) {
	values := map[string]string{}
	norm := func(where, s string) {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Errorf("%s: tracking ack wait %q is not a duration", where, s)
			return
		}
		values[where] = d.String()
	}
	const flag = "cmd/txworker/config.go tracking-ack-wait default"
	norm(flag, flagDefault(t, filepath.Join("..", "cmd", "txworker", "config.go"), "tracking-ack-wait"))
	norm("queue.DefaultTrackingAckWait", queue.DefaultTrackingAckWait.String())

	env, err := os.ReadFile(filepath.Join(deployDir, "base", "config.env"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^TXWORKER_TRACKING_ACK_WAIT=(.*)$`).FindSubmatch(env); m != nil {
		norm("deploy/base/config.env", strings.TrimSpace(string(m[1])))
	} else {
		t.Error("deploy/base/config.env sets no TXWORKER_TRACKING_ACK_WAIT")
	}
	poller := find(nackDocs(t), "Consumer", "txworker-poller")
	if len(poller) != 1 {
		t.Fatal("no NACK consumer txworker-poller")
	}
	norm("deploy/nats/consumers.yaml poller", str(poller[0], "spec", "ackWait"))

	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile("(?m)^\\| `TXWORKER_TRACKING_ACK_WAIT` \\| `([^`]*)` \\|").FindSubmatch(readme); m != nil {
		norm("README.md settings table", string(m[1]))
	} else {
		t.Error("README.md: no TXWORKER_TRACKING_ACK_WAIT row in the settings table")
	}
	for where, v := range values {
		if v != values[flag] {
			t.Errorf("%s: tracking ack wait %s, the binary's default is %s", where, v, values[flag])
		}
	}
}
