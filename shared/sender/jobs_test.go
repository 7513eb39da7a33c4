package sender

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
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
			err = jobs.MarkSentWith(ctx, JobRef{TenantID: "demo", JobID: tt.job}, tt.claimID(c), tt.wamid, 1, items)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			r, err := jobs.Get(ctx, JobRef{TenantID: "demo", JobID: tt.job})
			if err != nil || r == nil {
				t.Fatalf("job record %+v, %v", r, err)
			}
			if r.State != tt.wantState {
				t.Errorf("job state = %q, want %q", r.State, tt.wantState)
			}
			m, err := msgs.ByJob(ctx, "demo", tt.job)
			if got := err == nil && m.WAMID == tt.wamid; got != tt.wantMsg {
				t.Errorf("message record of the job present = %v (%+v, %v), want %v", got, m, err, tt.wantMsg)
			}
		})
	}
}

// TestJobIDScopedByTenant: two tenants may use the same job id; each job
// is sent exactly once, however often it is delivered.
func TestJobIDScopedByTenant(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	to := rcpt(t, "+5511977770050")
	id := jid(t, "scoped-1")
	var recs []events.SQSMessage
	for _, tt := range []struct{ tenant, number string }{{"demo", numberA}, {"other", numberB}} {
		e.openWindowOn(t, tt.number, to, time.Now().Add(-time.Minute))
		job := textJob(id, to, "hello from "+tt.tenant)
		job.TenantID, job.PhoneNumberID = tt.tenant, tt.number
		recs = append(recs, record(t, job, 1))
	}
	for i := 0; i < 2; i++ { // and delivered again
		for _, rec := range recs {
			if failed := handle(t, h, rec); len(failed) != 0 {
				t.Fatal(failed)
			}
		}
	}
	sent := map[string]int{}
	for _, a := range e.simFor(to) {
		sent[a.PhoneNumberID]++
	}
	if sent[numberA] != 1 || sent[numberB] != 1 {
		t.Errorf("sends per number %v, want one from each tenant's number", sent)
	}
	accepted := map[string]int{}
	for _, ev := range e.coreEvents(t, id) {
		if ev.Type == event.TypeOutboundAccepted && ev.Outbound.MessageID != "" {
			accepted[ev.TenantID]++
		} else {
			t.Errorf("event %s for tenant %s: %+v", ev.Type, ev.TenantID, ev.Outbound)
		}
	}
	if accepted["demo"] != 1 || accepted["other"] != 1 {
		t.Errorf("outbound.accepted per tenant %v, want one each", accepted)
	}
}

// TestJobRecordLifetime: a job record lives as long as its message record
// (and the job reference in it), a day more; a job id reused while it
// lives is answered with the first result, and one reused after it is a
// new job with a message record of its own.
func TestJobRecordLifetime(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	to := rcpt(t, "+5511977770051")
	id := jid(t, "lifetime-1")
	rec := record(t, textJob(id, to, "first"), 1)
	at := func(h *Handler, now time.Time) {
		clock := func() time.Time { return now }
		h.Now, h.Jobs.Now = clock, clock
		h.Deliveries.(*delivery.Store).Now = clock
		h.Windows.(*windowCache).Now = clock
		e.openWindowOn(t, numberA, to, now.Add(-time.Minute))
	}
	start := time.Now()
	at(h, start)
	if failed := handle(t, h, rec); len(failed) != 0 {
		t.Fatal(failed)
	}
	first, err := (&delivery.Store{API: e.ddb, Table: e.stack.Names.Ref["MessagesTable"]}).ByJob(context.Background(), "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	jobExp, refExp := e.expiresAt(t, "StateTable", "job#demo#"+id), e.expiresAt(t, "MessagesTable", "jobref#demo#"+id)
	if jobExp.Before(refExp) || jobExp.Sub(refExp) > 24*time.Hour+time.Minute {
		t.Errorf("job record expires %s, its job reference %s: want the job record last, by at most a day", jobExp, refExp)
	}
	if evs := e.coreEvents(t, id); len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted || evs[0].Outbound.MessageID != first.WAMID {
		t.Fatalf("events %+v, want outbound.accepted with wamid %s", evs, first.WAMID)
	}

	tests := []struct {
		name     string
		after    time.Duration
		wantSent int // messages to the recipient so far
	}{
		{"reused after 16 days: the first result again", 16 * 24 * time.Hour, 1},
		{"reused after 89 days: the first result again", 89 * 24 * time.Hour, 1},
		{"reused after both expired: a new job", DefaultRetention + time.Hour, 2},
	}
	elapsed := time.Duration(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh := e.handler(t)
			at(hh, start.Add(tt.after))
			// The job comes back days later, as a new message (SQS's
			// message and deduplication ids of its first copy are long
			// gone): AWS's time moves with the handler's.
			e.emu.Elapse(tt.after - elapsed)
			elapsed = tt.after
			// …and the core has long forgotten the first result's key.
			e.coreForgets(t)
			reused := record(t, textJob(id, to, "first"), 1)
			if failed := handle(t, hh, reused); len(failed) != 0 {
				t.Fatal(failed)
			}
			if got := len(e.simFor(to)); got != tt.wantSent {
				t.Fatalf("sent %d messages, want %d", got, tt.wantSent)
			}
			m, err := (&delivery.Store{API: e.ddb, Table: e.stack.Names.Ref["MessagesTable"]}).ByJob(context.Background(), "demo", id)
			if err != nil {
				t.Fatalf("the job's message record: %v", err)
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted || evs[0].Outbound.MessageID != m.WAMID {
				t.Errorf("events %+v, want one outbound.accepted with the message record's wamid %s", evs, m.WAMID)
			}
			if newJob := m.WAMID != first.WAMID; newJob != (tt.wantSent == 2) {
				t.Errorf("message record wamid %s (first %s)", m.WAMID, first.WAMID)
			}
		})
	}
}

// TestLegacyJobRecord: a job claimed or sent by a version that keyed job
// records by job id alone ("job#{job_id}") and redelivered after the
// upgrade is answered from that record and not sent again; another
// tenant's record under that key does not stop the job.
func TestLegacyJobRecord(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	to := rcpt(t, "+5511977770052")
	e.openWindow(t, to)
	tests := []struct {
		name      string
		tenant    string // of the legacy record
		wantSends int
	}{
		{"own record: answered from it", "demo", 0},
		{"another tenant's record: sent", "other", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := jid(t, "legacy-"+tt.tenant)
			wamid := "wamid.legacy-" + id
			item, err := attributevalue.MarshalMap(JobRecord{JobID: id, TenantID: tt.tenant, PhoneNumberID: numberA, To: to[1:], Type: "text",
				State: StateSent, ClaimID: "old", WAMID: wamid, Attempts: 1, FinishedAt: time.Now().UnixMilli(),
				ExpiresAt: time.Now().Add(legacyRetention).Unix()})
			if err != nil {
				t.Fatal(err)
			}
			item["pk"] = &ddbtypes.AttributeValueMemberS{Value: "job#" + id}
			if _, err := e.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.stack.Names.Ref["StateTable"]), Item: item}); err != nil {
				t.Fatal(err)
			}
			before := len(e.simFor(to))
			if failed := handle(t, h, record(t, textJob(id, to, "hi"), 2)); len(failed) != 0 {
				t.Fatal(failed)
			}
			if got := len(e.simFor(to)) - before; got != tt.wantSends {
				t.Errorf("sent %d, want %d", got, tt.wantSends)
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted || evs[0].TenantID != "demo" ||
				(tt.wantSends == 0) != (evs[0].Outbound.MessageID == wamid) {
				t.Errorf("events %+v", evs)
			}
		})
	}
}
