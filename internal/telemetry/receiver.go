package telemetry

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP trace receiver on 127.0.0.1 (POST /v1/traces, a
// protobuf ExportTraceServiceRequest): where `txworker load -traces` has the
// workers export to, so that they pay the whole cost of exporting, and what
// the tests read the exported spans from. Every export is decoded and its
// spans counted; with keep, the decoded exports are kept too. Its methods
// are safe for concurrent use.
type Receiver struct {
	srv  *http.Server
	url  string
	keep bool

	mu       sync.Mutex
	exports  []*coltracepb.ExportTraceServiceRequest
	faults   []string
	spans    int64
	requests int64
	bytes    int64
}

// StartReceiver listens on a free loopback port and serves until Close.
func StartReceiver(keep bool) (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("otlp receiver: %w", err)
	}
	r := &Receiver{url: "http://" + ln.Addr().String(), keep: keep}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(r.serve)}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

var emptyResponse, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		r.fault(req.Method + " " + req.URL.Path)
		http.NotFound(w, req)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		r.fault("content type " + ct)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	msg := &coltracepb.ExportTraceServiceRequest{}
	if err == nil {
		err = proto.Unmarshal(body, msg)
	}
	if err != nil {
		r.fault("undecodable export: " + err.Error())
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	n := 0
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	r.mu.Lock()
	r.spans += int64(n)
	r.requests++
	r.bytes += int64(len(body))
	if r.keep {
		r.exports = append(r.exports, msg)
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(emptyResponse)
}

func (r *Receiver) fault(s string) {
	r.mu.Lock()
	r.faults = append(r.faults, s)
	r.mu.Unlock()
}

// URL is the receiver's base URL, for OTEL_EXPORTER_OTLP_ENDPOINT.
func (r *Receiver) URL() string { return r.url }

// Exports returns the exports kept so far (none unless started with keep).
func (r *Receiver) Exports() []*coltracepb.ExportTraceServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), r.exports...)
}

// Faults returns what was wrong with the requests that were not a
// well-formed export (a wrong path, method or content type, a body that
// does not decode).
func (r *Receiver) Faults() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.faults...)
}

// Stats returns the spans, export requests and body bytes received so far.
func (r *Receiver) Stats() (spans, requests, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans, r.requests, r.bytes
}

// Close stops the receiver.
func (r *Receiver) Close() { _ = r.srv.Close() }
