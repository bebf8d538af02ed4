package platform

import "net/url"

// The documented params shapes (SPEC §3, platform-apis §2 and §6.2).

func str(r stringRule) *schema { return &schema{kind: kindString, str: r} }

func object(fields ...fieldSpec) *schema { return &schema{kind: kindObject, fields: fields} }

func arrayOf(elem *schema) *schema { return &schema{kind: kindArray, elem: elem} }

func opt(name string, s *schema) fieldSpec { return fieldSpec{name: name, s: s} }

func req(name string, s *schema) fieldSpec { return fieldSpec{name: name, s: s, required: true} }

func freeObject() *schema { return &schema{kind: kindObject, free: true} }

func withRules(s *schema, rules ...rule) *schema {
	s.rules = append(s.rules, rules...)
	return s
}

// signerSchema is {email, name}, both required.
func signerSchema() *schema {
	return object(req("email", str(nonEmpty)), req("name", str(nonEmpty)))
}

// securityFields are securityId and securityCorrelationData {correlationId, orgId}.
func securityFields() []fieldSpec {
	return []fieldSpec{
		opt("securityId", str(ident)),
		opt("securityCorrelationData", object(req("correlationId", str(ident)), opt("orgId", str(ident)))),
	}
}

// exactlyOneSecurity: "Either securityId or securityCorrelationData must be provided, but not both."
func exactlyOneSecurity(p *problems, path string, n *node) {
	id, corr := n.field("securityId") != nil, n.field("securityCorrelationData") != nil
	switch {
	case !id && !corr:
		p.add(joinPath(path, "securityId"), "exactly one of securityId and securityCorrelationData is required")
	case id && corr:
		p.add(joinPath(path, "securityId"), "exactly one of securityId and securityCorrelationData is allowed, not both")
	}
}

// transactionDataSchema holds the security (exactly one form) and an optional signer.
func transactionDataSchema() *schema {
	fields := append(securityFields(), opt("signer", signerSchema()))
	return withRules(object(fields...), exactlyOneSecurity)
}

// rejectReasonSchema is Reject Asset's (and Cancel Transfer's) documented rejectReason.
func rejectReasonSchema() *schema {
	page := object(opt("pageNumber", &schema{kind: kindNumber, posInt: true}), opt("description", str(anyText)))
	doc := object(opt("document", object(opt("fileId", str(ident)))), opt("pages", arrayOf(page)))
	reason := object(opt("message", str(anyText)), opt("category", str(ident)), opt("documentWithIssues", arrayOf(doc)))
	return object(opt("reason", arrayOf(reason)), opt("extraData", freeObject()))
}

func cancelOfferingSchema() *schema {
	return withRules(object(securityFields()...), exactlyOneSecurity)
}

func revertSchema() *schema {
	fields := append([]fieldSpec{req("signer", signerSchema())}, securityFields()...)
	return withRules(object(fields...), exactlyOneSecurity)
}

func removeServiceProviderSchema() *schema {
	return object(req("transactionData", transactionDataSchema()), req("orgId", str(ident)))
}

func rejectAssetSchema() *schema {
	asset := &schema{kind: kindString, str: ident}
	s := object(
		req("assetId", asset),
		opt("isAssetCorrelationId", &schema{kind: kindBool}),
		opt("assetCorrelationOrgId", str(ident)),
		req("transactionData", transactionDataSchema()),
		opt("rejectReason", rejectReasonSchema()),
		opt("extraData", freeObject()),
	)
	return withRules(s, assetIDRule, extraDataOnce)
}

// assetIDRule: the path segment must not be "." or ".." (other characters are escaped).
func assetIDRule(p *problems, path string, n *node) {
	if a := n.field("assetId"); a != nil && a.kind == kindString && (a.text == "." || a.text == "..") {
		p.add(joinPath(path, "assetId"), `must not be "." or ".."`)
	}
}

// extraDataOnce: a top-level extraData is moved into rejectReason, so both is ambiguous.
func extraDataOnce(p *problems, path string, n *node) {
	if n.field("extraData") != nil && n.field("rejectReason").field("extraData") != nil {
		p.add(joinPath(path, "extraData"), "given both here and in rejectReason.extraData; give it once")
	}
}

func cancelTxnSchema() *schema {
	return object(req("submitKey", str(ident)), opt("reason", str(anyText)), opt("milestones", str(anyText)))
}

// securityResource is the event subject of a security action: the securityId, else the
// correlationId of securityCorrelationData.
func securityResource(n *node) string {
	if id := n.field("securityId"); id != nil {
		return id.text
	}
	return n.field("securityCorrelationData").field("correlationId").text
}

// buildAsIs: the params are the body, field for field (processId is added when sent).
func buildAsIs(n *node, r *Request) {
	r.body = appendJSON(nil, n)
	if td := n.field("transactionData"); td != nil {
		r.Resource = securityResource(td)
	} else {
		r.Resource = securityResource(n)
	}
}

// buildRejectAsset takes assetId and the query parameters out of the body and moves a top-level
// extraData into rejectReason.extraData.
func buildRejectAsset(n *node, r *Request) {
	r.assetID = n.field("assetId").text
	r.Resource = r.assetID
	r.query = url.Values{}
	if v := n.field("isAssetCorrelationId"); v != nil {
		r.query.Set("isAssetCorrelationId", map[bool]string{true: "true", false: "false"}[v.boolean])
	}
	if v := n.field("assetCorrelationOrgId"); v != nil {
		r.query.Set("assetCorrelationOrgId", v.text)
	}
	body := &node{kind: kindObject}
	var extra *member
	for i, m := range n.members {
		switch m.key {
		case "assetId", "isAssetCorrelationId", "assetCorrelationOrgId":
		case "extraData":
			extra = &n.members[i]
		default:
			body.members = append(body.members, m)
		}
	}
	if extra != nil {
		moveExtraData(body, *extra)
	}
	r.body = appendJSON(nil, body)
}

func moveExtraData(body *node, extra member) {
	for i, m := range body.members {
		if m.key == "rejectReason" {
			rr := *m.val // copy: the parsed tree stays as it was
			rr.members = append(append([]member(nil), rr.members...), extra)
			body.members[i].val = &rr
			return
		}
	}
	body.members = append(body.members, member{key: "rejectReason", val: &node{kind: kindObject, members: []member{extra}}})
}

// buildCancelTxn wraps the params as Journey Manager's {"params": {...}}.
func buildCancelTxn(n *node, r *Request) {
	r.submitKey = n.field("submitKey").text
	r.Resource = r.submitKey
	b := append([]byte(`{"params":`), appendJSON(nil, n)...)
	r.body = append(b, '}')
}
