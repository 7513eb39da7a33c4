package tenant_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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

// countingSecrets is the real client, counting GetSecretValue calls.
type countingSecrets struct {
	*secretsmanager.Client
	calls atomic.Int32
}

func (c *countingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.Client.GetSecretValue(ctx, in, opts...)
}

func TestVault(t *testing.T) {
	emu := awsemu.StartTest(t)
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(emu.Config())
	id := fmt.Sprintf("wacloud/tenants/vault-%d", time.Now().UnixNano())
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id),
		SecretString: aws.String(`{"access_token":"EAAG-TOKEN-SECRET","app_secret":"APP-SECRET","verify_token":"VERIFY-SECRET"}`)}); err != nil {
		t.Fatal(err)
	}
	api := &countingSecrets{Client: sm}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := &tenant.Vault{API: api, TTL: time.Minute, Now: func() time.Time { return now }}

	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := v.Credentials(ctx, id)
			if err != nil || c.AppSecret != "APP-SECRET" {
				t.Errorf("Credentials = %v", err)
			}
		}()
	}
	wg.Wait()
	if got := api.calls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d for 20 lookups, want 1", got)
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Credentials(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := api.calls.Load(); got != 2 {
		t.Errorf("calls after TTL = %d, want 2", got)
	}
	v.Invalidate(id)
	c, _ := v.Credentials(ctx, id)
	if got := api.calls.Load(); got != 3 {
		t.Errorf("calls after Invalidate = %d, want 3", got)
	}

	t.Run("missing secret", func(t *testing.T) {
		_, err := v.Credentials(ctx, "wacloud/tenants/none")
		if !errors.Is(err, tenant.ErrNotFound) || fault.ClassOf(err) != fault.Permanent {
			t.Errorf("err = %v, want permanent ErrNotFound", err)
		}
		before := api.calls.Load()
		_, _ = v.Credentials(ctx, "wacloud/tenants/none")
		if api.calls.Load() == before {
			t.Errorf("a failed read was cached")
		}
	})
	t.Run("malformed secret", func(t *testing.T) {
		bad := id + "-bad"
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(bad), SecretString: aws.String(`{"app_secret":"LEAKY-SECRET"`)}); err != nil {
			t.Fatal(err)
		}
		_, err := v.Credentials(ctx, bad)
		if err == nil || strings.Contains(err.Error(), "LEAKY") {
			t.Errorf("err = %v, want an error without the value", err)
		}
	})
	t.Run("redaction", func(t *testing.T) {
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("creds", "creds", c, "ptr", &c, "group", slog.Group("g", "c", c))
		slog.New(slog.NewTextHandler(&logs, nil)).Info("creds", "creds", c)
		out := fmt.Sprintf("%v %+v %#v %s %q %x %X %d", c, c, c, c, c, c, c, c) + fmt.Sprint(c, &c) + fmt.Sprintf("%v %+v", &c, []tenant.Credentials{c}) + logs.String()
		for _, s := range []string{"EAAG-TOKEN-SECRET", "APP-SECRET", "VERIFY-SECRET", "4150502d"} {
			if strings.Contains(out, s) {
				t.Errorf("credentials printed (%s): %s", s, out)
			}
		}
	})
}
