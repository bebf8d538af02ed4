// Package metrics holds txworker's Prometheus collectors and its ops HTTP server.
//
// [New] registers every txworker_* metric family on an injected
// [prometheus.Registerer] (never the default registry) and initialises every
// known label combination at zero, so that rates and ratios exist before the
// first event. [NewRegistry] returns a fresh registry that already carries the
// process and Go runtime collectors.
//
// Every label draws its values from a closed set (actions, outcomes, platforms,
// endpoints, retry stages, documented platform error codes, …): a value outside
// its set is recorded under a fixed fallback ("unknown" for actions, "other"
// elsewhere), so no id or free text can ever become a label value.
//
// [Metrics] implements the platform client's Observer interface
// (ObserveRequest, ObserveErrorCode, ObserveTokenFetch). A nil *Metrics is
// valid and discards everything, so packages may be used without metrics.
//
// [Server] serves /metrics, /healthz and /readyz on its own [http.ServeMux].
// /healthz reports the worker's own loops (never a remote check); /readyz
// reports the ready check and answers 503 from [Server.SetDraining] on.
//
// The dashboard and alert rules in deploy/ query these names; a test in this
// package proves that every metric name they use is registered here.
package metrics
