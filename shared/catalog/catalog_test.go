package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/tenant"
)

const (
	wabaA, wabaB = "200000000000001", "200000000000002"
	tokenA       = "token-a"
)

var syncTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	ctx   context.Context
	store *catalog.Store
	reg   *tenant.Registry
	sm    *secretsmanager.Client
	sim   *graphsim.Sim
	graph *graph.Client
	fn    stack.Function
	cfg   aws.Config
	run   string // makes tenant ids unique: the emulator may keep state across tests
}

// tid is a tenant id unique to this test run.
func (e *env) tid(name string) string { return name + "-" + e.run }

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := awsemu.StartTest(t)
	ctx := context.Background()
	// Fresh: the registry's WABA ownership outlives a test in the
	// embedded emulator.
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	fn := st.Functions["TemplatesFunction"]
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	sim := graphsim.New(graphsim.Config{WebhookURL: hook.URL, AppSecret: "app-secret", Numbers: []graphsim.Number{
		{PhoneNumberID: "100000000000001", WABAID: wabaA, AccessToken: tokenA},
		{PhoneNumberID: "100000000000002", WABAID: wabaB, AccessToken: "token-b"},
	}, Templates: append(graphsim.SampleTemplates(wabaA), graphsim.SampleTemplates(wabaB)[:2]...)})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	ddb := dynamodb.NewFromConfig(emu.Config())
	return &env{
		ctx:   ctx,
		store: &catalog.Store{API: ddb, Table: fn.Env["TEMPLATES_TABLE"]},
		reg:   &tenant.Registry{API: ddb, Table: fn.Env["TENANTS_TABLE"], TTL: time.Nanosecond},
		sm:    secretsmanager.NewFromConfig(emu.Config()),
		sim:   sim, graph: &graph.Client{BaseURL: srv.URL}, fn: fn, cfg: emu.Config(),
		run: strconv.FormatInt(time.Now().UnixNano(), 36),
	}
}

func (e *env) syncer() *catalog.Syncer {
	return &catalog.Syncer{Meta: e.graph, Templates: e.store, Now: func() time.Time { return syncTime }}
}

func keysOf(ts []catalog.Template) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.WABAID+"/"+t.Name+"/"+t.Language+"/"+t.Status)
	}
	slices.Sort(out)
	return out
}

func simKeys(sim *graphsim.Sim, waba string) []string {
	var out []string
	for _, t := range sim.Templates(waba) {
		out = append(out, waba+"/"+t.Name+"/"+t.Language+"/"+t.Status)
	}
	slices.Sort(out)
	return out
}

// pagingMeta serves the simulator's pages through a small page size, so a
// sync has to follow the cursors, and can fail one page.
type pagingMeta struct {
	g      *graph.Client
	failAt int
	calls  int
}

func (m *pagingMeta) MessageTemplates(ctx context.Context, token, wabaID, after string) (graph.TemplatePage, error) {
	m.calls++
	if m.calls == m.failAt {
		return graph.TemplatePage{}, &graph.Error{HTTPStatus: 500, Code: 2, Message: "An unexpected error has occurred. Please retry your request later."}
	}
	return m.g.MessageTemplates(ctx, token, wabaID, after)
}

func TestSyncMirrorsMeta(t *testing.T) {
	e := newEnv(t)
	s := e.syncer()
	res, err := s.SyncWABA(e.ctx, e.tid("acme"), wabaA, tokenA)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.store.List(e.ctx, e.tid("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if want := simKeys(e.sim, wabaA); !slices.Equal(keysOf(got), want) || res.Listed != len(want) {
		t.Fatalf("catalog after sync (%d listed):\n got %v\nwant %v", res.Listed, keysOf(got), want)
	}
	tpl, err := e.store.Get(e.ctx, e.tid("acme"), catalog.Key{WABAID: wabaA, Name: "reservation_confirmation", Language: "en_US"})
	if err != nil {
		t.Fatal(err)
	}
	comps, err := tpl.Parse()
	if err != nil || tpl.ParameterFormat != catalog.FormatNamed || tpl.SyncedAt != "2026-03-01T12:00:00Z" || len(comps) != 4 || comps[0].Format != "IMAGE" {
		t.Errorf("reservation_confirmation = %+v (components %+v, %v)", tpl, comps, err)
	}

	// Meta deletes one template and pauses another; the next sync follows.
	for _, st := range e.sim.Templates(wabaA) {
		if st.Name == "hello_world" {
			if _, err := e.sim.ChangeTemplate(e.ctx, st.ID, graphsim.TemplateChange{Status: "PAUSED"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := metaDelete(e, tokenA, wabaA, "order_confirmation"); err != nil {
		t.Fatal(err)
	}
	res, err = s.SyncWABA(e.ctx, e.tid("acme"), wabaA, tokenA)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = e.store.List(e.ctx, e.tid("acme"))
	if want := simKeys(e.sim, wabaA); !slices.Equal(keysOf(got), want) || res.Removed != 1 {
		t.Errorf("catalog after Meta's changes (%d removed):\n got %v\nwant %v", res.Removed, keysOf(got), want)
	}
	if !slices.Contains(keysOf(got), wabaA+"/hello_world/en_US/PAUSED") {
		t.Errorf("hello_world is not PAUSED in the catalog: %v", keysOf(got))
	}
}

// metaDelete deletes a template at Meta (the simulator).
func metaDelete(e *env, token, waba, name string) error {
	return e.graph.DoJSON(e.ctx, token, "DELETE", "/"+waba+"/message_templates?name="+name, nil, nil)
}

func TestSyncRemovesNothingAfterAFailedPage(t *testing.T) {
	e := newEnv(t)
	if _, err := e.syncer().SyncWABA(e.ctx, e.tid("acme"), wabaA, tokenA); err != nil {
		t.Fatal(err)
	}
	if err := metaDelete(e, tokenA, wabaA, "hello_world"); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.List(e.ctx, e.tid("acme"))
	// Pages of 100 hold the whole WABA, so fail the first call.
	s := &catalog.Syncer{Meta: &pagingMeta{g: e.graph, failAt: 1}, Templates: e.store}
	if _, err := s.SyncWABA(e.ctx, e.tid("acme"), wabaA, tokenA); err == nil {
		t.Fatal("sync with a failed page succeeded")
	}
	after, _ := e.store.List(e.ctx, e.tid("acme"))
	if !slices.Equal(keysOf(after), keysOf(before)) {
		t.Errorf("a failed sync changed the catalog:\n got %v\nwant %v", keysOf(after), keysOf(before))
	}
}

func TestSyncKeepsOtherWABAsAndTenants(t *testing.T) {
	e := newEnv(t)
	s := e.syncer()
	for _, c := range []struct{ tenant, waba, token string }{{e.tid("acme"), wabaA, tokenA}, {e.tid("acme"), wabaB, "token-b"}, {e.tid("beta"), wabaB, "token-b"}} {
		if _, err := s.SyncWABA(e.ctx, c.tenant, c.waba, c.token); err != nil {
			t.Fatal(err)
		}
	}
	// WABA B loses a template: only its items go, in both tenants, when
	// each syncs it.
	if err := metaDelete(e, "token-b", wabaB, "hello_world"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncWABA(e.ctx, e.tid("acme"), wabaB, "token-b"); err != nil {
		t.Fatal(err)
	}
	acme, _ := e.store.List(e.ctx, e.tid("acme"))
	beta, _ := e.store.List(e.ctx, e.tid("beta"))
	if want := append(simKeys(e.sim, wabaA), simKeys(e.sim, wabaB)...); !slices.Equal(keysOf(acme), sorted(want)) {
		t.Errorf("acme:\n got %v\nwant %v", keysOf(acme), sorted(want))
	}
	if len(beta) != 2 {
		t.Errorf("beta's catalog changed by acme's sync: %v", keysOf(beta))
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

func TestApplyKeepsTheNewestState(t *testing.T) {
	e := newEnv(t)
	if _, err := e.syncer().SyncWABA(e.ctx, e.tid("acme"), wabaA, tokenA); err != nil {
		t.Fatal(err)
	}
	k := catalog.Key{WABAID: wabaA, Name: "order_confirmation", Language: "en_US"}
	steps := []struct {
		name        string
		key         catalog.Key
		change      catalog.Change
		wantApplied bool
		wantStatus  string
		wantQuality string
	}{
		{"paused after the sync", k, catalog.Change{Status: "PAUSED", At: syncTime.Add(time.Minute)}, true, "PAUSED", "UNKNOWN"},
		{"an older approval is ignored", k, catalog.Change{Status: "APPROVED", At: syncTime.Add(30 * time.Second)}, false, "PAUSED", "UNKNOWN"},
		{"quality, later", k, catalog.Change{Quality: "YELLOW", At: syncTime.Add(2 * time.Minute)}, true, "PAUSED", "YELLOW"},
		{"same second applies", k, catalog.Change{Status: "APPROVED", At: syncTime.Add(2 * time.Minute)}, true, "APPROVED", "YELLOW"},
		{"unknown template", catalog.Key{WABAID: wabaA, Name: "not_synced", Language: "en_US"}, catalog.Change{Status: "APPROVED", At: syncTime.Add(time.Hour)}, false, "", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			applied, err := e.store.Apply(e.ctx, e.tid("acme"), s.key, s.change)
			if err != nil || applied != s.wantApplied {
				t.Fatalf("Apply = %v, %v; want %v", applied, err, s.wantApplied)
			}
			got, err := e.store.Get(e.ctx, e.tid("acme"), s.key)
			if s.wantStatus == "" {
				if !errors.Is(err, catalog.ErrNotFound) {
					t.Errorf("Get of a template never synced = %+v, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil || got.Status != s.wantStatus || got.Quality != s.wantQuality {
				t.Errorf("template = %s/%s (%v), want %s/%s", got.Status, got.Quality, err, s.wantStatus, s.wantQuality)
			}
		})
	}
}

// scheduled is the templates function's handler as its Setup builds it,
// with the simulator as Graph, quiet.
func (e *env) scheduled(t *testing.T) *catalog.Handler {
	t.Helper()
	h, err := catalog.Setup(e.ctx, func(k string) string {
		if k == "GRAPH_API_BASE_URL" {
			return e.graph.BaseURL
		}
		return e.fn.Env[k]
	}, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.Metrics = nil
	return h
}

// TestScheduledSyncRepairsEveryTenant: the templates function syncs every
// active tenant; one whose token Meta refuses fails the invocation
// without stopping the others.
func TestScheduledSyncRepairsEveryTenant(t *testing.T) {
	e := newEnv(t)
	h := e.scheduled(t)
	put := func(name, status, waba, token string) {
		t.Helper()
		id := e.tid(name)
		secretID := "wacloud/tenants/" + id
		if _, err := e.sm.CreateSecret(e.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretID),
			SecretString: aws.String(`{"access_token":"` + token + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.Put(e.ctx, tenant.Tenant{ID: id, Status: status, SecretID: secretID, WABAIDs: []string{waba}},
			[]tenant.Number{{PhoneNumberID: "1" + id, WABAID: waba}}); err != nil {
			t.Fatal(err)
		}
	}
	put("acme", tenant.StatusActive, wabaA, tokenA)
	put("beta", tenant.StatusActive, wabaB, "expired-token")
	put("gamma", tenant.StatusDisabled, "200000000000003", "token-b")

	err := h.Handle(e.ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	if err == nil || !strings.Contains(err.Error(), "1 tenant(s) failed") {
		t.Errorf("Handle = %v, want one tenant failed", err)
	}
	var gerr *graph.Error
	if !errors.As(err, &gerr) || gerr.Code != 190 {
		t.Errorf("the failure is not Meta's 190: %v", err)
	}
	for name, want := range map[string]int{"acme": len(e.sim.Templates(wabaA)), "beta": 0, "gamma": 0} {
		got, err := e.store.List(e.ctx, e.tid(name))
		if err != nil || len(got) != want {
			t.Errorf("tenant %s: %d templates (%v), want %d", name, len(got), err, want)
		}
	}
}

func TestTemplateRoundTripsComponents(t *testing.T) {
	e := newEnv(t)
	if _, err := e.syncer().SyncWABA(e.ctx, e.tid("acme"), wabaA, tokenA); err != nil {
		t.Fatal(err)
	}
	for _, st := range e.sim.Templates(wabaA) {
		got, err := e.store.Get(e.ctx, e.tid("acme"), catalog.Key{WABAID: wabaA, Name: st.Name, Language: st.Language})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(st.Components)
		if !jsonEqual(t, got.Components, want) {
			t.Errorf("%s components:\n got %s\nwant %s", st.Name, got.Components, want)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// barrierMeta holds each listing until n listings are in flight at once
// (or 10 s pass, which fails the test that counts on them).
type barrierMeta struct {
	catalog.Meta
	n        int
	mu       sync.Mutex
	inFlight int
	most     int
	full     chan struct{}
	once     sync.Once
}

func (m *barrierMeta) MessageTemplates(ctx context.Context, token, wabaID, after string) (graph.TemplatePage, error) {
	m.mu.Lock()
	m.inFlight++
	m.most = max(m.most, m.inFlight)
	if m.inFlight == m.n {
		m.once.Do(func() { close(m.full) })
	}
	m.mu.Unlock()
	select {
	case <-m.full:
	case <-time.After(10 * time.Second):
	}
	m.mu.Lock()
	m.inFlight--
	m.mu.Unlock()
	return m.Meta.MessageTemplates(ctx, token, wabaID, after)
}

// TestScheduledSyncRunsTenantsAtOnce: the scheduled sync lists several
// tenants' templates at once (one after the other, a few hundred tenants
// outran the function's timeout), syncs each, and starts none once the
// invocation's deadline is within its margin: those fail the run as left
// for the next one.
func TestScheduledSyncRunsTenantsAtOnce(t *testing.T) {
	e := newEnv(t)
	h := e.scheduled(t)
	h.Concurrency = 4
	// Ten tenants, each with a WABA, a number and a token of its own.
	var numbers []graphsim.Number
	var templates []graphsim.Template
	wabas := map[string]string{}
	var ids []string
	for i := range 10 {
		id, waba := e.tid(fmt.Sprintf("t%d", i)), fmt.Sprintf("2100000000000%02d", i)
		ids, wabas[id] = append(ids, id), waba
		numbers = append(numbers, graphsim.Number{PhoneNumberID: fmt.Sprintf("1100000000000%02d", i), WABAID: waba, AccessToken: "token-" + id})
		templates = append(templates, graphsim.SampleTemplates(waba)...)
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	sim := graphsim.New(graphsim.Config{WebhookURL: hook.URL, AppSecret: "app-secret", Numbers: numbers, Templates: templates})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	meta := &barrierMeta{Meta: &graph.Client{BaseURL: srv.URL}, n: 4, full: make(chan struct{})}
	h.Syncer.Meta = meta
	for i, id := range ids {
		secretID := "wacloud/tenants/" + id
		if _, err := e.sm.CreateSecret(e.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretID),
			SecretString: aws.String(`{"access_token":"token-` + id + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.Put(e.ctx, tenant.Tenant{ID: id, Status: tenant.StatusActive, SecretID: secretID, WABAIDs: []string{wabas[id]}},
			[]tenant.Number{{PhoneNumberID: numbers[i].PhoneNumberID, WABAID: wabas[id]}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Handle(e.ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if meta.most != 4 {
		t.Errorf("at most %d listings at once, want 4", meta.most)
	}
	for _, id := range ids {
		if got, err := e.store.List(e.ctx, id); err != nil || len(got) != len(sim.Templates(wabas[id])) || len(got) == 0 {
			t.Errorf("tenant %s: %d templates (%v), want %d", id, len(got), err, len(sim.Templates(wabas[id])))
		}
	}

	ctx, cancel := context.WithTimeout(e.ctx, time.Second) // within the 20 s margin
	defer cancel()
	err := h.Handle(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	if !errors.Is(err, tenant.ErrDeadline) {
		t.Errorf("Handle near the deadline = %v, want tenants left for the next run", err)
	}
}

// barrierStore holds each template write until n are in flight at once
// (or 10 s pass), and fails the write of one template.
type barrierStore struct {
	catalog.Templates
	n        int
	failName string
	mu       sync.Mutex
	inFlight int
	most     int
	deletes  int
	full     chan struct{}
	once     sync.Once
}

func (s *barrierStore) Put(ctx context.Context, t catalog.Template) error {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	if s.inFlight == s.n {
		s.once.Do(func() { close(s.full) })
	}
	s.mu.Unlock()
	select {
	case <-s.full:
	case <-time.After(10 * time.Second):
	}
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	if t.Name == s.failName {
		return errors.New("throttled")
	}
	return s.Templates.Put(ctx, t)
}

func (s *barrierStore) Delete(ctx context.Context, tenantID string, k catalog.Key) error {
	s.mu.Lock()
	s.deletes++
	s.mu.Unlock()
	return s.Templates.Delete(ctx, tenantID, k)
}

// TestSyncWritesTemplatesAtOnce: a WABA's templates are written several
// at once; a failed write fails the sync, which then removes nothing.
func TestSyncWritesTemplatesAtOnce(t *testing.T) {
	e := newEnv(t)
	if n := len(e.sim.Templates(wabaA)); n < 8 {
		t.Fatalf("the simulator lists %d templates; the test needs 8", n)
	}
	tests := []struct {
		name, fail string
	}{
		{name: "all written"},
		{name: "one write fails", fail: "order_confirmation"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenantID := e.tid(fmt.Sprintf("w%d", i))
			// A template the catalog holds that Meta no longer lists.
			if err := e.store.Put(e.ctx, catalog.Template{TenantID: tenantID, WABAID: wabaA, Name: "gone", Language: "en_US", Status: "APPROVED",
				ParameterFormat: catalog.FormatPositional, Components: json.RawMessage(`[]`)}); err != nil {
				t.Fatal(err)
			}
			st := &barrierStore{Templates: e.store, n: 8, failName: tt.fail, full: make(chan struct{})}
			s := &catalog.Syncer{Meta: e.graph, Templates: st, Now: func() time.Time { return syncTime }}
			_, err := s.SyncWABA(e.ctx, tenantID, wabaA, tokenA)
			if st.most != 8 {
				t.Errorf("at most %d writes at once, want 8", st.most)
			}
			if (err != nil) != (tt.fail != "") {
				t.Fatalf("SyncWABA = %v", err)
			}
			if tt.fail != "" && st.deletes != 0 {
				t.Errorf("%d templates removed after a failed write, want none", st.deletes)
			}
			if tt.fail == "" && st.deletes != 1 {
				t.Errorf("%d templates removed, want the one Meta no longer lists", st.deletes)
			}
		})
	}
}
