package sender

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tucanlink/wacloud/shared/delivery"
)

// TestMarkSentWith: the job record and the message record are written in
// one transaction, all or nothing.
func TestMarkSentWith(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	jobs := &JobStore{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	msgs := &delivery.Store{API: e.ddb, Table: e.stack.Names.Ref["MessagesTable"]}
	claim := func(t *testing.T, id string) string {
		t.Helper()
		c, existing, err := jobs.Claim(ctx, JobRecord{JobID: id, TenantID: "demo", PhoneNumberID: numberA, To: "5511977770040", Type: "text"})
		if err != nil || existing != nil {
			t.Fatalf("claim %s: %v %+v", id, err, existing)
		}
		return c
	}
	rec := func(job, wamid string) delivery.Record {
		return delivery.Record{WAMID: wamid, TenantID: "demo", PhoneNumberID: numberA, JobID: job, To: "5511977770040", Type: "text"}
	}
	// Another job already owns this wamid: its message record refuses the
	// next job's.
	if err := msgs.RecordAccepted(ctx, rec("msw-owner", "wamid.msw-taken")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		job       string
		wamid     string
		claimID   func(real string) string
		wantErr   error
		wantState string
		wantMsg   bool // the job's message record exists afterwards
	}{
		{name: "both written", job: "msw-1", wamid: fmt.Sprintf("wamid.msw-%d", recSeq.Add(1)), claimID: func(c string) string { return c },
			wantState: StateSent, wantMsg: true},
		{name: "claim lost: nothing written", job: "msw-2", wamid: fmt.Sprintf("wamid.msw-%d", recSeq.Add(1)), claimID: func(string) string { return "someone-else" },
			wantErr: errClaimLost, wantState: StateSending},
		{name: "message record refused: nothing written", job: "msw-3", wamid: "wamid.msw-taken", claimID: func(c string) string { return c },
			wantErr: errWithRefused, wantState: StateSending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job = fmt.Sprintf("%s-%d", tt.job, recSeq.Add(1)) // unique per run (go test -count)
			c := claim(t, tt.job)
			items, err := msgs.AcceptedWrites(rec(tt.job, tt.wamid))
			if err != nil {
				t.Fatal(err)
			}
			err = jobs.MarkSentWith(ctx, tt.job, tt.claimID(c), tt.wamid, 1, items)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			r, err := jobs.Get(ctx, tt.job)
			if err != nil || r == nil {
				t.Fatalf("job record %+v, %v", r, err)
			}
			if r.State != tt.wantState {
				t.Errorf("job state = %q, want %q", r.State, tt.wantState)
			}
			m, err := msgs.ByJob(ctx, tt.job)
			if got := err == nil && m.WAMID == tt.wamid; got != tt.wantMsg {
				t.Errorf("message record of the job present = %v (%+v, %v), want %v", got, m, err, tt.wantMsg)
			}
		})
	}
}
