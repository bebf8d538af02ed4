package platform

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzDecodeError(f *testing.F) {
	seeds := []struct {
		jm     bool
		status int
		body   string
		retry  string
	}{
		{false, 409, `{"errorDetails":[{"code":"IS0012","message":"Security 'USS3JKS01I00' is in invalid state","type":"businessRuleValidations"}]}`, ""},
		{false, 401, `{"errorDetails":[{"code":"AU0001"}]}`, ""},
		{false, 429, `slow down`, "3"},
		{false, 503, ``, "Sat, 21 Nov 2026 12:00:00 GMT"},
		{false, 200, `<html>`, ""},
		{false, 400, `GN0002 GN0004`, "-1"},
		{false, 403, "\xff\xfe AU0002 \x00", "99999999999999999999"},
		{true, 400, `{"error":"txnAlreadyFinished","message":"The transaction has already been finished (Completed or Abandoned)."}`, ""},
		{true, 500, `{"code":"internalError","message":"Please see Error Log ID 42"}`, ""},
		{true, 400, `[{"x":[{"error":"txnNotFound"}]}]`, ""},
		{true, 404, `{"error":"Not Found"}`, ""},
		{true, 0, ``, ""},
	}
	for _, s := range seeds {
		f.Add(s.jm, s.status, []byte(s.body), s.retry)
	}
	now := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, jm bool, status int, body []byte, retry string) {
		platform := PlatformCorastone
		if jm {
			platform = JourneyManager
		}
		e := DecodeError(platform, "cancel-txn", status, http.Header{"Retry-After": {retry}}, body, now)
		if e.Verdict < Permanent || e.Verdict > Auth {
			t.Fatalf("verdict %v", e.Verdict)
		}
		if !utf8.ValidString(e.Body) || len(e.Body) > maxBodyExcerpt || !utf8.ValidString(e.Message) || len(e.Message) > maxMessage || hasControl(e.Message) {
			t.Fatalf("body %q message %q", e.Body, e.Message)
		}
		if e.Message == "" || e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("message %q retry %v", e.Message, e.RetryAfter)
		}
		if e.Code != "" && e.Code != CodeMalformedResponse {
			if !jm && !corastoneCode.MatchString(e.Code) || jm && !tokenLike.MatchString(e.Code) {
				t.Fatalf("code %q", e.Code)
			}
		}
		if status >= 200 && status < 300 && (e.Code != CodeMalformedResponse || e.Verdict != Transient) {
			t.Fatalf("2xx: %+v", e)
		}
		_ = e.Error()
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{`"2024-09-12T00:00:00.000Z"`, `"2024-09-12T10:11:12.123456789+02:00"`, `"1980-01-01"`, `1185106460000`,
		`"1185106460000"`, `1185106460000.25`, `-62135596800000`, `253402300799999`, `null`, `""`, `"2024-09-12T10:11:12"`, `1e3`, `"x"`, `{}`,
		`"2024-09-12T10:11:12\u005a"`, `" 2024-09-12T10:11:12Z "`, `"1185106460000T"`, `"-1:0"`, `"\u0031185106460000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := ParseTimestamp(raw)
		want, wantErr := parseTimestampBefore(raw)
		if (err == nil) != (wantErr == nil) || !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q: %v (%v), before the fast paths %v (%v)", raw, got, err, want, wantErr)
		}
		if err != nil {
			return
		}
		if got.IsZero() {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("not UTC: %v", got)
		}
		out, err := json.Marshal(Timestamp{got})
		if err != nil {
			t.Fatalf("marshal %v: %v", got, err)
		}
		back, err := ParseTimestamp(out)
		if err != nil || !back.Equal(got) {
			t.Fatalf("round trip %s → %v (%v), want %v", out, back, err, got)
		}
	})
}

func FuzzParseParams(f *testing.F) {
	seeds := []struct {
		action int
		params string
	}{
		{0, `{"securityId":"USS3JKS01I00"}`},
		{0, `{"securityCorrelationData":{"correlationId":"USS3JKS01I00","orgId":"US9QIMA"}}`},
		{1, `{"signer":{"email":"jdoe@example.com","name":"John Doe"},"securityId":"USS3JKS01I00"}`},
		{2, `{"transactionData":{"securityId":"USS3JKS01I00","signer":{"email":"e","name":"n"}},"orgId":"US9QIMA"}`},
		{3, `{"assetId":"ord/1?x#y%z","isAssetCorrelationId":true,"assetCorrelationOrgId":"US9QI","transactionData":{"securityId":"S"},"rejectReason":` + rejectJSON + `}`},
		{3, `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":{"a":[1,{"b":"\ud83d\ude00"}]}}`},
		{4, `{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"r","milestones":"m"}`},
		{0, `{"securityId":"a\ud800","x":1,"securityId":2}`},
		{3, `{"assetId":"..","transactionData":[]}`},
		{4, "{\"submitKey\":\"\xff\"}"},
		{1, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`},
	}
	for _, s := range seeds {
		f.Add(s.action, []byte(s.params))
	}
	actions := Actions()
	base, _ := url.Parse("https://api.example/prefix")
	f.Fuzz(func(t *testing.T, i int, params []byte) {
		a := actions[(i%len(actions)+len(actions))%len(actions)]
		r, problems := a.Parse(params)
		if (r == nil) == (problems == nil) {
			t.Fatalf("request %v with problems %q", r, problems)
		}
		for _, p := range problems {
			if !strings.HasPrefix(p, "params") || !utf8.ValidString(p) {
				t.Fatalf("problem %q", p)
			}
		}
		if len(problems) > maxProblems+1 {
			t.Fatalf("%d problems", len(problems))
		}
		if r == nil {
			return
		}
		if r.Resource == "" || !utf8.ValidString(r.Resource) || hasControl(r.Resource) {
			t.Fatalf("resource %q", r.Resource)
		}
		body := r.bodyWith("2159457f-0167-4e93-a969-9cf0db05e0bf")
		if a.Platform == JourneyManager {
			body = r.body
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || !utf8.Valid(body) {
			t.Fatalf("body %s: %v", body, err)
		}
		if a.Platform == PlatformCorastone && m["processId"] != "2159457f-0167-4e93-a969-9cf0db05e0bf" {
			t.Fatalf("body %s", body)
		}
		if a.Name == "reject-asset" {
			u := r.target(base, a.Path)
			back, err := url.Parse(u.String())
			if err != nil || back.Path != "/prefix/external/v1/primary/asset/"+r.assetID+"/reject" || back.Host != base.Host ||
				strings.Count(back.EscapedPath(), "/") != 7 {
				t.Fatalf("asset %q → %s (%v)", r.assetID, u, err)
			}
		}
	})
}

// parseTimestampBefore is ParseTimestamp as it was before its two fast paths
// (a plain string literal read without encoding/json, no epoch attempt for a
// string with 'T' or ':'), which FuzzParseTimestamp holds it to.
func parseTimestampBefore(raw []byte) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var t time.Time
	var err error
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, nil
		}
		if c := s[0]; c >= '0' && c <= '9' || c == '-' {
			if t, err := parseEpochMillis(s); err == nil {
				return t, nil
			}
		}
		for _, l := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(l, s); err == nil {
				return inRange(t.UTC())
			}
		}
		return time.Time{}, errTimestamp
	}
	t, err = parseEpochMillis(string(raw))
	return t, err
}
