package telemetry

import (
	"bytes"
	"net/http"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestReceiver(t *testing.T) {
	r, err := StartReceiver(true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	export, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "a"}, {Name: "b"}}}},
	}}})
	post := func(path, ct string, body []byte) int {
		res, err := http.Post(r.URL()+path, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("/v1/traces", "application/x-protobuf", export); code != http.StatusOK {
		t.Errorf("export: %d", code)
	}
	if code := post("/v1/traces", "application/x-protobuf", []byte{0xff, 0xff}); code != http.StatusBadRequest {
		t.Errorf("undecodable export: %d", code)
	}
	if code := post("/v1/metrics", "application/x-protobuf", export); code != http.StatusNotFound {
		t.Errorf("wrong path: %d", code)
	}
	if spans, requests, _ := r.Stats(); spans != 2 || requests != 1 {
		t.Errorf("stats %d spans %d requests, want 2 and 1", spans, requests)
	}
	if n := len(r.Exports()); n != 1 {
		t.Errorf("%d exports kept, want 1", n)
	}
	if n := len(r.Faults()); n != 2 {
		t.Errorf("faults %q, want 2", r.Faults())
	}
}
