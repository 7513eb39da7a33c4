package sender

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// started records that a read began; waitFor gives up after patience, so
// a handler that reads one thing after the other ends the test instead of
// hanging it.
type started struct {
	ch   chan struct{}
	once sync.Once
}

const patience = 5 * time.Second

func newStarted() *started { return &started{ch: make(chan struct{})} }

func (s *started) mark() { s.once.Do(func() { close(s.ch) }) }

func (s *started) waitFor() bool {
	select {
	case <-s.ch:
		return true
	case <-time.After(patience):
		return false
	}
}

// markingTenants marks the tenant read, and holds the first number read
// until the tenant is being read.
type markingTenants struct {
	Tenants
	read               *started
	first              sync.Once
	numberBesideTenant *bool
}

func (m *markingTenants) Number(ctx context.Context, id string) (tenant.Number, error) {
	m.first.Do(func() { *m.numberBesideTenant = m.read.waitFor() })
	return m.Tenants.Number(ctx, id)
}

func (m *markingTenants) Tenant(ctx context.Context, id string) (tenant.Tenant, error) {
	m.read.mark()
	return m.Tenants.Tenant(ctx, id)
}

type markingSecrets struct {
	Secrets
	read *started
}

func (m markingSecrets) Credentials(ctx context.Context, id string) (tenant.Credentials, error) {
	m.read.mark()
	return m.Secrets.Credentials(ctx, id)
}

// waitingLookahead holds the batch's lookahead until the tenant and its
// credentials are being read, and records whether they were.
type waitingLookahead struct {
	Prereader
	tenantRead, credentialsRead *started
	besideTenant, besideSecret  bool
}

func (w *waitingLookahead) Preread(ctx context.Context, jobs []outbound.Job) {
	w.besideTenant = w.tenantRead.waitFor()
	w.besideSecret = w.credentialsRead.waitFor()
	w.Prereader.Preread(ctx, jobs)
}

// A cold instance's first batch reads its jobs' tenants and their
// credentials beside the lookahead's reads, not one after the other
// before the first send; the job is then sent once, with its tenant's
// token.
func TestTenantAndCredentialsReadBesideTheLookahead(t *testing.T) {
	e := testEnv(t)
	h := e.handler(t)
	tenantRead, credentialsRead := newStarted(), newStarted()
	var numberBesideTenant bool
	h.Tenants = &markingTenants{Tenants: h.Tenants, read: tenantRead, numberBesideTenant: &numberBesideTenant}
	h.Secrets = markingSecrets{Secrets: h.Secrets, read: credentialsRead}
	look := &waitingLookahead{Prereader: h.Lookahead, tenantRead: tenantRead, credentialsRead: credentialsRead}
	h.Lookahead = look

	to := rcpt(t, "+5511960000401")
	e.openWindow(t, to)
	e.sim.OpenWindow(numberA, to[1:], time.Now().Add(-time.Minute))
	if failed := handle(t, h, record(t, textJob(jid(t, "warm"), to, "hi"), 1)); len(failed) != 0 {
		t.Fatalf("batch item failures %v", failed)
	}
	if !numberBesideTenant {
		t.Error("the tenant was not read beside the number")
	}
	if !look.besideTenant {
		t.Error("the tenant was not read beside the lookahead")
	}
	if !look.besideSecret {
		t.Error("the credentials were not read beside the lookahead")
	}
	if got := len(e.simFor(to)); got != 1 {
		t.Errorf("simulator accepted %d messages for the job, want 1", got)
	}
}
