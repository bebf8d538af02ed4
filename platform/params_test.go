package platform

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

const (
	signerJSON = `{"email":"jdoe@example.com","name":"John Doe"}`
	rejectJSON = `{"reason":[{"message":"reject reason","category":"EC006","documentWithIssues":[{"document":{"fileId":"FILE3JUS03I04"},"pages":[{"pageNumber":1,"description":"The first page has an invalid signature"}]}]}],"extraData":{"externalId":"123456789","some":"Custom Property"}}`
)

func mustAction(t testing.TB, name string) Action {
	t.Helper()
	a, ok := LookupAction(name)
	if !ok {
		t.Fatalf("no action %q", name)
	}
	return a
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		action, params string
		resource       string
		body           string // with processId "P"
		path, query    string // reject-asset
	}{
		{"cancel-offering", `{"securityId":"USS3JKS01I00"}`, "USS3JKS01I00",
			`{"processId":"P","securityId":"USS3JKS01I00"}`, "", ""},
		{"cancel-offering", `{"securityCorrelationData":{"correlationId":"C1","orgId":"US9QIMA"}}`, "C1",
			`{"processId":"P","securityCorrelationData":{"correlationId":"C1","orgId":"US9QIMA"}}`, "", ""},
		{"revert-to-active", `{"signer":` + signerJSON + `,"securityId":"USS3JKS01I00"}`, "USS3JKS01I00",
			`{"processId":"P","signer":` + signerJSON + `,"securityId":"USS3JKS01I00"}`, "", ""},
		{"revert-to-active", `{"securityCorrelationData":{"correlationId":"USS3JKS01I00","orgId":"US9QIMA"},"signer":` + signerJSON + `}`, "USS3JKS01I00",
			`{"processId":"P","securityCorrelationData":{"correlationId":"USS3JKS01I00","orgId":"US9QIMA"},"signer":` + signerJSON + `}`, "", ""},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00","signer":` + signerJSON + `},"orgId":"US9QIMA"}`, "USS3JKS01I00",
			`{"processId":"P","transactionData":{"securityId":"USS3JKS01I00","signer":` + signerJSON + `},"orgId":"US9QIMA"}`, "", ""},
		{"reject-asset", `{"assetId":"US9QIMAOAS1Q","transactionData":{"securityId":"USS3JKS01I00","signer":` + signerJSON + `},"rejectReason":` + rejectJSON + `}`, "US9QIMAOAS1Q",
			`{"processId":"P","transactionData":{"securityId":"USS3JKS01I00","signer":` + signerJSON + `},"rejectReason":` + rejectJSON + `}`,
			"/external/v1/primary/asset/US9QIMAOAS1Q/reject", ""},
		{"reject-asset", `{"assetId":"ord/7781?x#y%z é","isAssetCorrelationId":true,"assetCorrelationOrgId":"US 9&QI","transactionData":{"securityCorrelationData":{"correlationId":"S1"}},"extraData":{"n":1.50,"deep":[{"x":null}]}}`,
			"ord/7781?x#y%z é",
			`{"processId":"P","transactionData":{"securityCorrelationData":{"correlationId":"S1"}},"rejectReason":{"extraData":{"n":1.50,"deep":[{"x":null}]}}}`,
			"/external/v1/primary/asset/ord%2F7781%3Fx%23y%25z%20%C3%A9/reject", "assetCorrelationOrgId=US+9%26QI&isAssetCorrelationId=true"},
		{"reject-asset", `{"transactionData":{"securityId":"S"},"rejectReason":{"reason":[]},"extraData":{},"assetId":"A","isAssetCorrelationId":false}`, "A",
			`{"processId":"P","transactionData":{"securityId":"S"},"rejectReason":{"reason":[],"extraData":{}}}`,
			"/external/v1/primary/asset/A/reject", "isAssetCorrelationId=false"},
		{"cancel-txn", `{"milestones":"Application Status: Staff Cancelled","reason":"Job application will be completed in branch","submitKey":"15d071280b92c867f86975b9cd2e8765"}`,
			"15d071280b92c867f86975b9cd2e8765", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			a := mustAction(t, tt.action)
			r, problems := a.Parse([]byte(tt.params))
			if problems != nil {
				t.Fatalf("problems: %q", problems)
			}
			if r.Resource != tt.resource || r.Action.Name != tt.action {
				t.Errorf("resource %q, action %q", r.Resource, r.Action.Name)
			}
			if tt.action == "cancel-txn" {
				if got := string(r.body); got != `{"params":`+tt.params+`}` || r.submitKey != tt.resource {
					t.Errorf("jm body %s", got)
				}
				return
			}
			if got := string(r.bodyWith("P")); got != tt.body {
				t.Errorf("body\n got %s\nwant %s", got, tt.body)
			}
			if got := string(r.bodyWith("")); !strings.HasPrefix(got, "{") || strings.Contains(got, "processId") {
				t.Errorf("body without processId: %s", got)
			}
			if tt.path != "" {
				base, _ := url.Parse("https://api.example:8443/")
				u := r.target(base, a.Path)
				if u.EscapedPath() != tt.path || u.RawQuery != tt.query || u.Host != "api.example:8443" {
					t.Errorf("url %s (escaped path %s, query %s)", u, u.EscapedPath(), u.RawQuery)
				}
				back, err := url.Parse(u.String())
				if err != nil || back.Path != u.Path || back.EscapedPath() != tt.path {
					t.Errorf("url does not survive a round trip: %v %q", err, back)
				}
			}
		})
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		action, params string
		want           []string
	}{
		{"cancel-offering", `{}`, []string{"params.securityId: exactly one of securityId and securityCorrelationData is required"}},
		{"cancel-offering", ``, []string{"params.securityId: exactly one of securityId and securityCorrelationData is required"}},
		{"cancel-offering", `null`, []string{"params.securityId: exactly one of securityId and securityCorrelationData is required"}},
		{"cancel-offering", `{"securityId":"S","securityCorrelationData":{"correlationId":"C"}}`,
			[]string{"params.securityId: exactly one of securityId and securityCorrelationData is allowed, not both"}},
		{"cancel-offering", `{"securityId":"S","processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","signer":{}}`, []string{
			"params.processId: unknown field (processId belongs in the command envelope)",
			"params.signer: unknown field"}},
		{"cancel-offering", `{"securityId":"","securityCorrelationData":{"orgId":7,"x":{"y":1}}}`, []string{
			"params.securityId: must not be empty",
			"params.securityCorrelationData.orgId: must be a string, not number",
			"params.securityCorrelationData.x: unknown field",
			"params.securityCorrelationData.correlationId: required",
			"params.securityId: exactly one of securityId and securityCorrelationData is allowed, not both"}},
		{"cancel-offering", `{"securityId":"S","securityId":"T"}`, []string{"params.securityId: duplicate field"}},
		{"cancel-offering", `{"securityId":"` + strings.Repeat("x", 257) + `"}`, []string{"params.securityId: longer than 256 characters"}},
		{"cancel-offering", `{"securityId":"a\tb"}`, []string{"params.securityId: holds control characters"}},
		{"cancel-offering", `{"securityId":"a\u0085b"}`, []string{"params.securityId: holds control characters"}},
		{"cancel-offering", "{\"securityId\":\"a\xffb\"}", []string{"params.securityId: is not valid UTF-8"}},
		{"cancel-offering", `{"securityId":"a\ud800b"}`, []string{"params.securityId: holds an unpaired surrogate escape"}},
		{"cancel-offering", `{"securityId":"a\udc00"}`, []string{"params.securityId: holds an unpaired surrogate escape"}},
		{"cancel-offering", `{"securityId":"a\\ud800"}`, nil}, // an escaped backslash, not an escape
		{"cancel-offering", `{"securityId":"\ud83d\ude00"}`, nil},
		{"cancel-offering", `{"securityId":"S","we.ird\u0001":1}`, []string{`params["we.ird\x01"]: field name holds control characters`}},
		{"cancel-offering", `{"securityId":"S","we ird":1}`, []string{`params["we ird"]: unknown field`}},
		{"cancel-offering", `[]`, []string{"params: must be an object, not array"}},
		{"cancel-offering", `"x"`, []string{"params: must be an object, not string"}},
		{"cancel-offering", `{"securityId":}`, []string{"params: not valid JSON: invalid character '}' at start of value at byte 14"}},
		{"cancel-offering", `{"securityId":"S"} {}`, []string{"params: not valid JSON: invalid character '{' after top-level value at byte 19"}},
		{"cancel-offering", strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40), []string{"params: must be an object, not array"}},
		{"cancel-offering", `{"securityId":"S","x":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`,
			[]string{"params.x: unknown field, nested deeper than 32 levels"}},
		{"cancel-offering", `{"securityId":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`,
			[]string{"params.securityId: must be a string, not array"}},
		{"cancel-offering", `{"securityId":"S","securityId":"a\ud800"}`, []string{"params.securityId: duplicate field"}},
		{"cancel-offering", "{\"securityId\":\"S\",\"\xffx\":1}", []string{"params: field name is not valid UTF-8"}},
		{"cancel-offering", `{"securityCorrelationData":{"correlationId":"C","\udc00":1}}`, []string{"params.securityCorrelationData: field name holds an unpaired surrogate escape"}},
		{"revert-to-active", `{"securityId":"S"}`, []string{"params.signer: required"}},
		{"revert-to-active", `{"securityId":"S","signer":{"email":"","name":null,"phone":"1"}}`, []string{
			"params.signer.email: must not be empty",
			"params.signer.name: must be a string, not null",
			"params.signer.phone: unknown field"}},
		{"revert-to-active", `{"securityId":"S","signer":"jdoe"}`, []string{"params.signer: must be an object, not string"}},
		{"remove-service-provider", `{"securityId":"S"}`, []string{
			"params.securityId: unknown field",
			"params.transactionData: required",
			"params.orgId: required"}},
		{"remove-service-provider", `{"transactionData":{"signer":{"email":"e","name":"n"}},"orgId":"O"}`, []string{
			"params.transactionData.securityId: exactly one of securityId and securityCorrelationData is required"}},
		{"reject-asset", `{}`, []string{"params.assetId: required", "params.transactionData: required"}},
		{"reject-asset", `{"assetId":"..","transactionData":{"securityId":"S"}}`, []string{`params.assetId: must not be "." or ".."`}},
		{"reject-asset", `{"assetId":".","transactionData":{"securityId":"S"}}`, []string{`params.assetId: must not be "." or ".."`}},
		{"reject-asset", `{"assetId":"","transactionData":{"securityId":"S"}}`, []string{`params.assetId: must not be empty`}},
		{"reject-asset", `{"assetId":"a\nb","transactionData":{"securityId":"S"}}`, []string{`params.assetId: holds control characters`}},
		{"reject-asset", `{"assetId":"` + strings.Repeat("é", 257) + `","transactionData":{"securityId":"S"}}`, []string{`params.assetId: longer than 256 characters`}},
		{"reject-asset", `{"assetId":"A","isAssetCorrelationId":"true","assetCorrelationOrgId":5,"transactionData":{"securityId":"S"}}`, []string{
			"params.isAssetCorrelationId: must be a boolean, not string",
			"params.assetCorrelationOrgId: must be a string, not number"}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"rejectReason":{"extraData":{}},"extraData":{"a":1}}`, []string{
			"params.extraData: given both here and in rejectReason.extraData; give it once"}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":[1]}`, []string{"params.extraData: must be an object, not array"}},
		// json v2 refuses a duplicate name or an unpaired surrogate outright: that one problem is named.
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":{"k":"\u0007","k":1,"ok":{"n":"\ud800"}}}`, []string{
			"params.extraData.k: duplicate field"}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":{"k":"\u0007","ok":{"n":"\ud800"}}}`, []string{
			"params.extraData.ok.n: holds an unpaired surrogate escape"}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":{"k":"\u0007","ok":{"n\u0001":[{"m":"\n"}]},"j":"x"}}`, []string{
			"params.extraData.k: holds control characters",
			`params.extraData.ok["n\x01"]: field name holds control characters`}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":{"a":[{"m":"\n"}]}}`, []string{
			"params.extraData.a[0].m: holds control characters"}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"extraData":{"a":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}}`, []string{
			"params.extraData.a" + strings.Repeat("[0]", 30) + ": nested deeper than 32 levels"}},
		{"reject-asset", `{"assetId":"A","transactionData":{"securityId":"S"},"rejectReason":{"reason":[{"message":1,"category":"EC006","documentWithIssues":[{"document":{"fileId":"F","url":"x"},"pages":[{"pageNumber":0},{"pageNumber":1.5},{"pageNumber":"2"},{"page":3}]}]},"oops"],"why":"x"}}`, []string{
			"params.rejectReason.reason[0].message: must be a string, not number",
			"params.rejectReason.reason[0].documentWithIssues[0].document.url: unknown field",
			"params.rejectReason.reason[0].documentWithIssues[0].pages[0].pageNumber: must be a positive integer",
			"params.rejectReason.reason[0].documentWithIssues[0].pages[1].pageNumber: must be a positive integer",
			"params.rejectReason.reason[0].documentWithIssues[0].pages[2].pageNumber: must be a number, not string",
			"params.rejectReason.reason[0].documentWithIssues[0].pages[3].page: unknown field",
			"params.rejectReason.reason[1]: must be an object, not string",
			"params.rejectReason.why: unknown field"}},
		{"cancel-txn", `{}`, []string{"params.submitKey: required"}},
		{"cancel-txn", `{"params":{"submitKey":"k"}}`, []string{"params.params: unknown field", "params.submitKey: required"}},
		{"cancel-txn", `{"submitKey":"k","reason":["r"],"milestones":"m\r"}`, []string{
			"params.reason: must be a string, not array",
			"params.milestones: holds control characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			r, got := mustAction(t, tt.action).Parse([]byte(tt.params))
			if !slices.Equal(got, tt.want) {
				t.Errorf("params %s\n got %q\nwant %q", tt.params, got, tt.want)
			}
			if (r == nil) == (tt.want == nil) {
				t.Errorf("request %v with problems %q", r, got)
			}
		})
	}
}

func TestParseReportsEveryUnknownField(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"securityId":"S"`)
	for i := range 40 {
		b.WriteString(`,"f` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
	}
	b.WriteString(`}`)
	_, got := mustAction(t, "cancel-offering").Parse([]byte(b.String()))
	if len(got) != maxProblems+1 || got[0] != "params.faa: unknown field" || got[maxProblems] != "params: 8 more problems not listed" {
		t.Errorf("%d problems: %q", len(got), got)
	}
}

func TestActionTable(t *testing.T) {
	var names []string
	for _, a := range Actions() {
		names = append(names, a.Name)
		b, ok := LookupAction(a.Name)
		if !ok || b.Path != a.Path || b.Scope != a.Scope {
			t.Errorf("lookup %s", a.Name)
		}
		if (a.Platform == PlatformCorastone) != a.Tracked || (a.Scope == "") != (a.Platform == JourneyManager) {
			t.Errorf("row %+v", a)
		}
	}
	want := []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset", "cancel-txn"}
	if !slices.Equal(names, want) {
		t.Errorf("order %q", names)
	}
	all := Actions()
	all[0].Name = "changed"
	if Actions()[0].Name != "cancel-offering" {
		t.Error("Actions shares its slice")
	}
	if _, ok := LookupAction("restrict-offering"); ok {
		t.Error("unknown action found")
	}
	if r, p := (Action{Name: "nope"}).Parse([]byte(`{}`)); r != nil || len(p) != 1 {
		t.Errorf("zero action parsed: %v %q", r, p)
	}
}

func TestValidPathTemplate(t *testing.T) {
	tests := []struct {
		p     string
		asset bool
		want  bool
	}{
		{"/external/v1/primary/{assetId}/reject", true, true},
		{"/external/v1/primary/asset/{assetId}/reject", true, true},
		{"/external/v1/security-admin/cancel", false, true},
		{"/external/v1/security-admin/cancel", true, false},
		{"/x/{assetId}", false, false},
		{"/x/{assetId}/{assetId}", true, false},
		{"external/v1", false, false},
		{"/x?y=1", false, false},
		{"/x y", false, false},
		{"/x%2F", false, false},
	}
	for _, tt := range tests {
		if got := validPathTemplate(tt.p, tt.asset); got != tt.want {
			t.Errorf("validPathTemplate(%q, %v) = %v", tt.p, tt.asset, got)
		}
	}
}
