package app_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/internal/telemetry"
	"github.com/txworker/txworker/queue"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback that keeps
// every export.
type otlpReceiver struct{ *telemetry.Receiver }

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r, err := telemetry.StartReceiver(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return &otlpReceiver{r}
}

// all returns every span received, and the service.name of each export's
// resources.
func (r *otlpReceiver) all() (spans []*tracepb.Span, services []string) {
	for _, msg := range r.Exports() {
		for _, rs := range msg.GetResourceSpans() {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					services = append(services, kv.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				spans = append(spans, ss.GetSpans()...)
			}
		}
	}
	return spans, services
}

func attr(s *tracepb.Span, key string) *commonpb.AnyValue {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

func attrString(s *tracepb.Span, key string) string { return attr(s, key).GetStringValue() }

func hexID(b []byte) string { return hex.EncodeToString(b) }

// One command's spans arrive at a real OTLP/HTTP receiver with the right
// parents, links and attributes: the consumer span continues the command's
// traceparent; the token, action and look-up requests are client spans
// under it; each event's traceparent is its send span, in the command's
// trace; the poll batch span links to the command's trace and the terminal
// event's span links back to it. A malformed traceparent is not continued:
// the worker's span starts a trace of its own, which the events then carry.
func TestTracesOfOneCommandReachAnOTLPReceiver(t *testing.T) {
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	cases := []struct {
		name, id, traceparent string
		continued             bool
	}{
		{"well-formed", "otel-continued", "00-" + traceID + "-" + parentID + "-01", true},
		{"malformed (upper-case hex)", "otel-malformed", "00-" + strings.ToUpper(traceID) + "-" + parentID + "-01", false},
	}
	rcv := startOTLPReceiver(t)
	cfg := config(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL(),
		"OTEL_SERVICE_NAME":           "txworker-otel-test",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := app.Start(ctx, cfg, app.Options{Logger: zap.NewNop(), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cfg.Queue.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	events := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe("apptest.evt.>", events)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for i, c := range cases {
		m := nats.NewMsg("apptest.cmd.cancel-offering")
		m.Data = []byte(`{"commandId":"` + c.id + `","params":{"securityId":"USS3JKS0` + string(rune('2'+i)) + `I00"}}`)
		m.Header.Set(queue.TraceParentHeader, c.traceparent)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	evTrace := map[string]string{} // event id → traceparent
	for terminal := 0; terminal < len(cases); {
		select {
		case m := <-events:
			id, _ := strings.CutSuffix(m.Header.Get(nats.MsgIdHdr), "")
			evTrace[id] = m.Header.Get(queue.TraceParentHeader)
			if !strings.HasSuffix(id, ":accepted") {
				terminal++
			}
		case <-ctx.Done():
			t.Fatalf("events so far: %v", evTrace)
		}
	}
	if err := s.Shutdown(cfg.ShutdownTimeout); err != nil { // exports the last spans
		t.Fatal(err)
	}
	spans, services := rcv.all()
	if bad := rcv.Faults(); len(bad) > 0 {
		t.Errorf("receiver got malformed exports: %v", bad)
	}
	if len(services) == 0 || services[0] != "txworker-otel-test" {
		t.Errorf("service.name %v, want txworker-otel-test", services)
	}
	byID := map[string]*tracepb.Span{}
	for _, sp := range spans {
		byID[hexID(sp.GetSpanId())] = sp
	}
	childrenOf := func(parent *tracepb.Span) []*tracepb.Span {
		var out []*tracepb.Span
		for _, sp := range spans {
			if hexID(sp.GetParentSpanId()) == hexID(parent.GetSpanId()) && hexID(sp.GetTraceId()) == hexID(parent.GetTraceId()) {
				out = append(out, sp)
			}
		}
		return out
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var consumer *tracepb.Span
			for _, sp := range spans {
				if sp.GetName() == "process apptest.cmd.cancel-offering" && attrString(sp, "messaging.message.id") == c.id {
					consumer = sp
				}
			}
			if consumer == nil {
				t.Fatalf("no consumer span for %s among %d spans", c.id, len(spans))
			}
			tid := hexID(consumer.GetTraceId())
			switch {
			case c.continued && (tid != traceID || hexID(consumer.GetParentSpanId()) != parentID):
				t.Errorf("consumer span in trace %s under %s, want %s under %s", tid, hexID(consumer.GetParentSpanId()), traceID, parentID)
			case !c.continued && (len(consumer.GetParentSpanId()) != 0 || strings.EqualFold(tid, traceID)):
				t.Errorf("malformed traceparent continued: trace %s parent %x", tid, consumer.GetParentSpanId())
			}
			if consumer.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER {
				t.Errorf("consumer span kind %v", consumer.GetKind())
			}
			for k, want := range map[string]string{"messaging.system": "nats", "messaging.operation.type": "process",
				"messaging.destination.name": "apptest.cmd.cancel-offering"} {
				if got := attrString(consumer, k); got != want {
					t.Errorf("consumer %s = %q, want %q", k, got, want)
				}
			}
			names := map[string]*tracepb.Span{}
			for _, ch := range childrenOf(consumer) {
				names[ch.GetName()] = ch
			}
			for _, n := range []string{"PUT cancel-offering", "send apptest.evt.cancel-offering.accepted", "send apptest.track.cancel-offering"} {
				if names[n] == nil {
					t.Errorf("no child span %q of the consumer span; children: %v", n, keys(names))
				}
			}
			if post := names["PUT cancel-offering"]; post != nil {
				if post.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || attr(post, "http.response.status_code").GetIntValue() == 0 ||
					attrString(post, "http.request.method") != "PUT" {
					t.Errorf("action span: kind %v, attributes %v", post.GetKind(), post.GetAttributes())
				}
				if u := attrString(post, "url.full"); strings.Contains(u, "?") || u == "" {
					t.Errorf("action span url.full %q", u)
				}
			}
			if acc := names["send apptest.evt.cancel-offering.accepted"]; acc != nil {
				want := "00-" + tid + "-" + hexID(acc.GetSpanId()) + "-01"
				if got := evTrace[c.id+":accepted"]; got != want {
					t.Errorf("accepted event traceparent %q, want its send span %q", got, want)
				}
				if acc.GetKind() != tracepb.Span_SPAN_KIND_PRODUCER || attrString(acc, "messaging.message.id") != c.id+":accepted" {
					t.Errorf("accepted send span: kind %v, attributes %v", acc.GetKind(), acc.GetAttributes())
				}
			}
			// The terminal event: a send span of the command's trace,
			// linked to the poll batch that saw the orchestration end.
			var final *tracepb.Span
			for _, sp := range spans {
				if strings.HasPrefix(sp.GetName(), "send apptest.evt.cancel-offering.") && !strings.HasSuffix(sp.GetName(), ".accepted") &&
					hexID(sp.GetTraceId()) == tid {
					final = sp
				}
			}
			if final == nil {
				t.Fatal("no terminal event span in the command's trace")
			}
			if got := evTrace[attrString(final, "messaging.message.id")]; got != "00-"+tid+"-"+hexID(final.GetSpanId())+"-01" {
				t.Errorf("terminal event traceparent %q, its span %s", got, hexID(final.GetSpanId()))
			}
			if len(final.GetLinks()) != 1 {
				t.Fatalf("terminal event span links %v, want the poll batch", final.GetLinks())
			}
			batch := byID[hexID(final.GetLinks()[0].GetSpanId())]
			if batch == nil || batch.GetName() != "poll orchestrations" {
				t.Fatalf("terminal event span links to %v, want the poll batch span", batch.GetName())
			}
			linked := false
			for _, l := range batch.GetLinks() {
				linked = linked || hexID(l.GetTraceId()) == tid
			}
			if !linked || attr(batch, "messaging.batch.message_count").GetIntValue() < 1 {
				t.Errorf("poll batch span: links %v, attributes %v", batch.GetLinks(), batch.GetAttributes())
			}
			polled := false
			for _, ch := range childrenOf(batch) {
				polled = polled || ch.GetName() == "GET orchestrations" && ch.GetKind() == tracepb.Span_SPAN_KIND_CLIENT
			}
			if !polled {
				t.Error("no GET orchestrations client span under the poll batch")
			}
		})
	}
	token := false
	for _, sp := range spans {
		token = token || sp.GetName() == "POST token" && sp.GetKind() == tracepb.Span_SPAN_KIND_CLIENT
	}
	if !token {
		t.Error("no client span of the token fetch")
	}
}

func keys(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// With no OTEL_* variable set, tracing is off: no span is made, and the
// events carry the command's traceparent verbatim (SPEC §4).
func TestNoTracingWithoutOTELVariables(t *testing.T) {
	cfg := config(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := app.Start(ctx, cfg, app.Options{Logger: zap.NewNop(), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(cfg.ShutdownTimeout)
	if err := s.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(cfg.Queue.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	events := make(chan *nats.Msg, 4)
	sub, _ := nc.ChanSubscribe("apptest.evt.>", events)
	defer sub.Unsubscribe()
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	m := nats.NewMsg("apptest.cmd.cancel-offering")
	m.Data = []byte(`{"commandId":"otel-off","params":{"securityId":"USS3JKS02I00"}}`)
	m.Header.Set(queue.TraceParentHeader, tp)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if got := ev.Header.Get(queue.TraceParentHeader); got != tp {
			t.Errorf("event traceparent %q, want the command's %q", got, tp)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}
