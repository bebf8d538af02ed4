package platformtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// rule is what an action requires of its security and asset.
type rule struct {
	scope      string
	roles      []string
	statuses   []string // nil: any
	restricted bool     // the security must be restricted (else: must not be)
}

func ruleFor(ep endpoint) rule {
	both := []string{"issuer", "service_provider"}
	switch ep {
	case epCancel:
		return rule{scope: scopeCancel, roles: both, statuses: []string{StatusActive, StatusCompleted}, restricted: true}
	case epRevert:
		return rule{scope: scopeRevert, roles: both, statuses: []string{StatusApprovedRevertToActive}}
	case epRemove:
		return rule{scope: scopeRemoveSP, roles: []string{"issuer"}}
	case epReject:
		return rule{scope: scopeReject, roles: []string{"issuer"}, statuses: []string{StatusActive, StatusPaused}}
	}
	return rule{scope: scopeRestrict, roles: both,
		statuses: []string{StatusActive, StatusCompleted, StatusPaused, StatusApprovedRevertToActive}}
}

var rejectableAssets = []string{AssetCreated, AssetRemediationPending, AssetRemediated, AssetModified}

// handleAction serves the five PUT actions: auth, scope, payload, idempotent processId, business
// rules, then a new orchestration.
func (s *Simulator) handleAction(w http.ResponseWriter, r *http.Request, rt route, now time.Time) reply {
	ru := ruleFor(rt.ep)
	who, rep, ok := s.authorize(w, r, ru.scope, now)
	if !ok {
		return rep
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return badPayload("Content-Type must be application/json")
	}
	body, err := readBody(r)
	if err != nil {
		return badPayload(err.Error())
	}
	req, problems := decodeAction(rt.ep, body)
	if rt.ep == epReject {
		req.asset = rt.asset
		problems = append(problems, rejectQuery(r.URL.RawQuery, &req)...)
	} else if r.URL.RawQuery != "" {
		problems = append(problems, "this endpoint takes no query parameters")
	}
	if len(problems) > 0 {
		return badPayload(problems...)
	}
	n := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyDue(n)
	key := strings.ToLower(req.processID)
	if o := s.orch(key); key != "" && o != nil {
		if !s.cfg.NoDedupe {
			s.repeats[key]++
			return acceptedReply(o)
		}
		if _, _, rep, ok := s.check(rt.ep, ru, &req, who); !ok {
			return rep
		}
		s.countAccepted(rt.ep, key)
		return acceptedReply(o)
	}
	sec, asset, rep, ok := s.check(rt.ep, ru, &req, who)
	if !ok {
		return rep
	}
	target := req.spOrg
	if asset != nil {
		target = asset.ID
	}
	o := s.newOrch(rt.ep, req.processID, sec.ID, target, who.org, n)
	s.countAccepted(rt.ep, strings.ToLower(o.id))
	return acceptedReply(o)
}

func (s *Simulator) countAccepted(ep endpoint, key string) {
	if ep == epRestrict {
		return
	}
	s.accepted[key]++
	s.acceptedN++
	s.maxAccept = max(s.maxAccept, s.accepted[key])
}

// acceptedReply is {"processId","orchestrationId"} (+ "assetId" for reject-asset).
func acceptedReply(o *orch) reply {
	b := make([]byte, 0, 128)
	b = append(b, `{"processId":`...)
	b = appendString(b, o.id)
	b = append(b, `,"orchestrationId":`...)
	b = appendString(b, o.id)
	if o.action == epReject {
		b = append(b, `,"assetId":`...)
		b = appendString(b, o.target)
	}
	return reply{status: http.StatusOK, body: append(b, '}')}
}

// check applies the business rules in the order existence (404), role (403), restricted flag,
// security status, contingent, service provider, asset status (409); s.mu must be held.
func (s *Simulator) check(ep endpoint, ru rule, req *actionReq, who caller) (*Security, *Asset, reply, bool) {
	sec := s.findSecurity(req)
	if sec == nil {
		if !s.cfg.AutoCreate {
			return nil, nil, securityNotFound(req.ref()), false
		}
		sec = s.autoSecurity(ep, req, who)
	}
	var asset *Asset
	if ep == epReject {
		if asset = s.findAsset(req, who); asset == nil {
			if !s.cfg.AutoCreate {
				return nil, nil, coraError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Asset '%s' was not found.", req.asset)), false
			}
			asset = s.autoAsset(req, sec, who)
		}
		if asset.SecurityID != sec.ID {
			return nil, nil, badPayload(fmt.Sprintf("asset '%s' does not belong to security '%s'", asset.ID, sec.ID)), false
		}
	}
	if !slices.ContainsFunc(sec.Roles, func(r string) bool { return slices.Contains(ru.roles, r) }) {
		return nil, nil, wrongRole(sec.ID, ru.roles, sec.Roles), false
	}
	switch {
	case ru.restricted && !sec.Restricted:
		return nil, nil, coraError(http.StatusConflict, codeNotRestr, fmt.Sprintf("Security '%s' is not restricted.", sec.ID)), false
	case !ru.restricted && sec.Restricted:
		return nil, nil, coraError(http.StatusConflict, codeRestricted, fmt.Sprintf("Security '%s' is restricted.", sec.ID)), false
	case ru.statuses != nil && !slices.Contains(ru.statuses, sec.Status):
		return nil, nil, wrongStatus(sec.ID, sec.Status, ru.statuses), false
	case ep == epRevert && sec.Contingent:
		return nil, nil, coraError(http.StatusConflict, codeContingent, "Completed contingent offerings can't be reverted back to active."), false
	}
	switch ep {
	case epRemove:
		if rep, ok := s.checkProvider(sec, req.spOrg); !ok {
			return nil, nil, rep, false
		}
	case epReject:
		if !slices.Contains(rejectableAssets, asset.Status) {
			return nil, nil, wrongAssetStatus(asset.ID, asset.Status, rejectableAssets), false
		}
	}
	return sec, asset, reply{}, true
}

func (s *Simulator) checkProvider(sec *Security, org string) (reply, bool) {
	if _, known := s.orgs[org]; !known {
		if !s.cfg.AutoCreate {
			return coraError(http.StatusNotFound, codeOrg, fmt.Sprintf("Organization '%s' was not found.", org)), false
		}
		s.orgs[org] = struct{}{}
	}
	switch {
	case slices.Contains(sec.ServiceProviders, org):
		return reply{}, true
	case slices.Contains(sec.FormerServiceProviders, org):
		return coraError(http.StatusConflict, codeUnassigned,
			fmt.Sprintf("Organization '%s' is already unassigned from offering '%s'", org, sec.ID)), false
	}
	return coraError(http.StatusConflict, codeNotAssign,
		fmt.Sprintf("Organization '%s' is not assigned to offering '%s'", org, sec.ID)), false
}

func (s *Simulator) findSecurity(req *actionReq) *Security {
	if req.corr != nil {
		return s.securities[s.secCorr[corrKey(*req.corr)]]
	}
	return s.securities[req.securityID]
}

// findAsset resolves the path value: a correlation id if isAssetCorrelationId=true or its length
// is not 12 (in assetCorrelationOrgId's organization, default the caller's), else a platform id.
func (s *Simulator) findAsset(req *actionReq, who caller) *Asset {
	if req.assetCorr || len(req.asset) != 12 {
		return s.assets[s.assetCorr[corrKey(s.assetCorrelation(req, who))]]
	}
	return s.assets[req.asset]
}

func (s *Simulator) assetCorrelation(req *actionReq, who caller) Correlation {
	org := req.assetOrg
	if org == "" {
		org = who.org
	}
	return Correlation{CorrelationID: req.asset, OrgID: org}
}

// autoSecurity creates the unknown security of req in the state ep needs (AutoCreate).
func (s *Simulator) autoSecurity(ep endpoint, req *actionReq, who caller) *Security {
	sec := &Security{ID: req.securityID, Owner: who.org, Roles: []string{"issuer"}, Status: StatusActive}
	if req.corr != nil {
		s.autoSeq++
		sec.ID = fmt.Sprintf("SIMS%08d", s.autoSeq)
		sec.Correlations = []Correlation{*req.corr}
	}
	switch ep {
	case epCancel:
		sec.Restricted = true
	case epRevert:
		sec.Status = StatusApprovedRevertToActive
	case epRemove:
		sec.ServiceProviders = []string{req.spOrg}
	}
	s.addSecurityLocked(sec)
	return sec
}

// autoAsset creates the unknown asset of req, status created, under sec (AutoCreate).
func (s *Simulator) autoAsset(req *actionReq, sec *Security, who caller) *Asset {
	a := &Asset{ID: req.asset, SecurityID: sec.ID, Status: AssetCreated}
	if req.assetCorr || len(req.asset) != 12 {
		s.autoSeq++
		a.ID = fmt.Sprintf("SIMA%08d", s.autoSeq)
		a.Correlation = s.assetCorrelation(req, who)
	}
	s.addAssetLocked(a)
	return a
}
