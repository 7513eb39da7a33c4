package sender

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Jobs still queued when their number is removed or moved, or their
// tenant offboarded, fail for good with a reason that says so, and reach
// the dead-letter queue; none is sent with either tenant's token.
func TestQueuedJobsOfOffboardedNumbers(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	reg := &tenant.Registry{API: e.ddb, Table: e.stack.Names.Ref["TenantsTable"]}
	run := runOf(t)
	id := func(s string) string { return fmt.Sprintf("%s-%d", s, run) }
	pn := func(i int) string { return fmt.Sprintf("1777%05d%d", run%100000, i) }
	sm := secretsmanager.NewFromConfig(e.cfg)
	for _, tn := range []string{id("leaving"), id("taking"), id("gone")} {
		secret := "wacloud/tenants/" + tn
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret), SecretString: aws.String(`{"access_token":"` + tokenA + `"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: tn, SecretID: secret}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.Put(ctx, tenant.Tenant{ID: id("leaving"), SecretID: "wacloud/tenants/" + id("leaving")}, []tenant.Number{
		{PhoneNumberID: pn(1), WABAID: "W" + pn(1)}, {PhoneNumberID: pn(2), WABAID: "W" + pn(2)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Put(ctx, tenant.Tenant{ID: id("gone"), SecretID: "wacloud/tenants/" + id("gone")}, []tenant.Number{
		{PhoneNumberID: pn(3), WABAID: "W" + pn(3)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RemoveNumber(ctx, id("leaving"), pn(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.MoveNumbers(ctx, id("taking"), pn(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Delete(ctx, id("gone")); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, tenant, number string
		reason, details      string
	}{
		{"removed number", id("leaving"), pn(1), event.ReasonTenantMismatch, "is not registered (never onboarded, or removed from its tenant)"},
		{"moved number", id("leaving"), pn(2), event.ReasonTenantMismatch, "does not belong to tenant " + id("leaving")},
		{"offboarded tenant", id("gone"), pn(3), event.ReasonTenantUnavailable, "tenant " + id("gone") + " is not registered (never onboarded, or offboarded)"},
	}
	h := e.handler(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sends.Load()
			job := textJob(jid(t, fmt.Sprintf("offboard-%d", i)), rcpt(t, fmt.Sprintf("00%d", i)), "hi")
			job.TenantID, job.PhoneNumberID = tc.tenant, tc.number
			if failed := handle(t, h, record(t, job, 1)); len(failed) != 0 {
				t.Fatalf("failed records %v: the job must be settled, not retried", failed)
			}
			evs := e.coreEvents(t, job.JobID)
			if len(evs) != 1 || evs[0].Type != event.TypeOutboundFailed {
				t.Fatalf("events %+v, want one outbound.failed", evs)
			}
			o := evs[0].Outbound
			if o.Reason != tc.reason || o.Retryable == nil || *o.Retryable || !strings.Contains(o.Details, tc.details) {
				t.Errorf("outbound.failed reason %q retryable %v details %q; want %q, not retryable, details with %q", o.Reason, o.Retryable, o.Details, tc.reason, tc.details)
			}
			if reasons := e.dlq(t, job.JobID); len(reasons) != 1 {
				t.Errorf("dead-letter reasons %q, want one", reasons)
			}
			if e.sends.Load() != before {
				t.Error("the job reached the Graph API")
			}
		})
	}
}
