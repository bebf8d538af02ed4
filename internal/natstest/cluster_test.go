package natstest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
)

// connect opens a connection to every node of c that reconnects forever.
func connect(t *testing.T, urls string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// publish publishes until the stream acknowledges (a leader election may
// be under way), with the same message id each time.
func publish(ctx context.Context, t *testing.T, js jetstream.JetStream, subj, id string) {
	t.Helper()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.Publish(pctx, subj, []byte(id), jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond) // a retry's pause, not a synchronisation
	}
}

// streamLeader waits until stream has a leader and returns it.
func streamLeader(ctx context.Context, t *testing.T, c *natstest.Cluster, stream string) int {
	t.Helper()
	for {
		// One short attempt at a time: while the stream has no leader its
		// info request goes unanswered until the context ends.
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		i, err := c.StreamLeader(actx, stream)
		cancel()
		if err == nil {
			return i
		}
		if ctx.Err() != nil {
			t.Fatalf("leader of %s: %v", stream, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// messages waits until stream holds want messages.
func messages(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, want uint64) {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := js.Stream(actx, stream)
		cancel()
		if err == nil && st.CachedInfo().State.Msgs == want {
			return
		}
		if err == nil {
			err = fmt.Errorf("%d messages", st.CachedInfo().State.Msgs)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("stream %s: want %d messages: %v", stream, want, last)
}

func TestClusterShape(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	if c.Size() != 3 {
		t.Fatalf("size %d", c.Size())
	}
	urls := strings.Split(c.URLs(), ",")
	if len(urls) != 3 {
		t.Fatalf("URLs %q: want 3", c.URLs())
	}
	names := map[string]bool{}
	stores := map[string]bool{}
	for i := range 3 {
		if urls[i] != c.URL(i) {
			t.Errorf("URLs()[%d] %q, URL(%d) %q", i, urls[i], i, c.URL(i))
		}
		if !strings.HasPrefix(c.URL(i), "nats://127.0.0.1:") {
			t.Errorf("node %d URL %q: not loopback", i, c.URL(i))
		}
		names[c.Name(i)] = true
		stores[c.Node(i).StoreDir()] = true
	}
	if len(names) != 3 || len(stores) != 3 {
		t.Errorf("names %v, stores %v: want 3 of each", names, stores)
	}
	if c.MetaLeader() < 0 {
		t.Error("no meta leader after StartCluster")
	}
}

// A stream replicated three times keeps its messages and goes on taking
// new ones through a stop and a restart of its leader, and a key-value
// bucket's stream (KV_{bucket}) has a leader to find too.
func TestClusterStreamSurvivesLeaderRestart(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	js := connect(t, c.URLs())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if i := streamLeader(ctx, t, c, "KV_B"); i < 0 || i > 2 {
		t.Fatalf("bucket leader %d", i)
	}
	publish(ctx, t, js, "s.1", "m1")

	old := streamLeader(ctx, t, c, "S")
	c.Stop(old)
	if c.Running(old) {
		t.Fatal("running after Stop")
	}
	// The two others elect a leader among themselves and take messages.
	if now := streamLeader(ctx, t, c, "S"); now == old {
		t.Fatalf("leader %d still leads while stopped", now)
	}
	publish(ctx, t, js, "s.2", "m2")
	url := c.URL(old)
	if err := c.Restart(old); err != nil {
		t.Fatal(err)
	}
	if !c.Running(old) || c.URL(old) != url {
		t.Fatalf("after restart: running %v, url %q, want %q", c.Running(old), c.URL(old), url)
	}
	publish(ctx, t, js, "s.3", "m3")
	messages(ctx, t, js, "S", 3)
	// The restarted node has rejoined: with another node stopped, it is
	// part of the quorum of two that takes the next message.
	other := (old + 1) % 3
	c.Stop(other)
	publish(ctx, t, js, "s.4", "m4")
	messages(ctx, t, js, "S", 4)
	// The bucket's leader may have been the node just stopped: its stream
	// answers once the two others have elected a new one.
	for {
		e, err := kv.Get(ctx, "k")
		if err == nil && string(e.Value()) == "v" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("bucket with node %d back and node %d stopped: %v", old, other, err)
		}
		time.Sleep(100 * time.Millisecond) // an election takes a few seconds
	}
	if err := c.Restart(other); err != nil {
		t.Fatal(err)
	}
}

// A node lost for good (its store deleted) leaves a cluster of two that
// still takes messages on a stream replicated three times; the lost node
// cannot come back, and the others' URLs are what URLs lists.
func TestClusterRemoveLeavesTwo(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	js := connect(t, c.URLs())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	publish(ctx, t, js, "s.1", "m1")
	lost := streamLeader(ctx, t, c, "S")
	store := c.Node(lost).StoreDir()
	if err := c.Remove(lost); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("store of the removed node: %v", err)
	}
	if !c.Removed(lost) || c.Running(lost) {
		t.Fatalf("removed %v, running %v", c.Removed(lost), c.Running(lost))
	}
	if got := strings.Split(c.URLs(), ","); len(got) != 2 || strings.Contains(c.URLs(), c.URL(lost)) {
		t.Errorf("URLs after Remove: %q", c.URLs())
	}
	if err := c.Restart(lost); err == nil {
		t.Error("Restart of a removed node succeeded")
	}
	if now := streamLeader(ctx, t, c, "S"); now == lost {
		t.Fatalf("removed node %d leads", now)
	}
	publish(ctx, t, js, "s.2", "m2")
	messages(ctx, t, js, "S", 2)
	// A new replicated stream can still be made: the meta group has a
	// quorum of two out of three.
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	if _, err := js.CreateStream(sctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 2}); err != nil {
		t.Fatalf("new stream on two nodes: %v", err)
	}
	if err := c.WaitMetaLeader(); err != nil {
		t.Fatal(err)
	}
}

// StreamLeader names an unknown stream as such.
func TestClusterStreamLeaderUnknown(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.StreamLeader(ctx, "NOPE")
	if err == nil || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("err %v, want stream not found", err)
	}
}
