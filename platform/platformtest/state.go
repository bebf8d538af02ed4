package platformtest

import (
	"slices"
	"time"
)

// Security statuses the simulator uses (the platform's own spelling).
const (
	StatusActive                 = "active"
	StatusCompleted              = "completed"
	StatusApprovedRevertToActive = "approved_revert_to_active"
	StatusPaused                 = "paused"
	StatusCancelled              = "cancelled"
)

// Asset statuses the simulator uses. An asset rejected through the API ends StatusRejected.
const (
	AssetCreated            = "created"
	AssetRemediationPending = "remediation_pending"
	AssetRemediated         = "remediated"
	AssetModified           = "modified"
	AssetSettled            = "settled"
	AssetRejected           = "rejected"
)

// Journey Manager form statuses.
const (
	FormSaved     = "Saved"
	FormOpened    = "Opened"
	FormAssigned  = "Assigned"
	FormCompleted = "Completed"
	FormAbandoned = "Abandoned"
	FormSubmitted = "Submitted"
	FormExpired   = "Expired"
)

// Security is one offering as the simulator holds it. The caller of every request (whatever its
// client) has Roles on it; "issuer" also means the caller owns it (Remove Service Provider).
type Security struct {
	ID         string
	Status     string
	Restricted bool
	Owner      string   // owning organization
	Roles      []string // the caller's roles: "issuer", "service_provider", …
	// ServiceProviders are the assigned service-provider organizations; FormerServiceProviders
	// were assigned once and have been removed (SP0005 when removed again).
	ServiceProviders       []string
	FormerServiceProviders []string
	Correlations           []Correlation // client correlation ids that also name the security
	Contingent             bool          // a contingent offering: Revert answers IS0031
}

// Correlation is a client correlation id of a security or asset within an organization.
type Correlation struct {
	CorrelationID string
	OrgID         string
}

// Asset is one subscription lot of a security.
type Asset struct {
	ID          string // 12-character platform id
	SecurityID  string
	Status      string
	Correlation Correlation // zero: none
}

// Txn is one Journey Manager transaction.
type Txn struct {
	SubmitKey    string
	TrackingCode string
	FormStatus   string
	Reason       string   // abandonment reason of the last cancel
	Milestones   []string // milestones added by cancels
	Created      time.Time
	Modified     time.Time
}

func (sec Security) clone() *Security {
	sec.Roles = slices.Clone(sec.Roles)
	sec.ServiceProviders = slices.Clone(sec.ServiceProviders)
	sec.FormerServiceProviders = slices.Clone(sec.FormerServiceProviders)
	sec.Correlations = slices.Clone(sec.Correlations)
	return &sec
}

func (t Txn) clone() *Txn {
	t.Milestones = slices.Clone(t.Milestones)
	return &t
}

func corrKey(c Correlation) string { return c.OrgID + "\x00" + c.CorrelationID }

// AddSecurity adds sec, or replaces the security with the same ID. Its owner, service providers
// and correlation organizations become known organizations.
func (s *Simulator) AddSecurity(sec Security) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addSecurityLocked(sec.clone())
}

func (s *Simulator) addSecurityLocked(sec *Security) {
	if old := s.securities[sec.ID]; old != nil {
		for _, c := range old.Correlations {
			delete(s.secCorr, corrKey(c))
		}
	}
	s.securities[sec.ID] = sec
	for _, c := range sec.Correlations {
		s.secCorr[corrKey(c)] = sec.ID
		s.orgs[c.OrgID] = struct{}{}
	}
	for _, o := range slices.Concat([]string{sec.Owner}, sec.ServiceProviders, sec.FormerServiceProviders) {
		if o != "" {
			s.orgs[o] = struct{}{}
		}
	}
}

// AddAsset adds a, or replaces the asset with the same ID. Its security need not exist.
func (s *Simulator) AddAsset(a Asset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAssetLocked(&a)
}

func (s *Simulator) addAssetLocked(a *Asset) {
	if old := s.assets[a.ID]; old != nil && old.Correlation != (Correlation{}) {
		delete(s.assetCorr, corrKey(old.Correlation))
	}
	s.assets[a.ID] = a
	if a.Correlation != (Correlation{}) {
		s.assetCorr[corrKey(a.Correlation)] = a.ID
	}
}

// AddTxn adds t, or replaces the transaction with the same submitKey. A zero Created or
// Modified becomes the simulator's current time.
func (s *Simulator) AddTxn(t Txn) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addTxnLocked(t.clone(), now)
}

func (s *Simulator) addTxnLocked(t *Txn, now time.Time) {
	if t.Created.IsZero() {
		t.Created = now
	}
	if t.Modified.IsZero() {
		t.Modified = t.Created
	}
	if _, ok := s.txns[t.SubmitKey]; !ok {
		s.txnOrder = append(s.txnOrder, t.SubmitKey)
	}
	s.txns[t.SubmitKey] = t
}

// AddOrg makes an organization known (Remove Service Provider answers OG0001 for unknown ones).
func (s *Simulator) AddOrg(orgID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs[orgID] = struct{}{}
}

// Restrict sets the restricted flag of a security at once (the HTTP restrict endpoint instead
// takes effect when its orchestration succeeds). It reports whether the security exists.
func (s *Simulator) Restrict(securityID string, restricted bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.securities[securityID]
	if sec != nil {
		sec.Restricted = restricted
	}
	return sec != nil
}

// Security returns a copy of a security as of now (effects of orchestrations that have
// succeeded by now applied).
func (s *Simulator) Security(id string) (Security, bool) {
	now := s.cfg.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyDue(now)
	sec := s.securities[id]
	if sec == nil {
		return Security{}, false
	}
	return *sec.clone(), true
}

// Asset returns a copy of an asset as of now.
func (s *Simulator) Asset(id string) (Asset, bool) {
	now := s.cfg.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyDue(now)
	a := s.assets[id]
	if a == nil {
		return Asset{}, false
	}
	return *a, true
}

// Txn returns a copy of a Journey Manager transaction.
func (s *Simulator) Txn(submitKey string) (Txn, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.txns[submitKey]
	if t == nil {
		return Txn{}, false
	}
	return *t.clone(), true
}
