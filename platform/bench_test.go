package platform

import "testing"

// BenchmarkParse decodes and validates the documentation's example params of each action.
func BenchmarkParse(b *testing.B) {
	signer := `"signer":{"email":"jdoe@example.com","name":"John Doe"}`
	cases := []struct{ action, params string }{
		{"cancel-offering", `{"securityId":"USS3JKS01I00"}`},
		{"revert-to-active", `{` + signer + `,"securityCorrelationData":{"correlationId":"USS3JKS01I00","orgId":"US9QIMA"}}`},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00",` + signer + `},"orgId":"US9QIMA"}`},
		{"reject-asset", `{"assetId":"US9QIMAOAS1Q","transactionData":{"securityId":"USS3JKS01I00",` + signer + `},"rejectReason":` + rejectJSON + `}`},
		{"cancel-txn", `{"milestones":"Application Status: Staff Cancelled","reason":"Job application will be completed in branch","submitKey":"15d071280b92c867f86975b9cd2e8765"}`},
	}
	for _, c := range cases {
		a := mustAction(b, c.action)
		params := []byte(c.params)
		b.Run(c.action, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(params)))
			for b.Loop() {
				if _, problems := a.Parse(params); problems != nil {
					b.Fatal(problems)
				}
			}
		})
	}
}
