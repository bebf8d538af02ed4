package metrics_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// nackDocs returns the NACK resources of deploy/nats.
func nackDocs(t *testing.T) []doc {
	t.Helper()
	var docs []doc
	for _, f := range []string{"streams.yaml", "consumers.yaml", "keyvalue.yaml"} {
		docs = append(docs, readDocsFile(t, filepath.Join(deployDir, "nats", f))...)
	}
	return docs
}

// nackValue is a NACK spec field as the server would hold it: the CRD's
// default when the field is absent (limits -1, durations 0, discard old).
func nackValue(t *testing.T, d doc, field string) string {
	t.Helper()
	v := at(d, "spec", field)
	switch field {
	case "maxMsgs", "maxBytes", "maxMsgSize", "maxDeliver", "maxAckPending":
		if v == nil {
			return "-1"
		}
	case "maxAge", "duplicateWindow", "ackWait", "ttl":
		if v == nil {
			return "0s"
		}
		dur, err := time.ParseDuration(fmt.Sprint(v))
		if err != nil {
			t.Errorf("%s %s: %s %q is not a duration", str(d, "kind"), str(d, "metadata", "name"), field, v)
		}
		return dur.String()
	case "discard":
		if v == nil {
			return "old"
		}
	case "subjects":
		var s []string
		for _, x := range list(d, "spec", field) {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}

// TestNATSResourcesMatchProvisioning provisions JetStream with the worker's
// own code (default settings) and holds deploy/nats's NACK resources to what
// the server then reports, field by field, absent fields taken at the CRD's
// default. Replicas are left out: NACK's are for a cluster, the embedded
// server has one node.
func TestNATSResourcesMatchProvisioning(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := queue.Connect(ctx, queue.Config{URL: url, Provision: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Drain() }()
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t, url)
	docs := nackDocs(t)

	dur := func(d time.Duration) string { return d.String() }
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	streams := find(docs, "Stream", "")
	if len(streams) != 3 {
		t.Errorf("%d NACK streams, want 3", len(streams))
	}
	for _, d := range streams {
		name := str(d, "spec", "name")
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("NACK stream %s: the worker provisions no such stream: %v", name, err)
			continue
		}
		c := s.CachedInfo().Config
		for field, got := range map[string]string{
			"description":     c.Description,
			"subjects":        strings.Join(c.Subjects, ","),
			"retention":       map[jetstream.RetentionPolicy]string{jetstream.LimitsPolicy: "limits", jetstream.WorkQueuePolicy: "workqueue", jetstream.InterestPolicy: "interest"}[c.Retention],
			"storage":         map[jetstream.StorageType]string{jetstream.FileStorage: "file", jetstream.MemoryStorage: "memory"}[c.Storage],
			"maxMsgs":         itoa(c.MaxMsgs),
			"maxBytes":        itoa(c.MaxBytes),
			"discard":         map[jetstream.DiscardPolicy]string{jetstream.DiscardOld: "old", jetstream.DiscardNew: "new"}[c.Discard],
			"maxAge":          dur(c.MaxAge),
			"maxMsgSize":      itoa(int64(c.MaxMsgSize)),
			"duplicateWindow": dur(c.Duplicates),
		} {
			if want := nackValue(t, d, field); want != got {
				t.Errorf("stream %s: NACK %s = %s, the worker provisions %s", name, field, want, got)
			}
		}
	}
	consumers := find(docs, "Consumer", "")
	if len(consumers) != 2 {
		t.Errorf("%d NACK consumers, want 2", len(consumers))
	}
	for _, d := range consumers {
		stream, name := str(d, "spec", "streamName"), str(d, "spec", "durableName")
		c, err := js.Consumer(ctx, stream, name)
		if err != nil {
			t.Errorf("NACK consumer %s on %s: the worker provisions no such consumer: %v", name, stream, err)
			continue
		}
		cc := c.CachedInfo().Config
		for field, got := range map[string]string{
			"description":   cc.Description,
			"deliverPolicy": map[jetstream.DeliverPolicy]string{jetstream.DeliverAllPolicy: "all", jetstream.DeliverNewPolicy: "new", jetstream.DeliverLastPolicy: "last"}[cc.DeliverPolicy],
			"ackPolicy":     map[jetstream.AckPolicy]string{jetstream.AckExplicitPolicy: "explicit", jetstream.AckAllPolicy: "all", jetstream.AckNonePolicy: "none"}[cc.AckPolicy],
			"ackWait":       dur(cc.AckWait),
			"maxDeliver":    itoa(int64(cc.MaxDeliver)),
			"maxAckPending": itoa(int64(cc.MaxAckPending)),
			"replayPolicy":  map[jetstream.ReplayPolicy]string{jetstream.ReplayInstantPolicy: "instant", jetstream.ReplayOriginalPolicy: "original"}[cc.ReplayPolicy],
		} {
			if want := nackValue(t, d, field); want != got {
				t.Errorf("consumer %s: NACK %s = %s, the worker provisions %s", name, field, want, got)
			}
		}
	}
	kvs := find(docs, "KeyValue", "")
	if len(kvs) != 1 {
		t.Fatalf("%d NACK key-value buckets, want 1", len(kvs))
	}
	name := str(kvs[0], "spec", "bucket")
	kv, err := js.KeyValue(ctx, name)
	if err != nil {
		t.Fatalf("NACK bucket %s: the worker provisions no such bucket: %v", name, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	backing, err := js.Stream(ctx, "KV_"+name)
	if err != nil {
		t.Fatal(err)
	}
	si := backing.CachedInfo()
	for field, got := range map[string]string{
		"description": si.Config.Description,
		"history":     itoa(st.History()),
		"ttl":         dur(st.TTL()),
		"storage":     map[jetstream.StorageType]string{jetstream.FileStorage: "file", jetstream.MemoryStorage: "memory"}[si.Config.Storage],
		"maxBytes":    itoa(si.Config.MaxBytes),
	} {
		if want := nackValue(t, kvs[0], field); want != got {
			t.Errorf("bucket %s: NACK %s = %s, the worker provisions %s", name, field, want, got)
		}
	}
}

// TestNATSResourcesSurviveDeletion: every NACK resource keeps its JetStream
// asset when the resource is deleted (kubectl delete -k, a GitOps prune).
func TestNATSResourcesSurviveDeletion(t *testing.T) {
	docs := nackDocs(t)
	if len(docs) < 6 {
		t.Fatalf("%d NACK resources, want 6", len(docs))
	}
	for _, d := range docs {
		if at(d, "spec", "preventDelete") != true {
			t.Errorf("%s %s: spec.preventDelete is not true: deleting the resource deletes its data", str(d, "kind"), str(d, "metadata", "name"))
		}
	}
}

// TestAckWaitAgrees holds every statement of the command consumer's ack wait
// to one value: the binary's flag default (cmd/txworker/config.go, read as Go
// source), queue.DefaultAckWait, deploy/base/config.env, the NACK consumer
// and the README's settings table.
func TestAckWaitAgrees(t *testing.T) {
	values := map[string]string{}
	norm := func(where, s string) {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Errorf("%s: ack wait %q is not a duration", where, s)
			return
		}
		values[where] = d.String()
	}
	norm("cmd/txworker/config.go ack-wait default", flagDefault(t, filepath.Join("..", "cmd", "txworker", "config.go"), "ack-wait"))
	norm("queue.DefaultAckWait", queue.DefaultAckWait.String())

	env, err := os.ReadFile(filepath.Join(deployDir, "base", "config.env"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TXWORKER_ACK_WAIT=(.*)$`).FindSubmatch(env)
	if m == nil {
		t.Fatal("deploy/base/config.env sets no TXWORKER_ACK_WAIT")
	}
	norm("deploy/base/config.env", strings.TrimSpace(string(m[1])))

	worker := find(nackDocs(t), "Consumer", "txworker-worker")
	if len(worker) != 1 {
		t.Fatal("no NACK consumer txworker-worker")
	}
	norm("deploy/nats/consumers.yaml worker", str(worker[0], "spec", "ackWait"))

	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile("(?m)^\\| `TXWORKER_ACK_WAIT` \\| `([^`]*)` \\|").FindSubmatch(readme); m != nil {
		norm("README.md settings table", string(m[1]))
	} else {
		t.Error("README.md: no TXWORKER_ACK_WAIT row in the settings table")
	}

	want := values["cmd/txworker/config.go ack-wait default"]
	for where, v := range values {
		if v != want {
			t.Errorf("%s: ack wait %s, the binary's default is %s", where, v, want)
		}
	}
}

// flagDefault returns the def of the setting named name in a Go source file
// of settings literals ({name: "…", def: "…", …}).
func flagDefault(t *testing.T, path, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var def string
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		fields := map[string]string{}
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			k, ok1 := kv.Key.(*ast.Ident)
			v, ok2 := kv.Value.(*ast.BasicLit)
			if ok1 && ok2 && v.Kind == token.STRING {
				fields[k.Name], _ = strconv.Unquote(v.Value)
			}
		}
		if fields["name"] == name {
			def, found = fields["def"], true
			return false
		}
		return true
	})
	if !found {
		t.Fatalf("%s: no setting %q", path, name)
	}
	return def
}
