package platformtest

import (
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// txType is the "type" of every transaction entry (the docs give no values).
const txType = "chaincode"

// stepMethod is the chaincode method of step i: the action's own for the first step, then
// "lifecycle", "initParams", "getTransfer" in turn (the documented example method names).
func stepMethod(ep endpoint, i int) string {
	if i > 0 {
		return [...]string{"lifecycle", "initParams", "getTransfer"}[(i-1)%3]
	}
	switch ep {
	case epCancel:
		return "cancelOffering"
	case epRevert:
		return "revertCompletedToActive"
	case epRemove:
		return "removeServiceProvider"
	case epReject:
		return "rejectAsset"
	}
	return "restrictOffering"
}

func blockNumber(e txEntry) int64 { return 350 + e.o.seq*maxSteps + int64(e.i) }

func ledgerTxID(e txEntry) string {
	return strings.ToUpper(strings.ReplaceAll(e.o.stepPID(e.i), "-", ""))
}

func channelName(e txEntry) string { return strings.ToLower(e.o.org) }

// txFilter holds the transactions endpoint's non-id filters.
type txFilter struct {
	block                   int // -1: any
	txID, channel           string
	statuses, methods, orgs []string
}

func (f *txFilter) match(e txEntry, now int64) bool {
	if f.statuses != nil {
		if st, _ := e.o.stepStatusAt(e.i, now); !slices.Contains(f.statuses, st) {
			return false
		}
	}
	switch {
	case f.methods != nil && !slices.Contains(f.methods, stepMethod(e.o.action, e.i)):
	case f.orgs != nil && !slices.Contains(f.orgs, e.o.org):
	case f.block >= 0 && int64(f.block) != blockNumber(e):
	case f.txID != "" && f.txID != ledgerTxID(e):
	case f.channel != "" && !strings.EqualFold(f.channel, channelName(e)):
	default:
		return true
	}
	return false
}

// appendTx appends one transaction entry as of now.
func appendTx(b []byte, e txEntry, now int64) []byte {
	o := e.o
	status, at := o.stepStatusAt(e.i, now)
	b = append(b, `{"processId":`...)
	b = appendString(b, o.stepPID(e.i))
	b = append(b, `,"orchestrationId":`...)
	b = appendString(b, o.id)
	b = append(b, `,"grantedByProcessId":`...)
	b = appendString(b, o.id)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","type":"`+txType+`","method":`...)
	b = appendString(b, stepMethod(o.action, e.i))
	b = append(b, `,"orgId":`...)
	b = appendString(b, o.org)
	if at != 0 {
		b = append(b, `,"timestamp":`...)
		b = appendTS(b, o.form, at)
	}
	b = append(b, `,"orchestrationStartDate":`...)
	b = appendTS(b, o.form, o.created)
	if status == "success" {
		b = append(b, `,"blockchainDetails":{"blockNumber":`...)
		b = strconv.AppendInt(b, blockNumber(e), 10)
		b = append(b, `,"transactionId":`...)
		b = appendString(b, ledgerTxID(e))
		b = append(b, `,"channelName":`...)
		b = appendString(b, channelName(e))
		b = append(b, '}')
	}
	b = append(b, `,"details":{"securityIds":[`...)
	b = appendString(b, o.security)
	b = append(b, `],"assetIds":[`...)
	if o.action == epReject {
		b = appendString(b, o.target)
	}
	return append(b, "]}}"...)
}

func parseUUID(s string) (uuid.UUID, error) { return uuid.Parse(s) }
