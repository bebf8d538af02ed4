// Package platformtest is an in-process simulator of the two platforms txworker talks to: the
// Corastone Integration API (OAuth2 token endpoint, the asynchronous actions, the Transactions
// API) and the Temenos Journey Manager Workspaces Txn API (cancel, query). Tests, benchmarks,
// load runs and `txworker sandbox` use it. It speaks the documented HTTP/JSON
// (reference/platform-apis.md) and imports nothing of txworker.
//
// New returns an http.Handler; Start also serves it on 127.0.0.1:0. State lives in memory:
// securities, assets, organizations, JM transactions, orchestrations, tokens and JM sessions.
// No goroutine or timer runs per orchestration: each stores its creation time and step
// durations, and its status is computed when asked. Effects of successful orchestrations
// (cancel → security cancelled, revert → active, remove → service provider unassigned,
// reject → asset rejected, restrict → restricted) are applied lazily, before the next action
// or inspection that could see them. Config.Now replaces the clock, so tests can move time on
// instead of sleeping.
//
// # Endpoints
//
// Every request without a User-Agent gets 403; an unknown path 404; a wrong method 405.
//
//	POST /oauth2/token                                   HTTP Basic client auth, form body
//	     grant_type=client_credentials&scope=a b; no scope → all the client's scopes.
//	     200 {"access_token","token_type":"Bearer","expires_in","scope"}; 401 invalid_client,
//	     400 invalid_request, unsupported_grant_type, invalid_scope (a scope the client lacks).
//	PUT  /external/v1/security-admin/cancel              cancelOffering
//	PUT  /external/v1/security-admin/revert-completed-to-active   revertCompletedToActive
//	PUT  /external/v1/service-providers/remove           manageServiceProviders
//	PUT  /external/v1/primary/asset/{assetId}/reject     rejectSubscription (also the heading's
//	     /external/v1/primary/{assetId}/reject); assetId is one escaped path segment;
//	     query isAssetCorrelationId=true|false, assetCorrelationOrgId
//	PUT  /external/v1/security-admin/restrict            restrictOffering
//	GET  /external/v1/transactions/orchestrations        readTransactionData
//	GET  /external/v1/transactions                       readTransactionData
//	POST /workspaces/secure/api/v1/txn/cancel            JM
//	POST /workspaces/secure/api/v1/txn/query             JM
//
// Actions answer 200 {"processId","orchestrationId"} (reject adds "assetId", the platform id).
// A supplied processId (a canonical v4 UUID) becomes the orchestrationId, processIds[0] and
// sourceTransactionId; later steps get fresh v4 UUIDs. The same processId again returns the
// original ids, starts nothing and is not counted (see Config.NoDedupe). Remove Service Provider
// and Reject Asset accept a top-level processId too.
//
// Orchestrations are queued, then run their steps one after another (in_progress), and end
// success, failed or dlq. A failed orchestration's failing step is "failed" and every later
// step "failed"; a dlq one's failing step is "timed_out", later ones "failed". currentStep is
// the 0-based index of the running step (the documented example has currentStep 1 for two
// steps, success). timestamp appears only once ended. startDate, createdDate and timestamp
// (and transaction timestamps) come in one form per orchestration, rotating RFC 3339 string,
// date string, epoch-ms number, epoch-ms numeric string (Plan.TimestampForm fixes one).
// Transaction entries carry processId, orchestrationId, grantedByProcessId, status, type
// ("chaincode"), method (the action's, then "lifecycle", "initParams", "getTransfer"), orgId,
// timestamp (end once finished, start while running, absent while queued),
// orchestrationStartDate, blockchainDetails (once successful) and details.
//
// List endpoints refuse (400 GN0002) unknown or repeated query parameters, pageSize outside
// 1..50, more than 50 orchestrationIdsFilter ids on /orchestrations or 10 on /transactions, more
// than 50 processIdsFilter ids, ids that are not v4 UUIDs, more than 5 status values or unknown
// ones. Unknown ids are simply absent; results are in creation (then step) order.
//
// # Error codes
//
// Corastone errors are {"errorDetails":[{"code","message","type","reason":[…]}]}, type
// "technicalValidations" for GN/AU codes and "businessRuleValidations" otherwise. Checks run in
// this order: User-Agent (403), token (401 AU0001: missing, unknown, expired or revoked), scope
// (403 AU0002 "You do not have access to this scope: {scope}"), payload (400 GN0002: Content-Type
// not application/json, invalid JSON, unknown fields at any depth, both or neither of securityId
// and securityCorrelationData, processId not a v4 UUID, missing signer (revert), transactionData
// (remove, reject) or orgId (remove), unknown query parameters), then the processId look-up, then
// the business rules:
//
//	unknown security                   404 IS0009 (by securityId or securityCorrelationData)
//	unknown asset (reject)             404 IS0009 "Asset '…' was not found."  [docs silent]
//	asset of another security (reject) 400 GN0002                             [docs silent]
//	caller lacks the role              403 IS0099 (cancel, revert, restrict: issuer or
//	                                   service_provider; reject, remove: issuer, i.e. owner)
//	cancel on an unrestricted security 409 IS0010 "Security '…' is not restricted." [docs silent]
//	revert/remove/reject/restrict on a
//	restricted security                409 IS0013 "Security '…' is restricted."     [docs silent]
//	wrong security status              409 IS0012 (cancel: active, completed; revert:
//	                                   approved_revert_to_active; reject: active, paused;
//	                                   restrict: any but cancelled [docs silent]; remove: any)
//	contingent offering (revert)       409 IS0031
//	unknown organization (remove)      404 OG0001
//	organization never assigned        409 SP0004
//	organization already unassigned    409 SP0005
//	wrong asset status (reject)        409 AS0005 (needs created, remediation_pending,
//	                                   remediated or modified)
//
// Journey Manager errors are {"error":key,"message":…}: 400 badRequest (not a JSON object, an
// unknown attribute at the top level or in params, wrong types, bad filters), 400
// submitKeyNotSpecified, 400 txnNotFound, 400 txnAlreadyFinished (Completed or Abandoned,
// compared case-insensitively), 401 unauthorized, 403 invalidCsrfToken, 500 internalError
// (injected). JM authenticates with HTTP Basic (Config.JMUsers) or any live bearer token from
// the token endpoint; the first authenticated answer sets the JSESSIONID and XSRF-TOKEN cookies;
// a request presenting a known JSESSIONID is authenticated by it and, being a POST, must carry
// X-XSRF-TOKEN equal to the XSRF-TOKEN cookie (403 otherwise). An unknown JSESSIONID is ignored.
// Query supports the criteria attributes submitKey, trackingCode, formStatus, jobRefNumber,
// timeRequest, timeUserLastModified with =, !=, <>, <, <=, >, >=, in; values {N}, 'quoted',
// ['a','b'] or bare words; and the documented default filters.
//
// # Seeded fixtures
//
// Organizations US9QI (the default client's, owner of every seeded security), US9QIMA, US9QIFA,
// US9QIPO. Securities (the caller's roles in brackets; all owned by US9QI):
//
//	USS3JKS01I00  approved_revert_to_active, not restricted [issuer]; service provider US9QIMA
//	              assigned, US9QIFA formerly; correlation {USS3JKS01I00, US9QIMA}.
//	              revert ✓; remove US9QIMA ✓, US9QIFA → SP0005, US9QIPO → SP0004,
//	              others → OG0001; cancel → IS0010; reject US9QIMAOAS1Q → IS0012
//	USS3JKS02I00  active, restricted [issuer]; US9QIMA assigned. cancel ✓; revert/remove/
//	              restrict → IS0013
//	USS3JKS03I00  completed, restricted [service_provider]. cancel ✓; remove → IS0099
//	USS3JKS04I00  active, not restricted [issuer]; US9QIMA assigned. reject ✓; restrict ✓;
//	              remove US9QIMA ✓; cancel → IS0010; revert → IS0012
//	USS3JKS05I00  paused, not restricted [issuer]. reject ✓
//	USS3JKS06I00  completed, not restricted [issuer]. revert → IS0012; cancel → IS0010
//	USS3JKS07I00  approved_revert_to_active, restricted [issuer]. revert → IS0013
//	USS3JKS08I00  approved_revert_to_active, not restricted [investor]. revert → IS0099
//	USS3JKS09I00  approved_revert_to_active, not restricted, contingent [issuer]. revert → IS0031
//	USS3JKS10I00  cancelled, restricted [issuer]. cancel → IS0012
//	USS3JKS11I00  active, restricted [no roles]. cancel → IS0099
//
// Assets:
//
//	US9QIMAOAS1Q  of USS3JKS01I00, created → reject IS0012 (security not active/paused)
//	US9QIMAOAS2Q  of USS3JKS04I00, created, correlation {"lot/42?a=1#b%20", US9QI} → reject ✓
//	US9QIMAOAS3Q  of USS3JKS05I00, remediation_pending → reject ✓
//	US9QIMAOAS4Q  of USS3JKS04I00, settled → reject AS0005
//	US9QIMAOAS5Q  of USS3JKS02I00, created → reject IS0013 (restricted)
//	US9QIMAOAS6Q  of USS3JKS03I00, created → reject IS0099
//
// Journey Manager transactions (submitKey, trackingCode, formStatus):
//
//	15d071280b92c867f86975b9cd2e8765  ZT73VWL  Saved      → cancel ✓
//	25d071280b92c867f86975b9cd2e8765  ZT73VWM  Completed  → txnAlreadyFinished
//	35d071280b92c867f86975b9cd2e8765  ZT73VWN  Abandoned  → txnAlreadyFinished
//	45d071280b92c867f86975b9cd2e8765  ZT73VWP  Opened     → cancel ✓
//	55d071280b92c867f86975b9cd2e8765  ZT73VWQ  Assigned   → cancel ✓
//
// Default credentials: Corastone client "txworker" / "sandbox-secret" with AllScopes() (org
// US9QI); Journey Manager user "jm-user" / "jm-pass".
//
// # AutoCreate
//
// With Config.AutoCreate, an unknown security is created owned by the caller's organization
// with roles [issuer] in the state its action needs (cancel: active and restricted; revert:
// approved_revert_to_active; remove: active with the named service provider assigned; reject,
// restrict: active); one named by securityCorrelationData gets a generated id (SIMS…). An
// unknown asset is created "created" under the request's security (correlation ids get a
// generated SIMA… id); an unknown organization becomes known; an unknown JM submitKey is
// created Saved. Existing entities are never changed to make an action pass.
//
// # Faults and inspection
//
// Faults (Config.Faults, SetFaults) add latency, 5xx, 429 with Retry-After, dropped connections
// before or after the effect, malformed 200 bodies and token revocation, optionally limited to
// some endpoints (Faults.Only). Requests, Count, Accepted, AcceptedTotal, MaxAcceptedPerProcess,
// Repeats, Cancelled, Orchestration, Security, Asset and Txn report what happened.
package platformtest
