package sender

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// manualClock is the handlers' and limiters' clock in the deferral tests:
// it stands still, and a limiter's sleep returns at once, so results
// depend on counts and not on the order in which a batch's records reach
// the limiter.
type manualClock struct{ us atomic.Int64 }

func (c *manualClock) Now() time.Time                             { return time.UnixMicro(c.us.Load()) }
func (c *manualClock) Sleep(context.Context, time.Duration) error { return nil }

// batchVisibilityLog records ChangeMessageVisibilityBatch entries by receipt.
type batchVisibilityLog struct {
	mu    sync.Mutex
	calls int
	secs  map[string]int32
}

func (v *batchVisibilityLog) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		v.secs[aws.ToString(e.ReceiptHandle)] = e.VisibilityTimeout
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// fairEnv is the deferral tests' world: tenants with numbers of their own
// (fresh schedules, paced on a manual clock) and a Graph simulator that
// knows them and does not limit them (the sender's pacing is under test).
type fairEnv struct {
	*env
	sim     *graphsim.Sim
	url     string
	run     int64
	clk     *manualClock
	numbers []string
	next    int
}

func newFairEnv(t *testing.T) *fairEnv {
	t.Helper()
	e := testEnv(t)
	f := &fairEnv{env: e, run: runOf(t), clk: &manualClock{}}
	f.clk.us.Store(time.Now().UnixMicro())
	var nums []graphsim.Number
	for i := range 8 {
		n := fmt.Sprintf("17%08d%03d", f.run%100000000, i)
		f.numbers = append(f.numbers, n)
		nums = append(nums, graphsim.Number{PhoneNumberID: n, AccessToken: "tok-" + n, Throughput: 1000})
	}
	f.sim = graphsim.New(graphsim.Config{Numbers: nums})
	_ = f.sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	srv := httptest.NewServer(f.sim)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// tenant registers a tenant with one number paced at limit.
func (f *fairEnv) tenant(t *testing.T, limit int) (tenantID, number string) {
	t.Helper()
	number = f.numbers[f.next]
	f.next++
	tenantID = fmt.Sprintf("fair-%d-%d", f.run, f.next)
	secret := "wacloud/tenants/" + tenantID
	ctx := context.Background()
	if _, err := secretsmanager.NewFromConfig(f.cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret),
		SecretString: aws.String(`{"access_token":"tok-` + number + `"}`)}); err != nil {
		t.Fatal(err)
	}
	reg := &tenant.Registry{API: f.ddb, Table: f.stack.Names.Ref["TenantsTable"]}
	if err := reg.Put(ctx, tenant.Tenant{ID: tenantID, Status: tenant.StatusActive, SecretID: secret, PhoneNumbers: []string{number}},
		[]tenant.Number{{PhoneNumberID: number, TenantID: tenantID, WABAID: "2" + number, Throughput: limit}}); err != nil {
		t.Fatal(err)
	}
	return tenantID, number
}

// handler is a sender instance on the manual clock, its visibility
// changes recorded.
func (f *fairEnv) handler(t *testing.T) (*Handler, *batchVisibilityLog) {
	t.Helper()
	h, err := Setup(context.Background(), func(k string) string {
		if k == "GRAPH_API_BASE_URL" {
			return f.url
		}
		return f.getenv(k)
	}, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Metrics.Out = io.Discard
	h.Now = f.clk.Now
	l := h.Numbers.(*throttle.Limiter)
	l.Now, l.Sleep = f.clk.Now, f.clk.Sleep
	vis := &batchVisibilityLog{secs: map[string]int32{}}
	h.Visibilities = vis
	return h, vis
}

// fill books number's schedule, as another instance sending from it
// would, until a send with the given horizon finds no room.
func (f *fairEnv) fill(t *testing.T, number string, limit int, horizon time.Duration) time.Time {
	t.Helper()
	other := &throttle.Limiter{API: f.ddb, Table: f.stack.Names.Ref["StateTable"], Now: f.clk.Now, Horizon: horizon}
	for {
		_, err := other.Reserve(context.Background(), number, limit, throttle.Interactive)
		if we, ok := throttle.AsWait(err); ok {
			return f.clk.Now().Add(horizon + we.Wait)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fairEnv) sent(number string) map[string]bool {
	out := map[string]bool{}
	for _, a := range f.sim.Messages() {
		if a.PhoneNumberID == number {
			out[strings.TrimPrefix(a.To, "+")] = true
		}
	}
	return out
}

func fairTemplateJob(id, tenantID, number, to string) outbound.Job {
	return outbound.Job{JobID: id, TenantID: tenantID, PhoneNumberID: number, To: to, Type: outbound.TypeTemplate,
		Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}}
}

// fairRecord is record with a receipt handle, whose visibility the
// handler changes.
func fairRecord(t *testing.T, job outbound.Job, receiveCount int) events.SQSMessage {
	rec := record(t, job, receiveCount)
	rec.ReceiptHandle = "rh-" + rec.MessageId
	return rec
}

// TestDeferredJobsComeBackAtTheNumbersRate sends batch after batch of bulk
// jobs to a number booked by another instance: every job is deferred (no
// send, no result), and their visibility delays follow their places on
// the number's clock, one slot interval (1/(0.97·limit)) apart, from the
// schedule's end on: the backlog comes back spread at the number's rate,
// not all within seconds.
func TestDeferredJobsComeBackAtTheNumbersRate(t *testing.T) {
	f := newFairEnv(t)
	tests := []struct {
		name    string
		limit   int
		batches int
	}{
		{"10 per second", 10, 4},
		{"80 per second", 80, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tid, number := f.tenant(t, tc.limit)
			h, vis := f.handler(t)
			end := f.fill(t, number, tc.limit, throttle.DefaultHorizon)
			var recs []events.SQSMessage
			var ids []string
			for b := range tc.batches {
				var batch []events.SQSMessage
				for i := range 10 {
					id := jid(t, fmt.Sprintf("defer-%d-%d-%d", tc.limit, b, i))
					j := fairTemplateJob(id, tid, number, fmt.Sprintf("+55119%05d%04d", f.run%100000, b*10+i))
					batch = append(batch, fairRecord(t, j, 1))
					ids = append(ids, id)
				}
				if failed := handle(t, h, batch...); len(failed) != len(batch) {
					t.Fatalf("batch %d: %d of %d records failed, want all deferred", b, len(failed), len(batch))
				}
				recs = append(recs, batch...)
			}
			if n := len(f.sent(number)); n != 0 {
				t.Errorf("%d jobs sent from a booked number, want none", n)
			}
			if evs := f.coreEvents(t, ids...); len(evs) != 0 {
				t.Errorf("%d results reported for deferred jobs (first %s %s), want none", len(evs), evs[0].Type, evs[0].Outbound.Reason)
			}
			interval := 1 / (float64(tc.limit) * throttle.DefaultHeadroom)
			offset := end.Sub(f.clk.Now()).Seconds()
			prev := int32(0)
			for k, rec := range recs {
				got, ok := vis.secs[rec.ReceiptHandle]
				if !ok {
					t.Fatalf("record %d: no visibility set", k)
				}
				// Its place is the schedule's end plus k intervals; the
				// delay is that rounded up to whole seconds.
				want := math.Ceil(offset + float64(k)*interval)
				if math.Abs(float64(got)-want) > 1 {
					t.Errorf("record %d: visible again after %d s, want %v (place %.3f s ahead)", k, got, want, offset+float64(k)*interval)
				}
				if got < prev {
					t.Errorf("record %d: visible again after %d s, before record %d (%d s)", k, got, k-1, prev)
				}
				prev = got
			}
			if vis.calls > tc.batches {
				t.Errorf("%d ChangeMessageVisibilityBatch calls for %d batches, want one per batch", vis.calls, tc.batches)
			}
		})
	}
}

// TestDeferralNeverExhaustsAJob receives one job again and again while its
// number is booked beyond the interactive and bulk horizons (but not the
// Final lane's): it is deferred without a result or a dead letter while it
// has receives to spare, and sent, not failed, once it reaches the give-up
// count.
func TestDeferralNeverExhaustsAJob(t *testing.T) {
	f := newFairEnv(t)
	tid, number := f.tenant(t, 10)
	h, vis := f.handler(t)
	to := fmt.Sprintf("+55118%05d0001", f.run%100000)
	id := jid(t, "exhaust")
	j := fairTemplateJob(id, tid, number, to)
	for receive := 1; receive <= DefaultGiveUpAfter; receive++ {
		// Another instance keeps the number booked 2.5 s ahead.
		f.fill(t, number, 10, 2500*time.Millisecond)
		rec := fairRecord(t, j, receive)
		failed := handle(t, h, rec)
		evs := f.coreEvents(t, id)
		switch {
		case receive < DefaultGiveUpAfter:
			if len(failed) != 1 || len(evs) != 0 || vis.secs[rec.ReceiptHandle] < 1 {
				t.Fatalf("receive %d: failed %v, results %d, visible again after %d s; want deferred with no result",
					receive, failed, len(evs), vis.secs[rec.ReceiptHandle])
			}
		default:
			if len(failed) != 0 || len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
				t.Fatalf("receive %d (the give-up count): failed %v, results %v; want sent and accepted", receive, failed, evs)
			}
		}
	}
	if reasons := f.dlq(t, id); len(reasons) != 0 {
		t.Errorf("dead-lettered: %v", reasons)
	}
	if n := len(f.sent(number)); n != 1 {
		t.Errorf("sent %d times, want once", n)
	}
}

// TestLanesAndNumbersDoNotWaitForABacklog checks who goes ahead of a
// number's bulk backlog: an interactive job on the same number, and any
// job on another tenant's number, are sent in the same batch in which the
// bulk jobs are deferred.
func TestLanesAndNumbersDoNotWaitForABacklog(t *testing.T) {
	f := newFairEnv(t)
	tidA, numberA := f.tenant(t, 80)
	tidB, numberB := f.tenant(t, 80)
	h, _ := f.handler(t)
	type jobOf struct {
		tenant, number, lane string
	}
	tests := []struct {
		name     string
		jobs     []jobOf
		sent     int // jobs sent, the others deferred
		sentLane string
	}{
		{"interactive overtakes bulk on one number",
			[]jobOf{{tidA, numberA, "bulk"}, {tidA, numberA, "bulk"}, {tidA, numberA, "interactive"}, {tidA, numberA, "bulk"}}, 1, "interactive"},
		{"another tenant's number is not held back",
			[]jobOf{{tidA, numberA, "bulk"}, {tidA, numberA, "bulk"}, {tidB, numberB, "bulk"}, {tidA, numberA, "bulk"}, {tidA, numberA, "bulk"}}, 1, "bulk"},
		{"again, once the backlog is known",
			[]jobOf{{tidA, numberA, "bulk"}, {tidB, numberB, "bulk"}, {tidA, numberA, "bulk"}, {tidA, numberA, "interactive"}}, 2, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Number A's bulk backlog fills its schedule to the bulk
			// horizon, as a campaign draining does.
			f.fill(t, numberA, 80, throttle.DefaultBulkHorizon)
			var batch []events.SQSMessage
			wantSent := map[string]bool{}
			for k, jo := range tc.jobs {
				to := fmt.Sprintf("+55117%05d%02d%02d", f.run%100000, i, k)
				j := fairTemplateJob(jid(t, fmt.Sprintf("lane-%d-%d", i, k)), jo.tenant, jo.number, to)
				j.Lane = jo.lane
				batch = append(batch, fairRecord(t, j, 1))
				if jo.lane == "interactive" || jo.number == numberB {
					wantSent[strings.TrimPrefix(to, "+")] = true
				}
			}
			if len(wantSent) != tc.sent {
				t.Fatalf("table: %d jobs expected sent, case says %d", len(wantSent), tc.sent)
			}
			failed := handle(t, h, batch...)
			if len(failed) != len(batch)-tc.sent {
				t.Errorf("%d of %d records failed, want %d deferred", len(failed), len(batch), len(batch)-tc.sent)
			}
			got := map[string]bool{}
			for to := range f.sent(numberA) {
				got[to] = true
			}
			for to := range f.sent(numberB) {
				got[to] = true
			}
			for to := range wantSent {
				if !got[to] {
					t.Errorf("job to %s not sent", to)
				}
			}
			for _, rec := range batch {
				j, _ := outbound.Decode([]byte(rec.Body))
				if to := strings.TrimPrefix(j.To, "+"); got[to] && !wantSent[to] {
					t.Errorf("bulk job to %s on the booked number sent ahead of its backlog", to)
				}
			}
		})
	}
}
