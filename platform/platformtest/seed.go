package platformtest

import "time"

// seedFixtures adds the fixtures listed in the package documentation; s.mu must be held (or s
// owned exclusively).
func (s *Simulator) seedFixtures(now time.Time) {
	issuer := []string{"issuer"}
	for _, o := range []string{defaultOrg, "US9QIMA", "US9QIFA", "US9QIPO"} {
		s.orgs[o] = struct{}{}
	}
	secs := []Security{
		{ID: "USS3JKS01I00", Status: StatusApprovedRevertToActive, Roles: issuer,
			ServiceProviders: []string{"US9QIMA"}, FormerServiceProviders: []string{"US9QIFA"},
			Correlations: []Correlation{{CorrelationID: "USS3JKS01I00", OrgID: "US9QIMA"}}},
		{ID: "USS3JKS02I00", Status: StatusActive, Restricted: true, Roles: issuer, ServiceProviders: []string{"US9QIMA"}},
		{ID: "USS3JKS03I00", Status: StatusCompleted, Restricted: true, Roles: []string{"service_provider"}},
		{ID: "USS3JKS04I00", Status: StatusActive, Roles: issuer, ServiceProviders: []string{"US9QIMA"}},
		{ID: "USS3JKS05I00", Status: StatusPaused, Roles: issuer},
		{ID: "USS3JKS06I00", Status: StatusCompleted, Roles: issuer},
		{ID: "USS3JKS07I00", Status: StatusApprovedRevertToActive, Restricted: true, Roles: issuer},
		{ID: "USS3JKS08I00", Status: StatusApprovedRevertToActive, Roles: []string{"investor"}},
		{ID: "USS3JKS09I00", Status: StatusApprovedRevertToActive, Roles: issuer, Contingent: true},
		{ID: "USS3JKS10I00", Status: StatusCancelled, Restricted: true, Roles: issuer},
		{ID: "USS3JKS11I00", Status: StatusActive, Restricted: true, Roles: []string{}},
	}
	for _, sec := range secs {
		sec.Owner = defaultOrg
		s.addSecurityLocked(sec.clone())
	}
	assets := []Asset{
		{ID: "US9QIMAOAS1Q", SecurityID: "USS3JKS01I00", Status: AssetCreated},
		{ID: "US9QIMAOAS2Q", SecurityID: "USS3JKS04I00", Status: AssetCreated,
			Correlation: Correlation{CorrelationID: "lot/42?a=1#b%20", OrgID: defaultOrg}},
		{ID: "US9QIMAOAS3Q", SecurityID: "USS3JKS05I00", Status: AssetRemediationPending},
		{ID: "US9QIMAOAS4Q", SecurityID: "USS3JKS04I00", Status: AssetSettled},
		{ID: "US9QIMAOAS5Q", SecurityID: "USS3JKS02I00", Status: AssetCreated},
		{ID: "US9QIMAOAS6Q", SecurityID: "USS3JKS03I00", Status: AssetCreated},
	}
	for _, a := range assets {
		s.addAssetLocked(&a)
	}
	txns := []Txn{
		{SubmitKey: "15d071280b92c867f86975b9cd2e8765", TrackingCode: "ZT73VWL", FormStatus: FormSaved},
		{SubmitKey: "25d071280b92c867f86975b9cd2e8765", TrackingCode: "ZT73VWM", FormStatus: FormCompleted},
		{SubmitKey: "35d071280b92c867f86975b9cd2e8765", TrackingCode: "ZT73VWN", FormStatus: FormAbandoned},
		{SubmitKey: "45d071280b92c867f86975b9cd2e8765", TrackingCode: "ZT73VWP", FormStatus: FormOpened},
		{SubmitKey: "55d071280b92c867f86975b9cd2e8765", TrackingCode: "ZT73VWQ", FormStatus: FormAssigned},
	}
	for _, t := range txns {
		s.addTxnLocked(t.clone(), now)
	}
}
