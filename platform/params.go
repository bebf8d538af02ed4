package platform

import (
	"bytes"
	"net/url"

	"github.com/go-json-experiment/json/jsontext"
)

// The documented params of each action (SPEC §3, platform-apis §2 and §6.2), as typed structs.
// Each validate names the problems of its object at path; end is where the object ends (the
// place of its required and cross-field problems in document order).

type signer struct {
	Email   param[string] `json:"email"`
	Name    param[string] `json:"name"`
	Unknown unknown       `json:",embed"`
}

func (s *signer) validate(p *problems, path string, end int64) {
	text(p, path, "email", &s.Email, nonEmpty)
	text(p, path, "name", &s.Name, nonEmpty)
	unknownFields(p, path, s.Unknown)
	required(p, path, "email", &s.Email, end)
	required(p, path, "name", &s.Name, end)
}

type correlation struct {
	CorrelationID param[string] `json:"correlationId"`
	OrgID         param[string] `json:"orgId"`
	Unknown       unknown       `json:",embed"`
}

func (c *correlation) validate(p *problems, path string, end int64) {
	text(p, path, "correlationId", &c.CorrelationID, ident)
	text(p, path, "orgId", &c.OrgID, ident)
	unknownFields(p, path, c.Unknown)
	required(p, path, "correlationId", &c.CorrelationID, end)
}

// security is securityId or securityCorrelationData {correlationId, orgId}: exactly one of them
// ("Either securityId or securityCorrelationData must be provided, but not both.").
type security struct {
	SecurityID  param[string]      `json:"securityId"`
	Correlation param[correlation] `json:"securityCorrelationData"`
}

func (s *security) validate(p *problems, path string, end int64) {
	text(p, path, "securityId", &s.SecurityID, ident)
	object(p, path, "securityCorrelationData", &s.Correlation)
}

func (s *security) exactlyOne(p *problems, path string, end int64) {
	switch id, corr := s.SecurityID.set, s.Correlation.set; {
	case !id && !corr:
		p.add(end, joinPath(path, "securityId"), "exactly one of securityId and securityCorrelationData is required")
	case id && corr:
		p.add(end, joinPath(path, "securityId"), "exactly one of securityId and securityCorrelationData is allowed, not both")
	}
}

// resource is the event subject of a security action: the securityId, else the correlationId.
func (s *security) resource() string {
	if s.SecurityID.set {
		return s.SecurityID.v
	}
	return s.Correlation.v.CorrelationID.v
}

// transactionData holds the security (exactly one form) and an optional signer.
type transactionData struct {
	security
	Signer  param[signer] `json:"signer"`
	Unknown unknown       `json:",embed"`
}

func (t *transactionData) validate(p *problems, path string, end int64) {
	t.security.validate(p, path, end)
	object(p, path, "signer", &t.Signer)
	unknownFields(p, path, t.Unknown)
	t.exactlyOne(p, path, end)
}

type cancelOffering struct {
	security
	Unknown unknown `json:",embed"`
}

func (c *cancelOffering) validate(p *problems, path string, end int64) {
	c.security.validate(p, path, end)
	unknownFields(p, path, c.Unknown)
	c.exactlyOne(p, path, end)
}

type revertToActive struct {
	Signer param[signer] `json:"signer"`
	security
	Unknown unknown `json:",embed"`
}

func (r *revertToActive) validate(p *problems, path string, end int64) {
	object(p, path, "signer", &r.Signer)
	r.security.validate(p, path, end)
	unknownFields(p, path, r.Unknown)
	required(p, path, "signer", &r.Signer, end)
	r.exactlyOne(p, path, end)
}

type removeServiceProvider struct {
	TransactionData param[transactionData] `json:"transactionData"`
	OrgID           param[string]          `json:"orgId"`
	Unknown         unknown                `json:",embed"`
}

func (r *removeServiceProvider) validate(p *problems, path string, end int64) {
	object(p, path, "transactionData", &r.TransactionData)
	text(p, path, "orgId", &r.OrgID, ident)
	unknownFields(p, path, r.Unknown)
	required(p, path, "transactionData", &r.TransactionData, end)
	required(p, path, "orgId", &r.OrgID, end)
}

// rejectReason is Reject Asset's documented rejectReason.
type rejectReason struct {
	Reason    param[[]param[reason]] `json:"reason"`
	ExtraData param[free]            `json:"extraData"`
	Unknown   unknown                `json:",embed"`
}

func (r *rejectReason) validate(p *problems, path string, end int64) {
	array(p, path, "reason", &r.Reason)
	checkFree(p, path, &r.ExtraData)
	unknownFields(p, path, r.Unknown)
}

type reason struct {
	Message   param[string]            `json:"message"`
	Category  param[string]            `json:"category"`
	Documents param[[]param[docIssue]] `json:"documentWithIssues"`
	Unknown   unknown                  `json:",embed"`
}

func (r *reason) validate(p *problems, path string, end int64) {
	text(p, path, "message", &r.Message, anyText)
	text(p, path, "category", &r.Category, ident)
	array(p, path, "documentWithIssues", &r.Documents)
	unknownFields(p, path, r.Unknown)
}

type docIssue struct {
	Document param[document]      `json:"document"`
	Pages    param[[]param[page]] `json:"pages"`
	Unknown  unknown              `json:",embed"`
}

func (d *docIssue) validate(p *problems, path string, end int64) {
	object(p, path, "document", &d.Document)
	array(p, path, "pages", &d.Pages)
	unknownFields(p, path, d.Unknown)
}

type document struct {
	FileID  param[string] `json:"fileId"`
	Unknown unknown       `json:",embed"`
}

func (d *document) validate(p *problems, path string, end int64) {
	text(p, path, "fileId", &d.FileID, ident)
	unknownFields(p, path, d.Unknown)
}

type page struct {
	PageNumber  param[number] `json:"pageNumber"`
	Description param[string] `json:"description"`
	Unknown     unknown       `json:",embed"`
}

func (pg *page) validate(p *problems, path string, end int64) {
	if given(p, path, "pageNumber", &pg.PageNumber, "number") && !positiveInt(pg.PageNumber.v.lit) {
		p.add(pg.PageNumber.off, joinPath(path, "pageNumber"), "must be a positive integer")
	}
	text(p, path, "description", &pg.Description, anyText)
	unknownFields(p, path, pg.Unknown)
}

type rejectAsset struct {
	AssetID          param[string]          `json:"assetId"`
	IsCorrelationID  param[bool]            `json:"isAssetCorrelationId"`
	CorrelationOrgID param[string]          `json:"assetCorrelationOrgId"`
	TransactionData  param[transactionData] `json:"transactionData"`
	RejectReason     param[rejectReason]    `json:"rejectReason"`
	ExtraData        param[free]            `json:"extraData"`
	Unknown          unknown                `json:",embed"`
}

func (r *rejectAsset) validate(p *problems, path string, end int64) {
	text(p, path, "assetId", &r.AssetID, ident)
	given(p, path, "isAssetCorrelationId", &r.IsCorrelationID, "boolean")
	text(p, path, "assetCorrelationOrgId", &r.CorrelationOrgID, ident)
	object(p, path, "transactionData", &r.TransactionData)
	object(p, path, "rejectReason", &r.RejectReason)
	checkFree(p, path, &r.ExtraData)
	unknownFields(p, path, r.Unknown)
	required(p, path, "assetId", &r.AssetID, end)
	required(p, path, "transactionData", &r.TransactionData, end)
	// The path segment must not be "." or ".." (other characters are escaped).
	if a := r.AssetID.v; r.AssetID.got == 0 && (a == "." || a == "..") {
		p.add(end, joinPath(path, "assetId"), `must not be "." or ".."`)
	}
	// A top-level extraData is moved into rejectReason, so both is ambiguous.
	if r.ExtraData.set && r.RejectReason.v.ExtraData.set {
		p.add(end, joinPath(path, "extraData"), "given both here and in rejectReason.extraData; give it once")
	}
}

type cancelTxn struct {
	SubmitKey  param[string] `json:"submitKey"`
	Reason     param[string] `json:"reason"`
	Milestones param[string] `json:"milestones"`
	Unknown    unknown       `json:",embed"`
}

func (c *cancelTxn) validate(p *problems, path string, end int64) {
	text(p, path, "submitKey", &c.SubmitKey, ident)
	text(p, path, "reason", &c.Reason, anyText)
	text(p, path, "milestones", &c.Milestones, anyText)
	unknownFields(p, path, c.Unknown)
	required(p, path, "submitKey", &c.SubmitKey, end)
}

// The builders make the Request of valid params; raw is the params as given.

// buildAsIs: the params are the body, field for field (processId is added when sent).
func buildAsIs(s *security) func(raw jsontext.Value, r *Request) {
	return func(raw jsontext.Value, r *Request) {
		r.body = compact(raw)
		r.Resource = s.resource()
	}
}

// buildRejectAsset takes assetId and the query parameters out of the body and moves a top-level
// extraData into rejectReason.extraData.
func (ra *rejectAsset) build(raw jsontext.Value, r *Request) {
	r.assetID = ra.AssetID.v
	r.Resource = r.assetID
	r.query = url.Values{}
	if ra.IsCorrelationID.set {
		r.query.Set("isAssetCorrelationId", map[bool]string{true: "true", false: "false"}[ra.IsCorrelationID.v])
	}
	if ra.CorrelationOrgID.set {
		r.query.Set("assetCorrelationOrgId", ra.CorrelationOrgID.v)
	}
	extra := ra.ExtraData.v.raw
	var b bytes.Buffer
	enc := jsontext.NewEncoder(&b)
	_ = enc.WriteToken(jsontext.BeginObject)
	moved := false
	eachMember(raw, func(name string, v jsontext.Value) {
		switch name {
		case "assetId", "isAssetCorrelationId", "assetCorrelationOrgId", "extraData":
		case "rejectReason":
			_ = enc.WriteToken(jsontext.String(name))
			writeWithExtra(enc, v, extra)
			moved = true
		default:
			_ = enc.WriteToken(jsontext.String(name))
			_ = enc.WriteValue(v)
		}
	})
	if extra != nil && !moved {
		_ = enc.WriteToken(jsontext.String("rejectReason"))
		writeWithExtra(enc, jsontext.Value(`{}`), extra)
	}
	_ = enc.WriteToken(jsontext.EndObject)
	r.body = bytes.TrimSpace(b.Bytes())
}

// writeWithExtra writes the object obj with extraData appended when extra is not nil.
func writeWithExtra(enc *jsontext.Encoder, obj, extra jsontext.Value) {
	if extra == nil {
		_ = enc.WriteValue(obj)
		return
	}
	_ = enc.WriteToken(jsontext.BeginObject)
	eachMember(obj, func(name string, v jsontext.Value) {
		_ = enc.WriteToken(jsontext.String(name))
		_ = enc.WriteValue(v)
	})
	_ = enc.WriteToken(jsontext.String("extraData"))
	_ = enc.WriteValue(extra)
	_ = enc.WriteToken(jsontext.EndObject)
}

// buildCancelTxn wraps the params as Journey Manager's {"params": {...}}.
func (c *cancelTxn) build(raw jsontext.Value, r *Request) {
	r.submitKey = c.SubmitKey.v
	r.Resource = r.submitKey
	b := append([]byte(`{"params":`), compact(raw)...)
	r.body = append(b, '}')
}

// eachMember calls f with each member of the valid JSON object obj, in order.
func eachMember(obj jsontext.Value, f func(name string, v jsontext.Value)) {
	dec := jsontext.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.ReadToken(); err != nil {
		return
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return
		}
		name := tok.String() // before the next read voids tok
		v, err := dec.ReadValue()
		if err != nil {
			return
		}
		f(name, v)
	}
}

// compact is raw (valid JSON) without white space, strings and numbers as written.
func compact(raw jsontext.Value) []byte {
	v := raw.Clone()
	_ = v.Compact()
	return v
}

func positiveInt(lit jsontext.Value) bool {
	n := 0
	for i, c := range lit {
		if c < '0' || c > '9' || (i == 0 && c == '0') {
			return false
		}
		if n = n*10 + int(c-'0'); n > 1<<31-1 {
			return false
		}
	}
	return n >= 1
}
