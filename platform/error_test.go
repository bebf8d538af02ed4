package platform

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDecodeError(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		platform string
		endpoint string
		status   int
		header   http.Header
		body     string
		code     string
		msg      string
		verdict  Verdict
		retry    time.Duration
	}{
		{"errorDetails", PlatformCorastone, "revert-to-active", 409,
			nil, `{"errorDetails":[{"code":"IS0012","message":"Security 'X' is in invalid state","type":"businessRuleValidations"}]}`,
			"IS0012", "Security 'X' is in invalid state", Permanent, 0},
		{"code field elsewhere", PlatformCorastone, "cancel-offering", 404,
			nil, `{"error":{"details":{"errorCode":"IS0009"}},"message":"not found"}`, "IS0009", "not found", Permanent, 0},
		{"code in plain text", PlatformCorastone, "cancel-offering", 403, nil, `forbidden (AU0002): scope`, "AU0002", "forbidden", Permanent, 0},
		{"code glued to text", PlatformCorastone, "cancel-offering", 409, nil, `errIS0013x`, "IS0013", "conflict", Permanent, 0},
		{"standalone code preferred", PlatformCorastone, "cancel-offering", 409, nil, `XXIS00131 then SP0005.`, "SP0005", "conflict", Permanent, 0},
		{"AU0001 is auth", PlatformCorastone, "orchestrations", 401, nil, `{"errorDetails":[{"code":"AU0001","message":"The access token is invalid"}]}`, "AU0001", "The access token is invalid", Auth, 0},
		{"401 without code is auth", PlatformCorastone, "orchestrations", 401, nil, ``, "", "unauthorized", Auth, 0},
		{"AU0003 is permanent", PlatformCorastone, "cancel-offering", 401, nil, `{"code":"AU0003"}`, "AU0003", "unauthorized", Permanent, 0},
		{"token 401 is permanent", PlatformCorastone, "token", 401, nil, `{"error":"invalid_client"}`, "", "unauthorized", Permanent, 0},
		{"400 GN0002", PlatformCorastone, "transactions", 400, nil, `{"errorDetails":[{"code":"GN0002","message":"The payload you have supplied is invalid."}]}`, "GN0002", "The payload you have supplied is invalid.", Permanent, 0},
		{"429 retry-after seconds", PlatformCorastone, "orchestrations", 429, http.Header{"Retry-After": {"7"}}, `slow down`, "", "too many requests", Transient, 7 * time.Second},
		{"503 retry-after date", PlatformCorastone, "orchestrations", 503, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, `<html>down</html>`, "", "service unavailable", Transient, 90 * time.Second},
		{"500", PlatformCorastone, "cancel-offering", 500, nil, `{}`, "", "internal server error", Transient, 0},
		{"502", PlatformCorastone, "cancel-offering", 502, nil, ``, "", "bad gateway", Transient, 0},
		{"504", PlatformCorastone, "cancel-offering", 504, nil, ``, "", "gateway timeout", Transient, 0},
		{"408", PlatformCorastone, "cancel-offering", 408, nil, ``, "", "request timeout", Transient, 0},
		{"418 other 4xx", PlatformCorastone, "cancel-offering", 418, nil, ``, "", "i'm a teapot", Permanent, 0},
		{"302 not followed", PlatformCorastone, "cancel-offering", 302, nil, ``, "", "found", Permanent, 0},
		{"200 malformed", PlatformCorastone, "orchestrations", 200, nil, `<html>`, CodeMalformedResponse, "answer is not the documented JSON; body: <html>", Transient, 0},
		{"jm txnAlreadyFinished", JourneyManager, "cancel-txn", 400, nil, `{"error":"txnAlreadyFinished","message":"The transaction has already been finished (Completed or Abandoned)."}`, "txnAlreadyFinished", "The transaction has already been finished (Completed or Abandoned).", Permanent, 0},
		{"jm key as any value", JourneyManager, "cancel-txn", 400, nil, `{"errors":[{"key":"txnNotFound"}]}`, "txnNotFound", "bad request", Permanent, 0},
		{"jm key in text", JourneyManager, "cancel-txn", 400, nil, `error: submitKeyNotSpecified`, "submitKeyNotSpecified", "bad request", Permanent, 0},
		{"jm internalError", JourneyManager, "cancel-txn", 500, nil, `{"code":"internalError","message":"Please see Error Log ID 42"}`, "internalError", "Please see Error Log ID 42", Transient, 0},
		{"jm portal", JourneyManager, "jm-query", 400, nil, `{"error":"unableToResolvePortal"}`, "unableToResolvePortal", "bad request", Permanent, 0},
		{"jm other code field", JourneyManager, "cancel-txn", 403, nil, `{"code":"csrfMissing","message":"Forbidden"}`, "csrfMissing", "Forbidden", Permanent, 0},
		{"jm spring error text is no code", JourneyManager, "cancel-txn", 404, nil, `{"status":404,"error":"Not Found","path":"/x"}`, "", "not found", Permanent, 0},
		{"jm status text is no code", JourneyManager, "cancel-txn", 403, nil, `{"status":403,"error":"Forbidden","message":"Invalid CSRF token"}`, "", "Invalid CSRF token", Permanent, 0},
		{"jm 401 is auth", JourneyManager, "cancel-txn", 401, nil, ``, "", "unauthorized", Auth, 0},
		{"jm 401 with a code is auth", JourneyManager, "jm-query", 401, nil, `{"error":"unauthorized","message":"Full authentication is required"}`, "", "Full authentication is required", Auth, 0},
		{"no answer", PlatformCorastone, "orchestrations", 0, nil, ``, "", "unexpected answer", Transient, 0},
		{"control chars in message", PlatformCorastone, "cancel-offering", 409, nil, `{"code":"IS0002","message":"a\u0000b\nc"}`, "IS0002", "a b c", Permanent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := DecodeError(tt.platform, tt.endpoint, tt.status, tt.header, []byte(tt.body), now)
			if e.Code != tt.code || e.Message != tt.msg || e.Verdict != tt.verdict || e.RetryAfter != tt.retry {
				t.Errorf("got code %q msg %q verdict %v retry %v; want %q %q %v %v", e.Code, e.Message, e.Verdict, e.RetryAfter, tt.code, tt.msg, tt.verdict, tt.retry)
			}
			if e.Platform != tt.platform || e.Endpoint != tt.endpoint || e.HTTPStatus != tt.status {
				t.Errorf("identity: %+v", e)
			}
		})
	}
}

func TestDecodeErrorBodyExcerpt(t *testing.T) {
	body := strings.Repeat("é", 200) // 400 bytes
	e := DecodeError(PlatformCorastone, "orchestrations", 200, nil, []byte(body), time.Now())
	if len(e.Body) > maxBodyExcerpt || !strings.HasPrefix(body, e.Body) || len(e.Body) < maxBodyExcerpt-1 {
		t.Errorf("body excerpt %d bytes: %q", len(e.Body), e.Body)
	}
	e = DecodeError(PlatformCorastone, "orchestrations", 200, nil, []byte("ok\xffno"), time.Now())
	if e.Body != "ok\uFFFDno" {
		t.Errorf("invalid UTF-8 body excerpt: %q", e.Body)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"  12 ", 12 * time.Second},
		{"120", 2 * time.Minute},
		{"99999999999999999999999", maxRetryAfter},
		{"86401", maxRetryAfter},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"Saturday, 21-Nov-26 12:01:00 GMT", time.Minute}, // RFC 850
		{"Sat Nov 21 12:00:05 2026", 5 * time.Second},     // ANSI C
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Platform: "corastone", Endpoint: "revert-to-active", HTTPStatus: 409, Code: "IS0012", Message: "bad state"},
			"corastone revert-to-active: http 409 IS0012: bad state"},
		{&Error{Platform: "corastone", Endpoint: "orchestrations", Message: "connection failed", Err: errors.New("dial tcp: refused")},
			"corastone orchestrations: no answer: connection failed: dial tcp: refused"},
		{&Error{Platform: "jm", Endpoint: "cancel-txn", HTTPStatus: 400, Code: "txnAlreadyFinished"},
			"jm cancel-txn: http 400 txnAlreadyFinished"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	inner := errors.New("inner")
	var err error = fmt.Errorf("layer: %w", &Error{Err: inner})
	var pe *Error
	if !errors.As(err, &pe) || !errors.Is(err, inner) {
		t.Error("errors.As / errors.Is through *Error")
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Permanent: "permanent", Transient: "transient", Auth: "auth", 0: "verdict(0)"} {
		if v.String() != want {
			t.Errorf("%d: %q", int(v), v.String())
		}
	}
}
