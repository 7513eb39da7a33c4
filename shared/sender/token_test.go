package sender

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/window"
)

// accountEvents returns the core events of type typ about tenantID
// (drained from the queue; other events stay for their tests).
func (e *env) accountEvents(t *testing.T, tenantID, typ string) []event.Event {
	t.Helper()
	e.coreEvents(t) // drain into pending
	eventsMu.Lock()
	defer eventsMu.Unlock()
	var mine, rest []event.Event
	for _, ev := range pending {
		if ev.TenantID == tenantID && ev.Type == typ {
			mine = append(mine, ev)
		} else {
			rest = append(rest, ev)
		}
	}
	pending = rest
	return mine
}

func TestHoldDelay(t *testing.T) {
	for _, tc := range []struct {
		receive int
		want    time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {5, 8 * time.Minute}, {6, 15 * time.Minute}, {25, 15 * time.Minute}} {
		if got := holdDelay(tc.receive); got != tc.want {
			t.Errorf("holdDelay(%d) = %s, want %s", tc.receive, got, tc.want)
		}
	}
}

// After Meta rejects a tenant's token (190), its jobs are held, not
// failed: they go back to the queue without another call to Meta with
// that token, the core hears account.token_invalid once whichever
// instance saw it, and the jobs are sent as soon as the secret holds a
// new token. A job held longer than TokenHoldMax since it was queued
// fails, retryable.
func TestTokenOutageHoldsJobs(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	run := runOf(t)
	tid := fmt.Sprintf("tok-%d", run)
	pn := fmt.Sprintf("1888%010d", run)
	good := "good-" + tid
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{{PhoneNumberID: pn, AccessToken: good, Throughput: 80}}})
	_ = sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") {
			calls.Add(1)
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	getenv := func(k string) string {
		if k == "GRAPH_API_BASE_URL" {
			return srv.URL
		}
		return e.getenv(k)
	}
	secret := "wacloud/tenants/" + tid
	sm := secretsmanager.NewFromConfig(e.cfg)
	setToken := func(tok string) {
		t.Helper()
		v := aws.String(`{"access_token":"` + tok + `"}`)
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secret), SecretString: v}); err != nil {
			if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret), SecretString: v}); err != nil {
				t.Fatal(err)
			}
		}
	}
	setToken("bad-" + tid)
	reg := &tenant.Registry{API: e.ddb, Table: e.stack.Names.Ref["TenantsTable"]}
	if err := reg.Put(ctx, tenant.Tenant{ID: tid, SecretID: secret}, []tenant.Number{{PhoneNumberID: pn, WABAID: "W" + pn}}); err != nil {
		t.Fatal(err)
	}
	w := window.Store{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	clock := time.Now()
	newHandler := func() *Handler {
		h, err := Setup(ctx, getenv, e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		h.Metrics.Out = &strings.Builder{}
		h.Now = func() time.Time { return clock }
		return h
	}
	job := func(i int, queuedAt time.Time) events.SQSMessage {
		to := rcpt(t, fmt.Sprintf("%03d", i))
		if err := w.RecordInbound(ctx, pn, strings.TrimPrefix(to, "+"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		j := textJob(jid(t, fmt.Sprintf("token-%d", i)), to, "hi")
		j.TenantID, j.PhoneNumberID = tid, pn
		rec := record(t, j, 1)
		rec.Attributes["SentTimestamp"] = fmt.Sprint(queuedAt.UnixMilli())
		return rec
	}
	redeliver := func(rec events.SQSMessage, receive int) events.SQSMessage {
		rec.Attributes["ApproximateReceiveCount"] = fmt.Sprint(receive)
		return rec
	}
	held := func(t *testing.T, h *Handler, rec events.SQSMessage, wantCalls int64) {
		t.Helper()
		if failed := handle(t, h, rec); len(failed) != 1 {
			t.Fatalf("failed records %v, want the job back in the queue", failed)
		}
		if got := calls.Load(); got != wantCalls {
			t.Errorf("calls to Meta = %d, want %d", got, wantCalls)
		}
		if evs := e.coreEvents(t, jobOf(t, rec)); len(evs) != 0 {
			t.Errorf("a held job was reported: %+v", evs)
		}
	}

	h1, h2 := newHandler(), newHandler() // two instances
	j1, j2 := job(1, clock), job(2, clock)

	t.Run("the first 190 holds the job and tells the core", func(t *testing.T) {
		held(t, h1, j1, 1)
		evs := e.accountEvents(t, tid, TypeTokenInvalid)
		if len(evs) != 1 || evs[0].Account == nil || evs[0].Account.Field != "token_invalid" || evs[0].PhoneNumberID != pn {
			t.Fatalf("token_invalid events %+v, want one", evs)
		}
		if m := h1.Metrics.Out.(*strings.Builder).String(); !strings.Contains(m, MetricTokenInvalid) {
			t.Errorf("metric %s not emitted: %s", MetricTokenInvalid, m)
		}
	})
	t.Run("the same instance holds the next job without calling Meta", func(t *testing.T) {
		held(t, h1, j2, 1)
	})
	t.Run("another instance's own 190 does not tell the core again", func(t *testing.T) {
		held(t, h2, redeliver(j2, 2), 2)
		if evs := e.accountEvents(t, tid, TypeTokenInvalid); len(evs) != 0 {
			t.Errorf("token_invalid told again: %+v", evs)
		}
		if m := h2.Metrics.Out.(*strings.Builder).String(); strings.Contains(m, MetricTokenInvalid) {
			t.Errorf("alarm metric counted again by the second instance: %s", m)
		}
	})
	t.Run("new credentials resume the jobs", func(t *testing.T) {
		setToken(good)
		held(t, h1, redeliver(j1, 2), 2) // the secret is re-read at most every TokenRecheck
		clock = clock.Add(DefaultTokenRecheck)
		if failed := handle(t, h1, redeliver(j1, 3)); len(failed) != 0 {
			t.Fatalf("failed records %v", failed)
		}
		evs := e.coreEvents(t, jobOf(t, j1))
		if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
			t.Fatalf("events %+v, want outbound.accepted", evs)
		}
		if got := len(sim.Messages()); got != 1 {
			t.Errorf("Meta accepted %d messages, want 1", got)
		}
	})
	t.Run("a job held too long fails", func(t *testing.T) {
		setToken("bad2-" + tid)
		h3 := newHandler()
		old := job(3, clock.Add(-DefaultTokenHoldMax))
		if failed := handle(t, h3, old); len(failed) != 0 {
			t.Fatalf("failed records %v, want the job settled", failed)
		}
		evs := e.coreEvents(t, jobOf(t, old))
		if len(evs) != 1 || evs[0].Type != event.TypeOutboundFailed || evs[0].Outbound.Code != 190 ||
			evs[0].Outbound.Retryable == nil || !*evs[0].Outbound.Retryable || !strings.Contains(evs[0].Outbound.Details, "held 4h0m0s") {
			t.Fatalf("events %+v, want outbound.failed 190, retryable, held 4h", evs)
		}
		if evs := e.accountEvents(t, tid, TypeTokenInvalid); len(evs) != 1 {
			t.Errorf("a new rejected token is a new outage: token_invalid events %+v, want one", evs)
		}
		// The receive budget ends a hold too.
		last := redeliver(job(4, clock), DefaultGiveUpAfter)
		if failed := handle(t, h3, last); len(failed) != 0 {
			t.Fatalf("failed records %v, want the job settled", failed)
		}
		if evs := e.coreEvents(t, jobOf(t, last)); len(evs) != 1 || evs[0].Outbound.Code != 190 {
			t.Errorf("events %+v, want outbound.failed 190", evs)
		}
	})
}

func jobOf(t *testing.T, rec events.SQSMessage) string {
	t.Helper()
	return rec.Attributes["MessageDeduplicationId"]
}
