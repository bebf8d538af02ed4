package platform_test

import (
	"fmt"

	"github.com/txworker/txworker/platform"
)

func ExampleAction_Parse() {
	a, _ := platform.LookupAction("revert-to-active")

	req, problems := a.Parse([]byte(`{
		"signer": {"email": "jdoe@example.com", "name": "John Doe"},
		"securityId": "USS3JKS01I00"
	}`))
	fmt.Println(req.Resource, problems == nil)

	_, problems = a.Parse([]byte(`{
		"processId": "2159457f-0167-4e93-a969-9cf0db05e0bf",
		"securityId": "USS3JKS01I00",
		"securityCorrelationData": {"correlationId": "USS3JKS01I00", "orgId": "US9QIMA"},
		"signer": {"email": "jdoe@example.com"}
	}`))
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// USS3JKS01I00 true
	// params.processId: unknown field (processId belongs in the command envelope)
	// params.signer.name: required
	// params.securityId: exactly one of securityId and securityCorrelationData is allowed, not both
}
