package platformtest

import (
	"net/url"
	"strings"
)

// Wire shapes of the action bodies, field for field as documented. decodeStrict refuses every
// other field at any depth (extraData is free-form).
type (
	signerJSON struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	corrJSON struct {
		CorrelationID string `json:"correlationId"`
		OrgID         string `json:"orgId"`
	}
	secRefJSON struct {
		SecurityID              *string   `json:"securityId"`
		SecurityCorrelationData *corrJSON `json:"securityCorrelationData"`
	}
	txDataJSON struct {
		secRefJSON
		Signer *signerJSON `json:"signer"`
	}
	pageJSON struct {
		PageNumber  int    `json:"pageNumber"`
		Description string `json:"description"`
	}
	docIssueJSON struct {
		Document *struct {
			FileID string `json:"fileId"`
		} `json:"document"`
		Pages []pageJSON `json:"pages"`
	}
	reasonJSON struct {
		Message            string         `json:"message"`
		Category           string         `json:"category"`
		DocumentWithIssues []docIssueJSON `json:"documentWithIssues"`
	}
	rejectReasonJSON struct {
		Reason    []reasonJSON   `json:"reason"`
		ExtraData map[string]any `json:"extraData"`
	}
	// cancelJSON is Cancel Offering's body.
	cancelJSON struct {
		ProcessID *string `json:"processId"`
		secRefJSON
	}
	// signedJSON is the body of Revert Back to Active (signer required) and Restrict (optional).
	signedJSON struct {
		ProcessID *string     `json:"processId"`
		Signer    *signerJSON `json:"signer"`
		secRefJSON
	}
	removeJSON struct {
		ProcessID       *string     `json:"processId"`
		TransactionData *txDataJSON `json:"transactionData"`
		OrgID           *string     `json:"orgId"`
	}
	rejectJSON struct {
		ProcessID       *string           `json:"processId"`
		TransactionData *txDataJSON       `json:"transactionData"`
		RejectReason    *rejectReasonJSON `json:"rejectReason"`
	}
)

// actionReq is a decoded, syntactically valid action request.
type actionReq struct {
	processID  string
	securityID string       // or:
	corr       *Correlation // securityCorrelationData
	spOrg      string       // remove: the service provider's orgId
	asset      string       // reject: the path value
	assetCorr  bool         // reject: isAssetCorrelationId=true
	assetOrg   string       // reject: assetCorrelationOrgId
}

// ref names the security for messages.
func (a *actionReq) ref() string {
	if a.corr != nil {
		return a.corr.CorrelationID
	}
	return a.securityID
}

// decodeAction decodes and checks an action body; problems are the reasons of a GN0002.
func decodeAction(ep endpoint, body []byte) (actionReq, []string) {
	var req actionReq
	var pid *string
	var ref secRefJSON
	var problems []string
	bad := func(p string) { problems = append(problems, p) }
	hasRef := true // false when the object holding the security reference is missing
	var err error
	switch ep {
	case epCancel:
		var b cancelJSON
		err = decodeStrict(body, &b)
		pid, ref = b.ProcessID, b.secRefJSON
	case epRevert, epRestrict:
		var b signedJSON
		err = decodeStrict(body, &b)
		pid, ref = b.ProcessID, b.secRefJSON
		if err == nil && ep == epRevert && b.Signer == nil {
			bad("signer is required")
		}
	case epRemove:
		var b removeJSON
		err = decodeStrict(body, &b)
		pid = b.ProcessID
		if b.TransactionData != nil {
			ref = b.TransactionData.secRefJSON
		} else {
			hasRef = false
			bad("transactionData is required")
		}
		switch {
		case b.OrgID != nil && *b.OrgID != "":
			req.spOrg = *b.OrgID
		case err == nil:
			bad("orgId is required")
		}
	case epReject:
		var b rejectJSON
		err = decodeStrict(body, &b)
		pid = b.ProcessID
		if b.TransactionData != nil {
			ref = b.TransactionData.secRefJSON
		} else {
			hasRef = false
			bad("transactionData is required")
		}
	}
	if err != nil {
		return req, []string{"invalid JSON body: " + err.Error()}
	}
	if pid != nil {
		if !isV4(*pid) {
			bad("processId must be a v4 UUID")
		}
		req.processID = *pid
	}
	if hasRef {
		switch {
		case ref.SecurityID != nil && ref.SecurityCorrelationData != nil:
			bad(`either "securityId" or "securityCorrelationData" must be provided, but not both`)
		case ref.SecurityID != nil:
			if *ref.SecurityID == "" {
				bad("securityId must not be empty")
			}
			req.securityID = *ref.SecurityID
		case ref.SecurityCorrelationData != nil:
			c := ref.SecurityCorrelationData
			if c.CorrelationID == "" || c.OrgID == "" {
				bad("securityCorrelationData needs correlationId and orgId")
			}
			req.corr = &Correlation{CorrelationID: c.CorrelationID, OrgID: c.OrgID}
		default:
			bad(`either "securityId" or "securityCorrelationData" must be provided`)
		}
	}
	return req, problems
}

// rejectQuery reads reject-asset's query parameters into req.
func rejectQuery(raw string, req *actionReq) []string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return []string{"invalid query string"}
	}
	var problems []string
	for k, v := range q {
		switch {
		case len(v) != 1:
			problems = append(problems, "query parameter "+k+" given more than once")
		case k == "isAssetCorrelationId":
			switch strings.ToLower(v[0]) {
			case "true":
				req.assetCorr = true
			case "false":
			default:
				problems = append(problems, "isAssetCorrelationId must be true or false")
			}
		case k == "assetCorrelationOrgId":
			req.assetOrg = v[0]
		default:
			problems = append(problems, "unknown query parameter "+k)
		}
	}
	return problems
}

// isV4 reports whether s is a v4 UUID in canonical 8-4-4-4-12 form (either case).
func isV4(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return s[14] == '4' && strings.IndexByte("89abAB", s[19]) >= 0
}

func isHex(c byte) bool { return c-'0' < 10 || (c|0x20)-'a' < 6 }
