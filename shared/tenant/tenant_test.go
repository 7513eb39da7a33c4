package tenant_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/tenant"
)

func newRegistry(t *testing.T) *tenant.Registry {
	t.Helper()
	emu := awsemu.StartTest(t)
	c := dynamodb.NewFromConfig(emu.Config())
	table := stack.Fresh(t, emu.Config(), stack.Options{}).Names.Ref["TenantsTable"]
	return &tenant.Registry{API: c, Table: table}
}

func TestRegistry(t *testing.T) {
	r := newRegistry(t)
	ctx := context.Background()
	err := r.Put(ctx, tenant.Tenant{ID: "acme", Name: "Acme", SecretID: "wacloud/tenants/acme"}, []tenant.Number{
		{PhoneNumberID: "111", WABAID: "W1", Throughput: 250},
		{PhoneNumberID: "112", WABAID: "W1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := r.Tenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status != tenant.StatusActive || tn.SecretID != "wacloud/tenants/acme" || strings.Join(tn.PhoneNumbers, ",") != "111,112" || strings.Join(tn.WABAIDs, ",") != "W1" {
		t.Errorf("tenant = %+v", tn)
	}
	n, err := r.Number(ctx, "111")
	if err != nil {
		t.Fatal(err)
	}
	if n.TenantID != "acme" || n.WABAID != "W1" || n.Limit() != 250 {
		t.Errorf("number 111 = %+v", n)
	}
	if n, _ := r.Number(ctx, "112"); n.Limit() != tenant.DefaultThroughput {
		t.Errorf("number 112 limit = %d, want default", n.Limit())
	}
	if id, err := r.TenantOfWABA(ctx, "W1"); err != nil || id != "acme" {
		t.Errorf("TenantOfWABA(W1) = %q, %v", id, err)
	}
	for name, err := range map[string]error{
		"unknown number": func() error { _, err := r.Number(ctx, "999"); return err }(),
		"unknown WABA":   func() error { _, err := r.TenantOfWABA(ctx, "W9"); return err }(),
		"unknown tenant": func() error { _, err := r.Tenant(ctx, "nobody"); return err }(),
	} {
		if !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}

	t.Run("a number belongs to one tenant", func(t *testing.T) {
		for _, nums := range [][]tenant.Number{
			{{PhoneNumberID: "111", WABAID: "W2"}},
			{{PhoneNumberID: "200", WABAID: "W1"}},
		} {
			if err := r.Put(ctx, tenant.Tenant{ID: "thief", SecretID: "x"}, nums); err == nil {
				t.Errorf("Put(thief, %+v) succeeded, want an ownership conflict", nums)
			}
		}
		if n, _ := r.Number(ctx, "111"); n.TenantID != "acme" {
			t.Errorf("number 111 now belongs to %q", n.TenantID)
		}
		if _, err := r.Tenant(ctx, "thief"); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("the refused tenant was written: %v", err)
		}
	})
	t.Run("re-registering by the owner", func(t *testing.T) {
		if err := r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "wacloud/tenants/acme"}, []tenant.Number{{PhoneNumberID: "111", WABAID: "W1"}}); err != nil {
			t.Errorf("owner update: %v", err)
		}
	})
	t.Run("disable", func(t *testing.T) {
		if err := r.SetStatus(ctx, "acme", tenant.StatusDisabled); err != nil {
			t.Fatal(err)
		}
		if tn, _ := r.Tenant(ctx, "acme"); tn.Status != tenant.StatusDisabled {
			t.Errorf("status = %q, want disabled", tn.Status)
		}
	})
	t.Run("empty ids are invalid", func(t *testing.T) {
		if err := r.Put(ctx, tenant.Tenant{}, nil); fault.ClassOf(err) != fault.Invalid {
			t.Errorf("Put(empty) = %v, want Invalid", err)
		}
		if err := r.Put(ctx, tenant.Tenant{ID: "x"}, []tenant.Number{{}}); fault.ClassOf(err) != fault.Invalid {
			t.Errorf("Put(number without id) = %v, want Invalid", err)
		}
	})
}

func TestNumberLimit(t *testing.T) {
	cases := []struct {
		name string
		n    tenant.Number
		def  int
		want int
	}{
		{"unset", tenant.Number{}, tenant.DefaultThroughput, 80},
		{"unset, another default", tenant.Number{}, 250, 250},
		{"upgraded", tenant.Number{Throughput: tenant.HighThroughput}, tenant.DefaultThroughput, 1000},
		{"downgraded", tenant.Number{Throughput: 80}, 250, 80},
		{"on the Business app", tenant.Number{OnBizApp: true}, tenant.DefaultThroughput, 20},
		{"on the Business app, upgrade recorded", tenant.Number{OnBizApp: true, Throughput: 1000}, tenant.DefaultThroughput, 20},
		{"on the Business app, set lower", tenant.Number{OnBizApp: true, Throughput: 10}, tenant.DefaultThroughput, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.n.LimitOr(tc.def); got != tc.want {
				t.Errorf("%+v.LimitOr(%d) = %d, want %d", tc.n, tc.def, got, tc.want)
			}
		})
	}
}
