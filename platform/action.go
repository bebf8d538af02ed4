package platform

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Action is one row of the action table: a command subject token and how it reaches its platform.
// Adding an action (Restrict Offering, Approve Revert…) means adding one row in actionTable.
type Action struct {
	Name     string // subject token, e.g. "cancel-offering"
	Platform string // PlatformCorastone | JourneyManager
	Method   string // HTTP method
	Path     string // path template; "{assetId}" is replaced by the escaped path segment
	Scope    string // OAuth2 scope ("" for Journey Manager)
	Tracked  bool   // an orchestration follows (Corastone actions)

	spec *actionSpec
}

// actionSpec decodes and validates the params of one action.
type actionSpec struct {
	parse func(raw jsontext.Value, p *problems) func(raw jsontext.Value, r *Request)
}

// paramsOf is the spec of params type T: decode into a T, validate it and, when valid, build
// the Request with build.
func paramsOf[T any, PT interface {
	*T
	validate(p *problems, path string, end int64)
}](build func(v PT) func(raw jsontext.Value, r *Request)) *actionSpec {
	return &actionSpec{parse: func(raw jsontext.Value, p *problems) func(jsontext.Value, *Request) {
		v := PT(new(T))
		if err := json.Unmarshal(raw, v); err != nil {
			p.list = append(p.list, problem{text: jsonProblem(err, raw)})
			return nil
		}
		v.validate(p, "params", int64(len(raw)))
		return build(v)
	}}
}

// Request is a validated command, ready to be sent by Corastone.Execute or JM.Cancel.
// Only Action.Parse makes one.
type Request struct {
	Action   Action
	Resource string // the event subject: securityId (or securityCorrelationData.correlationId), assetId or submitKey

	body      []byte     // Corastone: the JSON body without processId; JM: the whole body
	assetID   string     // reject-asset: the raw path value
	query     url.Values // reject-asset: isAssetCorrelationId, assetCorrelationOrgId
	submitKey string     // cancel-txn
}

var actionTable = sync.OnceValue(func() []Action {
	return []Action{
		{Name: "cancel-offering", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/security-admin/cancel",
			Scope: "cancelOffering", Tracked: true, spec: paramsOf(func(v *cancelOffering) func(jsontext.Value, *Request) { return buildAsIs(&v.security) })},
		{Name: "revert-to-active", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/security-admin/revert-completed-to-active",
			Scope: "revertCompletedToActive", Tracked: true, spec: paramsOf(func(v *revertToActive) func(jsontext.Value, *Request) { return buildAsIs(&v.security) })},
		{Name: "remove-service-provider", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/service-providers/remove",
			Scope: "manageServiceProviders", Tracked: true, spec: paramsOf(func(v *removeServiceProvider) func(jsontext.Value, *Request) {
				return buildAsIs(&v.TransactionData.v.security)
			})},
		{Name: "reject-asset", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/primary/asset/{assetId}/reject",
			Scope: "rejectSubscription", Tracked: true, spec: paramsOf(func(v *rejectAsset) func(jsontext.Value, *Request) { return v.build })},
		{Name: "cancel-txn", Platform: JourneyManager, Method: "POST", Path: "/workspaces/secure/api/v1/txn/cancel",
			spec: paramsOf(func(v *cancelTxn) func(jsontext.Value, *Request) { return v.build })},
	}
})

// Actions returns the action table in its fixed order: cancel-offering, revert-to-active,
// remove-service-provider, reject-asset, cancel-txn. The slice is the caller's to keep.
func Actions() []Action {
	return append([]Action(nil), actionTable()...)
}

// LookupAction returns the action with that subject token.
func LookupAction(name string) (Action, bool) {
	for _, a := range actionTable() {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}

// Parse decodes params strictly with json v2 into the action's typed params and validates them
// (SPEC §3). It returns every problem found — each unknown field at any depth, each wrong JSON
// type, each missing required field, strings that hold control characters or break a length
// rule, exactly-one-of violations — in document order, as short sentences like
// "params.securityId: exactly one of securityId and securityCorrelationData is required" (at
// most 32, then a count). Params that json v2 refuses outright (not JSON, a duplicate name,
// invalid UTF-8 or an unpaired surrogate escape) have that one problem, with its place. Empty or
// null params count as {}. With no problems it returns the Request and nil; otherwise nil and
// the problems.
func (a Action) Parse(params []byte) (*Request, []string) {
	if a.spec == nil {
		return nil, []string{"action: unknown action " + strconv.Quote(a.Name)}
	}
	raw := jsontext.Value(bytes.TrimSpace(params))
	if len(raw) == 0 || string(raw) == "null" {
		raw = jsontext.Value("{}")
	}
	if k := raw.Kind(); k != '{' {
		if err := json.Unmarshal(raw, new(jsontext.Value)); err != nil {
			return nil, []string{jsonProblem(err, raw)}
		}
		return nil, []string{"params: must be an object, not " + kindName(k)}
	}
	var p problems
	build := a.spec.parse(raw, &p)
	if len(p.list) > 0 {
		return nil, p.result()
	}
	r := &Request{Action: a}
	build(raw, r)
	return r, nil
}

// jsonProblem names what json v2 refused in params raw: the place (a path like params.a.b, and
// whether a member's name or its value) and what is wrong there.
func jsonProblem(err error, raw []byte) string {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return "params: not valid JSON: " + clipText(err.Error(), 120)
	}
	path := "params"
	for tok := range se.JSONPointer.Tokens() {
		path = joinPath(path, tok)
	}
	msg := se.Err.Error()
	if atName(raw, se.ByteOffset) {
		path += ": field name"
	} else {
		path += ":"
	}
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		return strings.TrimSuffix(path, " field name") + " duplicate field"
	case strings.Contains(msg, "invalid UTF-8"):
		return path + " is not valid UTF-8"
	case strings.Contains(msg, "surrogate"):
		return path + " holds an unpaired surrogate escape"
	}
	return "params: not valid JSON: " + clipText(msg, 120) + " at byte " + strconv.FormatInt(se.ByteOffset, 10)
}

// atName reports whether offset off of raw lies in a member's name: the string around it
// follows '{' or ','.
func atName(raw []byte, off int64) bool {
	if off < 0 || off > int64(len(raw)) {
		return false
	}
	i := int(off) - 1
	for ; i >= 0; i-- { // the string's opening quote: a quote not escaped
		if raw[i] != '"' {
			continue
		}
		n := 0
		for j := i - 1; j >= 0 && raw[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			break
		}
	}
	before := bytes.TrimRight(raw[:max(i, 0)], " \t\r\n")
	return i >= 0 && len(before) > 0 && (before[len(before)-1] == '{' || before[len(before)-1] == ',')
}

// clipText shortens s to at most n bytes, never splitting a rune.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// validPathTemplate reports whether p can be an action path: absolute, plain characters only, and
// holding "{assetId}" exactly once when withAsset (never otherwise).
func validPathTemplate(p string, withAsset bool) bool {
	rest := strings.Replace(p, "{assetId}", "", 1)
	if !strings.HasPrefix(p, "/") || strings.Contains(rest, "{assetId}") || (rest != p) != withAsset {
		return false
	}
	for _, c := range []byte(rest) {
		if !isAlnum(c) && !strings.ContainsRune("/-._~", rune(c)) {
			return false
		}
	}
	return true
}

// target is the request URL: base's scheme and host, base's path followed by the template with
// assetId escaped as exactly one path segment (url.PathEscape: "/" → %2F, "?" → %3F, "#" → %23,
// "%" → %25), and the query parameters url-encoded.
func (r *Request) target(base *url.URL, tmpl string) *url.URL {
	u := *base
	path, raw := tmpl, tmpl
	if r.assetID != "" {
		path = strings.Replace(tmpl, "{assetId}", r.assetID, 1)
		raw = strings.Replace(tmpl, "{assetId}", url.PathEscape(r.assetID), 1)
	}
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + raw
	u.RawQuery = r.query.Encode()
	u.Fragment, u.RawFragment = "", ""
	return &u
}

// bodyWith returns the Corastone body with processId as its first field (or without it when
// processID is "").
func (r *Request) bodyWith(processID string) []byte {
	if processID == "" {
		return r.body
	}
	b, _ := jsontext.AppendQuote([]byte(`{"processId":`), processID)
	if len(r.body) > 2 {
		b = append(b, ',')
	}
	return append(b, r.body[1:]...)
}
