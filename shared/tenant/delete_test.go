package tenant_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// Deleting a tenant removes its own items and only those: another
// tenant's numbers and WABA stay routable.
func TestRegistryDelete(t *testing.T) {
	r := newRegistry(t)
	ctx := context.Background()
	if err := r.Put(ctx, tenant.Tenant{ID: "gone", SecretID: "s/gone"}, []tenant.Number{
		{PhoneNumberID: "211", WABAID: "W21"}, {PhoneNumberID: "212", WABAID: "W22"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(ctx, tenant.Tenant{ID: "stays", SecretID: "s/stays"}, []tenant.Number{{PhoneNumberID: "311", WABAID: "W31"}}); err != nil {
		t.Fatal(err)
	}
	// Warm the cache, so the test also proves Delete forgets it.
	if _, err := r.Number(ctx, "211"); err != nil {
		t.Fatal(err)
	}

	got, err := r.Delete(ctx, "gone")
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got.SecretID != "s/gone" || len(got.PhoneNumbers) != 2 {
		t.Errorf("Delete returned %+v, want the deleted tenant with its secret and numbers", got)
	}

	lookups := []struct {
		name string
		find func() error
		want error
	}{
		{"deleted tenant", func() error { _, err := r.Tenant(ctx, "gone"); return err }, tenant.ErrNotFound},
		{"deleted number 211", func() error { _, err := r.Number(ctx, "211"); return err }, tenant.ErrNotFound},
		{"deleted number 212", func() error { _, err := r.Number(ctx, "212"); return err }, tenant.ErrNotFound},
		{"deleted WABA", func() error { _, err := r.TenantOfWABA(ctx, "W21"); return err }, tenant.ErrNotFound},
		{"other tenant", func() error { _, err := r.Tenant(ctx, "stays"); return err }, nil},
		{"other tenant's number", func() error { _, err := r.Number(ctx, "311"); return err }, nil},
		{"other tenant's WABA", func() error { _, err := r.TenantOfWABA(ctx, "W31"); return err }, nil},
	}
	for _, tc := range lookups {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.find(); !errors.Is(err, tc.want) {
				t.Errorf("lookup error = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := r.Delete(ctx, "gone"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("second Delete error = %v, want ErrNotFound", err)
	}
}
