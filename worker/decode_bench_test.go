package worker

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// decodeCases are one valid command of every action (the documentation's
// examples) and an invalid one that names several problems.
var decodeCases = []struct {
	name, action, body string
	valid              bool
}{
	{"cancel-offering", "cancel-offering", `{"commandId":"c-1","params":{"securityId":"USS3JKS01I00"}}`, true},
	{"revert-to-active", "revert-to-active", `{"commandId":"c-2","processId":"2159457f-0167-4e93-a969-9cf0db05e0bf",
		"deadline":"2026-11-21T12:00:00Z","params":{"signer":{"email":"john.doe@example.com","name":"John Doe"},"securityId":"USS3JKS01I00"}}`, true},
	{"remove-service-provider", "remove-service-provider", `{"commandId":"c-3","params":{"transactionData":{"securityId":"USS3JKS01I00",
		"signer":{"email":"john.doe@example.com","name":"John Doe"}},"orgId":"US9QIMA"}}`, true},
	{"reject-asset", "reject-asset", `{"commandId":"c-4","params":{"assetId":"US9QIMAOAS1Q","transactionData":{"securityId":"USS3JKS01I00",
		"signer":{"email":"john.doe@example.com","name":"John Doe"}},"rejectReason":{"reason":[{"message":"reject reason","category":"EC006",
		"documentWithIssues":[{"document":{"fileId":"FILE3JUS03I04"},"pages":[{"pageNumber":1,"description":"The first page has an invalid signature"}]}]}],
		"extraData":{"externalId":"123456789","some":"Custom Property"}}}}`, true},
	{"cancel-txn", "cancel-txn", `{"commandId":"c-5","params":{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"completed in branch"}}`, true},
	{"invalid", "revert-to-active", `{"commandId":"c-6","processId":"not-a-uuid","extra":1,"params":{"securityId":"A",
		"securityCorrelationData":{"correlationId":"B"},"unknown":true}}`, false},
}

// BenchmarkDecode decodes and validates one command (envelope and params,
// SPEC §3), as the worker does for every message.
func BenchmarkDecode(b *testing.B) {
	hdr := nats.Header{}
	for _, tc := range decodeCases {
		body := []byte(tc.body)
		b.Run(tc.name, func(b *testing.B) {
			if p := decode(testInput(tc.action, body, hdr, 1), testLimits); (p.reason == "") != tc.valid {
				b.Fatalf("valid = %v, want %v: %v", p.reason == "", tc.valid, p.problems)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				decode(testInput(tc.action, body, hdr, 1), testLimits)
			}
		})
	}
}
