package platform

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	tests := []struct {
		raw     string
		want    time.Time
		wantErr bool
	}{
		{`"2024-09-12T00:00:00.000Z"`, utc(2024, 9, 12, 0, 0, 0, 0), false},
		{`"2024-09-12T10:11:12.123456789+02:00"`, utc(2024, 9, 12, 8, 11, 12, 123456789), false},
		{`"2024-09-12T10:11:12Z"`, utc(2024, 9, 12, 10, 11, 12, 0), false},
		{`"2024-09-12T10:11:12.5"`, utc(2024, 9, 12, 10, 11, 12, 500000000), false},
		{`"1980-01-01"`, utc(1980, 1, 1, 0, 0, 0, 0), false},
		{`1185106460000`, utc(2007, 7, 22, 12, 14, 20, 0), false},
		{`"1185106460000"`, utc(2007, 7, 22, 12, 14, 20, 0), false},
		{` 1185106460000.5 `, utc(2007, 7, 22, 12, 14, 20, 500000), false},
		{`1.1851064600e12`, utc(2007, 7, 22, 12, 14, 20, 0), false},
		{`-1000`, utc(1969, 12, 31, 23, 59, 59, 0), false},
		{`0`, utc(1970, 1, 1, 0, 0, 0, 0), false},
		{`null`, time.Time{}, false},
		{``, time.Time{}, false},
		{`""`, time.Time{}, false},
		{`"  "`, time.Time{}, false},
		{`"yesterday"`, time.Time{}, true},
		{`"2024-13-01"`, time.Time{}, true},
		{`true`, time.Time{}, true},
		{`{}`, time.Time{}, true},
		{`[1]`, time.Time{}, true},
		{`"Inf"`, time.Time{}, true},
		{`1e300`, time.Time{}, true},
		{`99999999999999999999`, time.Time{}, true},
		{`"\u0000"`, time.Time{}, true},
		{`"12`, time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp([]byte(tt.raw))
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("ParseTimestamp(%s) = %v, %v; want %v, err %v", tt.raw, got, err, tt.want, tt.wantErr)
		}
		if err == nil && !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("ParseTimestamp(%s) not UTC: %v", tt.raw, got.Location())
		}
	}
}

func TestTimestampJSON(t *testing.T) {
	var o Orchestration
	raw := `{"orchestrationId":"o1","status":"success","startDate":"2024-09-12T00:00:00.000Z","timestamp":1726099200000,
		"createdDate":"2024-09-12","processIds":["a","b"],"sourceTransactionId":"a","currentStep":2}`
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 9, 12, 0, 0, 0, 0, time.UTC)
	if !o.StartDate.Equal(want) || !o.Timestamp.Equal(want) || !o.CreatedDate.Equal(want) || !o.Terminal() || o.CurrentStep != 2 {
		t.Errorf("decoded %+v", o)
	}
	var unfinished Orchestration
	if err := json.Unmarshal([]byte(`{"orchestrationId":"o2","status":"in_progress","timestamp":null,"startDate":"1726099200000"}`), &unfinished); err != nil {
		t.Fatal(err)
	}
	if !unfinished.Timestamp.IsZero() || unfinished.Terminal() || !unfinished.StartDate.Equal(want) {
		t.Errorf("decoded %+v", unfinished)
	}
	out, err := json.Marshal(struct {
		A Timestamp `json:"a"`
		B Timestamp `json:"b"`
	}{Timestamp{want.Add(123 * time.Nanosecond)}, Timestamp{}})
	if err != nil || string(out) != `{"a":"2024-09-12T00:00:00.000000123Z","b":null}` {
		t.Errorf("marshal: %s %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"startDate":"soon"}`), &o); err == nil {
		t.Error("bad timestamp accepted")
	}
}

func TestTerminal(t *testing.T) {
	for status, want := range map[string]bool{"queued": false, "in_progress": false, "success": true, "failed": true, "dlq": true, "": false, "SUCCESS": false} {
		if (Orchestration{Status: status}).Terminal() != want {
			t.Errorf("%q", status)
		}
	}
}
