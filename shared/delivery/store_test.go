package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newStore provisions the template from scratch and returns a Store on its
// MessagesTable. The emulator keeps its tables per process, so without
// stack.Fresh a test would find the records of its own previous run
// (go test -count=N): the wamids are fixed, and a message that already
// reached read or failed does not advance again.
func newStore(t testing.TB) *delivery.Store {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	return &delivery.Store{
		API:   dynamodb.NewFromConfig(emu.Config()),
		Table: st.Names.Ref["MessagesTable"],
		Now:   func() time.Time { return base },
	}
}

func accepted(wamid string) delivery.Record {
	return delivery.Record{
		WAMID: wamid, TenantID: "acme", PhoneNumberID: "100", JobID: "job-" + wamid,
		ClientRef: "ref-" + wamid, To: "5511999", Type: "text", AcceptedAt: base,
	}
}

func status(wamid, st string, sec int) delivery.StatusUpdate {
	u := delivery.StatusUpdate{
		WAMID: wamid, TenantID: "acme", PhoneNumberID: "100", Recipient: "5511999",
		Status: st, At: base.Add(time.Duration(sec) * time.Second),
	}
	if st == event.StatusFailed {
		u.Errors = []event.Error{{Code: 131026, Title: "Message undeliverable", Details: "Unable to deliver"}}
	}
	if st == event.StatusSent || st == event.StatusDelivered {
		yes := true
		u.Conversation = &event.Conversation{ID: "conv1", OriginType: "service"}
		u.Pricing = &event.Pricing{Billable: &yes, Model: "PMP", Category: "service"}
	}
	return u
}

func TestRecordAcceptedAndGet(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	r := accepted("wamid.A")
	if err := s.RecordAccepted(ctx, r); err != nil {
		t.Fatal(err)
	}
	// Idempotent.
	if err := s.RecordAccepted(ctx, r); err != nil {
		t.Fatalf("second RecordAccepted: %v", err)
	}
	got, err := s.Get(ctx, "wamid.A")
	if err != nil {
		t.Fatal(err)
	}
	if got.Record != r {
		t.Errorf("record = %+v, want %+v", got.Record, r)
	}
	if got.Status != event.StatusAccepted || got.External {
		t.Errorf("status = %q external = %v, want accepted, not external", got.Status, got.External)
	}
	byJob, err := s.ByJob(ctx, r.TenantID, r.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if byJob.WAMID != r.WAMID {
		t.Errorf("ByJob wamid = %q, want %q", byJob.WAMID, r.WAMID)
	}
	if _, err := s.Get(ctx, "wamid.nope"); !errors.Is(err, delivery.ErrNotFound) {
		t.Errorf("Get unknown: %v, want ErrNotFound", err)
	}
	if _, err := s.ByJob(ctx, r.TenantID, "job-nope"); !errors.Is(err, delivery.ErrNotFound) {
		t.Errorf("ByJob unknown: %v, want ErrNotFound", err)
	}

	other := r
	other.TenantID = "evil"
	err = s.RecordAccepted(ctx, other)
	if !errors.Is(err, delivery.ErrTenantMismatch) || fault.ClassOf(err) != fault.Permanent {
		t.Errorf("RecordAccepted for another tenant: %v, want permanent ErrTenantMismatch", err)
	}
	if err := s.RecordAccepted(ctx, delivery.Record{WAMID: "x"}); fault.ClassOf(err) != fault.Invalid {
		t.Errorf("RecordAccepted without job: %v, want invalid", err)
	}
}

// TestJobReferences: job ids are scoped by tenant, a reference written by
// an earlier version (no tenant in its key) is still found for its own
// tenant only, and an expired reference (TTL not run yet) gives way to the
// job id's next use instead of refusing its message record.
func TestJobReferences(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"same job id in two tenants", func(t *testing.T) {
			a, b := accepted("wamid.JR-a"), accepted("wamid.JR-b")
			a.JobID, b.JobID, b.TenantID = "jr-shared", "jr-shared", "other"
			for _, r := range []delivery.Record{a, b} {
				if err := s.RecordAccepted(ctx, r); err != nil {
					t.Fatalf("tenant %s: %v", r.TenantID, err)
				}
			}
			for _, r := range []delivery.Record{a, b} {
				if m, err := s.ByJob(ctx, r.TenantID, r.JobID); err != nil || m.WAMID != r.WAMID {
					t.Errorf("ByJob(%s) = %q, %v; want %q", r.TenantID, m.WAMID, err, r.WAMID)
				}
			}
		}},
		{"reference of an earlier version", func(t *testing.T) {
			r := accepted("wamid.JR-legacy")
			if err := s.RecordAccepted(ctx, r); err != nil {
				t.Fatal(err)
			}
			// As versions before tenant-scoped job ids wrote it.
			_, err := s.API.(*dynamodb.Client).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: map[string]ddbtypes.AttributeValue{
				"pk": &ddbtypes.AttributeValueMemberS{Value: "jobref#jr-legacy"}, "wamid": &ddbtypes.AttributeValueMemberS{Value: r.WAMID},
				"tenant_id": &ddbtypes.AttributeValueMemberS{Value: r.TenantID}}})
			if err != nil {
				t.Fatal(err)
			}
			if m, err := s.ByJob(ctx, r.TenantID, "jr-legacy"); err != nil || m.WAMID != r.WAMID {
				t.Errorf("own tenant: ByJob = %q, %v; want %q", m.WAMID, err, r.WAMID)
			}
			if _, err := s.ByJob(ctx, "other", "jr-legacy"); !errors.Is(err, delivery.ErrNotFound) {
				t.Errorf("another tenant: ByJob err = %v, want ErrNotFound", err)
			}
		}},
		{"expired reference", func(t *testing.T) {
			first := accepted("wamid.JR-first")
			first.JobID = "jr-reused"
			if err := s.RecordAccepted(ctx, first); err != nil {
				t.Fatal(err)
			}
			later := *s
			later.Now = func() time.Time { return base.Add(delivery.DefaultRetention + time.Hour) }
			second := first
			second.WAMID, second.AcceptedAt = "wamid.JR-second", later.Now()
			if err := later.RecordAccepted(ctx, second); err != nil {
				t.Fatalf("job id reused after its reference expired: %v", err)
			}
			if m, err := later.ByJob(ctx, second.TenantID, second.JobID); err != nil || m.WAMID != second.WAMID {
				t.Errorf("ByJob = %q, %v; want %q", m.WAMID, err, second.WAMID)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// TestRecordAcceptedWritesExternalFalse reads the stored item itself:
// Message.External is also false when the attribute is missing, so only
// the item shows that the accepted write landed. "external" is a DynamoDB
// reserved word; written bare, it made DynamoDB (and moto) refuse every
// RecordAccepted.
func TestRecordAcceptedWritesExternalFalse(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tests := []struct {
		name        string
		wamid       string
		statusFirst bool // a status creates the record (external) before the sender's write
	}{
		{"new record", "wx1", false},
		{"over a record a status created", "wx2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.statusFirst {
				if _, err := s.Apply(ctx, status(tt.wamid, "delivered", 2)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.RecordAccepted(ctx, accepted(tt.wamid)); err != nil {
				t.Fatalf("RecordAccepted: %v", err)
			}
			out, err := s.API.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true),
				Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "msg#" + tt.wamid}},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := out.Item["external"].(*ddbtypes.AttributeValueMemberBOOL)
			if !ok || got.Value {
				t.Errorf("stored external = %#v, want BOOL false", out.Item["external"])
			}
			if got, want := out.Item["job_id"], (&ddbtypes.AttributeValueMemberS{Value: "job-" + tt.wamid}); !reflect.DeepEqual(got, want) {
				t.Errorf("stored job_id = %#v, want %#v", got, want)
			}
		})
	}
}

func TestApplyKeepsHistoryAndDetails(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.RecordAccepted(ctx, accepted("w1")); err != nil {
		t.Fatal(err)
	}
	sent := status("w1", "sent", 1)
	sent.BizOpaqueCallbackData = "track-1"
	res, err := s.Apply(ctx, sent)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Advanced || res.Previous != "accepted" || res.Message.Status != "sent" {
		t.Fatalf("sent: %+v", res)
	}
	if res.Message.Pricing == nil || res.Message.Pricing.Model != "PMP" || res.Message.Pricing.Billable == nil || !*res.Message.Pricing.Billable {
		t.Errorf("pricing = %+v", res.Message.Pricing)
	}
	if res.Message.Conversation == nil || res.Message.Conversation.ID != "conv1" {
		t.Errorf("conversation = %+v", res.Message.Conversation)
	}
	if res.Message.BizOpaqueCallbackData != "track-1" {
		t.Errorf("biz_opaque_callback_data = %q", res.Message.BizOpaqueCallbackData)
	}
	if _, err := s.Apply(ctx, status("w1", "read", 3)); err != nil {
		t.Fatal(err)
	}
	// Late delivered: no advance, but its timestamp is kept.
	res, err = s.Apply(ctx, status("w1", "delivered", 2))
	if err != nil {
		t.Fatal(err)
	}
	if res.Advanced || res.Previous != "read" || res.Message.Status != "read" {
		t.Errorf("late delivered: advanced=%v previous=%q status=%q, want no advance from read", res.Advanced, res.Previous, res.Message.Status)
	}
	want := map[string]time.Time{"sent": base.Add(time.Second), "delivered": base.Add(2 * time.Second), "read": base.Add(3 * time.Second)}
	for st, at := range want {
		if got := res.Message.StatusAt[st]; !got.Equal(at) {
			t.Errorf("%s_at = %v, want %v", st, got, at)
		}
	}
	if got, want := fmt.Sprint(res.Message.Transitions), "map[read:sent sent:accepted]"; got != want {
		t.Errorf("transitions = %s, want %s", got, want)
	}
	// Failed after read keeps Meta's error, does not advance.
	res, err = s.Apply(ctx, status("w1", "failed", 4))
	if err != nil {
		t.Fatal(err)
	}
	if res.Advanced || res.Message.Status != "read" {
		t.Errorf("failed after read advanced to %q", res.Message.Status)
	}
	if len(res.Message.Errors) != 1 || res.Message.Errors[0].Code != 131026 || res.Message.Errors[0].Details != "Unable to deliver" {
		t.Errorf("errors = %+v", res.Message.Errors)
	}
}

func TestApplyFailedKeepsError(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.RecordAccepted(ctx, accepted("w2")); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"sent", "delivered"} {
		if _, err := s.Apply(ctx, status("w2", st, 1)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Apply(ctx, status("w2", "failed", 2))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Advanced || res.Previous != "delivered" {
		t.Fatalf("failed after delivered: %+v", res)
	}
	got, err := s.Get(ctx, "w2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "failed" || len(got.Errors) != 1 || got.Errors[0].Title != "Message undeliverable" {
		t.Errorf("record = %+v", got)
	}
}

func TestApplyUnknownAndLateRecord(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("require record", func(t *testing.T) {
		u := status("w3", "sent", 1)
		u.RequireRecord = true
		_, err := s.Apply(ctx, u)
		if !errors.Is(err, delivery.ErrNoRecord) || fault.ClassOf(err) != fault.Retry {
			t.Fatalf("Apply without record: %v, want retryable ErrNoRecord", err)
		}
		if _, err := s.Get(ctx, "w3"); !errors.Is(err, delivery.ErrNotFound) {
			t.Errorf("RequireRecord wrote a record: %v", err)
		}
	})
	t.Run("external then accepted", func(t *testing.T) {
		res, err := s.Apply(ctx, status("w3", "delivered", 2))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Advanced || res.Previous != "" || !res.Message.External || res.Message.TenantID != "acme" {
			t.Fatalf("first status of unknown wamid: %+v", res)
		}
		// The sender's write comes late: it fills in the job, keeps the state.
		if err := s.RecordAccepted(ctx, accepted("w3")); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "w3")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "delivered" || got.External || got.JobID != "job-w3" || got.ClientRef != "ref-w3" {
			t.Errorf("after late RecordAccepted: status=%q external=%v job=%q ref=%q", got.Status, got.External, got.JobID, got.ClientRef)
		}
		if !got.StatusAt["delivered"].Equal(base.Add(2 * time.Second)) {
			t.Errorf("delivered_at lost: %v", got.StatusAt)
		}
		res, err = s.Apply(ctx, status("w3", "sent", 1))
		if err != nil || res.Advanced {
			t.Errorf("late sent: advanced=%v err=%v", res.Advanced, err)
		}
	})
	t.Run("tenant mismatch", func(t *testing.T) {
		u := status("w3", "read", 5)
		u.TenantID = "evil"
		_, err := s.Apply(ctx, u)
		if !errors.Is(err, delivery.ErrTenantMismatch) || fault.ClassOf(err) != fault.Permanent {
			t.Fatalf("other tenant: %v, want permanent ErrTenantMismatch", err)
		}
		u = status("w3", "read", 5)
		u.PhoneNumberID = "999"
		if _, err := s.Apply(ctx, u); !errors.Is(err, delivery.ErrTenantMismatch) {
			t.Fatalf("other number: %v, want ErrTenantMismatch", err)
		}
		got, _ := s.Get(ctx, "w3")
		if got.Status != "delivered" {
			t.Errorf("mismatched status changed the record to %q", got.Status)
		}
		if _, ok := got.StatusAt["read"]; ok {
			t.Error("mismatched status left a read timestamp")
		}
	})
	t.Run("unknown status", func(t *testing.T) {
		for _, st := range []string{"pending", "accepted", ""} {
			if _, err := s.Apply(ctx, status("w3", st, 1)); fault.ClassOf(err) != fault.Invalid {
				t.Errorf("status %q: %v, want invalid", st, err)
			}
		}
	})
}

func TestPendingAndMarkNotified(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, st := range []string{"sent", "delivered"} {
		if _, err := s.Apply(ctx, status("w4", st, 1)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.Get(ctx, "w4")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(m.Pending()), "[sent delivered]"; got != want {
		t.Fatalf("pending = %s, want %s", got, want)
	}
	if err := s.MarkNotified(ctx, "w4", m.Pending(), base); err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(ctx, status("w4", "read", 2))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res.Message.Pending()), "[read]"; got != want {
		t.Errorf("pending after read = %s, want %s", got, want)
	}
}

func TestApplyDuplicateStorm(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.RecordAccepted(ctx, accepted("w5")); err != nil {
		t.Fatal(err)
	}
	statuses := []string{"sent", "delivered", "read"}
	const copies = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		advanced = map[string]int{}
	)
	for i := range copies * len(statuses) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := statuses[i%len(statuses)]
			res, err := s.Apply(ctx, status("w5", st, i%len(statuses)))
			if err != nil {
				t.Error(err)
				return
			}
			if res.Advanced {
				mu.Lock()
				advanced[st]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	got, err := s.Get(ctx, "w5")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "read" {
		t.Errorf("final status = %q, want read", got.Status)
	}
	for st, n := range advanced {
		if n != 1 {
			t.Errorf("%s advanced %d times, want at most once", st, n)
		}
	}
	if advanced["read"] != 1 {
		t.Errorf("read advanced %d times, want 1", advanced["read"])
	}
	// Every recorded transition was reported as an advance exactly once.
	if len(got.Transitions) != len(advanced) {
		t.Errorf("transitions %v, advances %v", got.Transitions, advanced)
	}
}

// countingAPI counts the DynamoDB calls a Store makes.
type countingAPI struct {
	delivery.API
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingAPI) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.API.GetItem(ctx, in, optFns...)
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.API.UpdateItem(ctx, in, optFns...)
}

// A status in Meta's usual order (sent after accepted, delivered after
// sent, read after delivered) costs one conditional write and no read; a
// status out of that order learns the record from the failed write, so it
// costs one more write, still no read; a status with no record yet learns
// that from the failed write too (it returns no record). The outcome is
// the same whichever way it went.
func TestApplyCalls(t *testing.T) {
	for _, tc := range []struct {
		name       string
		accept     bool
		before     []string // applied first, not counted
		status     string
		wantStatus string
		advanced   bool
		want       map[string]int
	}{
		{"sent after accepted", true, nil, "sent", "sent", true, map[string]int{"UpdateItem": 1}},
		{"delivered after sent", true, []string{"sent"}, "delivered", "delivered", true, map[string]int{"UpdateItem": 1}},
		{"read after delivered", true, []string{"sent", "delivered"}, "read", "read", true, map[string]int{"UpdateItem": 1}},
		{"read after sent", true, []string{"sent"}, "read", "read", true, map[string]int{"UpdateItem": 2}},
		{"sent after read", true, []string{"sent", "delivered", "read"}, "sent", "read", false, map[string]int{"UpdateItem": 1}},
		{"duplicate delivered", true, []string{"sent", "delivered"}, "delivered", "delivered", false, map[string]int{"UpdateItem": 1}},
		{"sent without a record", false, nil, "sent", "sent", true, map[string]int{"UpdateItem": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			wamid := "wamid.calls." + tc.name
			if tc.accept {
				if err := s.RecordAccepted(ctx, accepted(wamid)); err != nil {
					t.Fatal(err)
				}
			}
			for i, st := range tc.before {
				if _, err := s.Apply(ctx, status(wamid, st, i+1)); err != nil {
					t.Fatal(err)
				}
			}
			api := &countingAPI{API: s.API}
			s.API = api
			res, err := s.Apply(ctx, status(wamid, tc.status, 10))
			if err != nil {
				t.Fatal(err)
			}
			if res.Advanced != tc.advanced || res.Message.Status != tc.wantStatus {
				t.Errorf("advanced %v status %q, want %v %q", res.Advanced, res.Message.Status, tc.advanced, tc.wantStatus)
			}
			if !reflect.DeepEqual(api.calls, tc.want) {
				t.Errorf("calls %v, want %v", api.calls, tc.want)
			}
		})
	}
}
