package queue_test

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/txworker/txworker/queue"
)

// A Journey Manager cancel that succeeded, as it goes onto the bus.
func ExampleNewEvent() {
	received := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	settled := received.Add(800 * time.Millisecond)
	ev := queue.NewEvent("txworker", "15d071280b92c867f86975b9cd2e8765", queue.EventData{
		CommandID:      "ord-7781-cancel",
		Action:         "cancel-txn",
		Outcome:        queue.OutcomeSucceeded,
		PlatformStatus: "Abandoned",
		Attempts:       1,
		ReceivedAt:     &received,
		SettledAt:      &settled,
	}, settled)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ev); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "specversion": "1.0",
	//   "id": "ord-7781-cancel:succeeded",
	//   "source": "txworker",
	//   "type": "txworker.cancel-txn.succeeded",
	//   "subject": "15d071280b92c867f86975b9cd2e8765",
	//   "time": "2026-11-21T09:00:00.8Z",
	//   "datacontenttype": "application/json",
	//   "data": {
	//     "commandId": "ord-7781-cancel",
	//     "action": "cancel-txn",
	//     "outcome": "succeeded",
	//     "platformStatus": "Abandoned",
	//     "attempts": 1,
	//     "polls": 0,
	//     "receivedAt": "2026-11-21T09:00:00Z",
	//     "settledAt": "2026-11-21T09:00:00.8Z"
	//   }
	// }
}
