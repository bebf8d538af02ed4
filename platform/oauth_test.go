package platform

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// OAuth2: token caching, refresh, refetch on 401, token endpoint failures.

func TestTokenRefetchedOnceOn401(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(acceptAction)
	obs := &observed{}
	c := newTestCorastone(t, f.config(), obs)
	ctx := context.Background()
	req := mustParse(t, "cancel-offering", `{"securityId":"S"}`)
	if _, err := c.Execute(ctx, req, testPID); err != nil {
		t.Fatal(err)
	}
	f.revokeAll()
	if _, err := c.Execute(ctx, req, testPID); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if f.tokenCount() != 2 {
		t.Errorf("%d token fetches, want 2", f.tokenCount())
	}
	auths := []string{}
	for _, r := range f.apiRequests() {
		auths = append(auths, r.Auth)
	}
	if !slices.Equal(auths, []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}) {
		t.Errorf("authorizations %q", auths)
	}
	requests, codes, fetches := obs.snapshot()
	if !slices.Equal(codes, []string{"corastone AU0001"}) || !slices.Equal(fetches, []bool{true, true}) ||
		!slices.Contains(requests, "corastone cancel-offering 401") {
		t.Errorf("observed %q %q %v", requests, codes, fetches)
	}

	// A token refused twice in a row: one retry, then Permanent.
	f.setAPI(func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 401, `{"errorDetails":[{"code":"AU0001"}]}`)
	})
	before := len(f.apiRequests())
	_, err := c.Execute(ctx, req, testPID)
	var e *Error
	if !errors.As(err, &e) || e.Verdict != Permanent || e.Code != "AU0001" || e.HTTPStatus != 401 {
		t.Errorf("second 401: %v", err)
	}
	if n := len(f.apiRequests()) - before; n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestTokenCachedAndRefreshedBeforeExpiry(t *testing.T) {
	f := newFakeCorastone(t)
	f.setAPI(acceptAction)
	c := newTestCorastone(t, f.config(), nil)
	var shift atomic.Int64
	c.tokens.now = func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := c.Token(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.tokenCount() != 1 {
		t.Fatalf("%d token fetches for 20 concurrent callers", f.tokenCount())
	}
	shift.Store(int64(58 * time.Minute)) // more than a minute before expiry: reused
	if err := c.Token(ctx); err != nil || f.tokenCount() != 1 {
		t.Fatalf("reuse: %v, %d fetches", err, f.tokenCount())
	}
	shift.Store(int64(59*time.Minute + 30*time.Second)) // within the last minute: refreshed
	if err := c.Token(ctx); err != nil || f.tokenCount() != 2 {
		t.Fatalf("refresh: %v, %d fetches", err, f.tokenCount())
	}
}

func TestTokenWithoutExpiryKeptUntilRefused(t *testing.T) {
	f := newFakeCorastone(t)
	f.ttl = 0
	c := newTestCorastone(t, f.config(), nil)
	c.tokens.now = func() time.Time { return time.Now().Add(1000 * time.Hour) }
	for range 3 {
		if err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f.tokenCount() != 1 {
		t.Errorf("%d fetches", f.tokenCount())
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		ctype   string
		code    string
		verdict Verdict
	}{
		{"invalid_client", 401, `{"error":"invalid_client","error_description":"bad secret"}`, "application/json", "invalid_client", Permanent},
		{"invalid_scope", 400, `{"error":"invalid_scope"}`, "application/json", "invalid_scope", Permanent},
		{"AU0002 body", 403, `{"errorDetails":[{"code":"AU0002"}]}`, "application/json", "AU0002", Permanent},
		{"503", 503, `busy`, "text/html", "", Transient},
		{"429", 429, ``, "text/html", "", Transient},
		{"garbage 200", 200, `<html>`, "application/json", CodeMalformedResponse, Transient},
		{"no access_token", 200, `{"token_type":"bearer"}`, "application/json", CodeMalformedResponse, Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCorastone(t)
			f.tokenFn = func(w http.ResponseWriter) bool {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
				return true
			}
			obs := &observed{}
			c := newTestCorastone(t, f.config(), obs)
			_, err := c.Orchestrations(context.Background(), []string{"o"})
			var e *Error
			if !errors.As(err, &e) || e.Endpoint != "token" || e.Code != tt.code || e.Verdict != tt.verdict || e.HTTPStatus != tt.status {
				t.Fatalf("got %#v", err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Error("secret in error")
			}
			requests, _, fetches := obs.snapshot()
			if !slices.Equal(fetches, []bool{false}) || len(requests) != 1 || requests[0] != "corastone token "+itoa(tt.status) {
				t.Errorf("observed %q %v", requests, fetches)
			}
			if len(f.apiRequests()) != 0 {
				t.Error("API called without a token")
			}
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	f := newFakeCorastone(t)
	cfg := f.config()
	cfg.ClientSecret = "wrong"
	err := newTestCorastone(t, cfg, nil).Token(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_client" || e.Verdict != Permanent {
		t.Errorf("got %v", err)
	}
}
