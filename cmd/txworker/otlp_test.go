package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// spanSink is an OTLP/HTTP trace receiver on loopback that keeps every
// export request it decodes (POST /v1/traces, protobuf).
type spanSink struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []*coltracepb.ExportTraceServiceRequest
	spans int
}

func startSpanSink(t *testing.T) *spanSink {
	t.Helper()
	s := &spanSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || err != nil || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, &req)
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				s.spans += len(ss.GetSpans())
			}
		}
		s.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// text is every export as protobuf text: span names, attributes, events,
// links, status messages and the resource.
func (s *spanSink) text() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, r := range s.reqs {
		b.WriteString(prototext.Format(r))
	}
	return b.String(), s.spans
}
