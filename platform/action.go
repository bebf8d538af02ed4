package platform

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
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

type actionSpec struct {
	params *schema
	build  func(n *node, r *Request) // called on valid params only
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
			Scope: "cancelOffering", Tracked: true, spec: &actionSpec{cancelOfferingSchema(), buildAsIs}},
		{Name: "revert-to-active", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/security-admin/revert-completed-to-active",
			Scope: "revertCompletedToActive", Tracked: true, spec: &actionSpec{revertSchema(), buildAsIs}},
		{Name: "remove-service-provider", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/service-providers/remove",
			Scope: "manageServiceProviders", Tracked: true, spec: &actionSpec{removeServiceProviderSchema(), buildAsIs}},
		{Name: "reject-asset", Platform: PlatformCorastone, Method: "PUT", Path: "/external/v1/primary/asset/{assetId}/reject",
			Scope: "rejectSubscription", Tracked: true, spec: &actionSpec{rejectAssetSchema(), buildRejectAsset}},
		{Name: "cancel-txn", Platform: JourneyManager, Method: "POST", Path: "/workspaces/secure/api/v1/txn/cancel",
			spec: &actionSpec{cancelTxnSchema(), buildCancelTxn}},
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

// Parse decodes params strictly and checks the documented rules (SPEC §3). It returns every
// problem found — each unknown field at any depth, each wrong JSON type, each missing required
// field, strings that are not valid UTF-8 or hold control characters, exactly-one-of violations —
// as short sentences like "params.securityId: exactly one of securityId and securityCorrelationData
// is required" (at most 32, then a count). Empty or null params count as {}. With no problems it
// returns the Request and nil; otherwise nil and the problems.
func (a Action) Parse(params json.RawMessage) (*Request, []string) {
	if a.spec == nil {
		return nil, []string{"action: unknown action " + strconv.Quote(a.Name)}
	}
	raw := bytes.TrimSpace(params)
	n := &node{kind: kindObject}
	if len(raw) > 0 && string(raw) != "null" {
		var err error
		if n, err = readTree(raw); err != nil {
			return nil, []string{"params: not valid JSON: " + err.Error()}
		}
	}
	if n.kind != kindObject {
		return nil, []string{"params: must be an object, not " + n.kind.String()}
	}
	var p problems
	check(&p, "params", n, a.spec.params)
	if !p.empty() {
		return nil, p.result()
	}
	r := &Request{Action: a}
	a.spec.build(n, r)
	return r, nil
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
	b := append([]byte(`{"processId":`), appendString(nil, processID)...)
	if len(r.body) > 2 {
		b = append(b, ',')
	}
	return append(b, r.body[1:]...)
}
