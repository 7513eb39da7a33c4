package tenant_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// TestOptOutSettings: SetOptOut changes the settings alone, a later Put of
// the tenant (onboarding another number, wacloudctl tenant add) keeps them,
// nil brings the defaults back, and an unknown tenant is not created.
func TestOptOutSettings(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	if err := r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{{PhoneNumberID: "511", WABAID: "W51"}}); err != nil {
		t.Fatal(err)
	}
	custom := &tenant.OptOut{Keywords: []string{"PARE", "SAIR"}, Reply: "Ok, você saiu da lista."}
	steps := []struct {
		name string
		do   func() error
		want *tenant.OptOut
	}{
		{"set", func() error { return r.SetOptOut(ctx, "acme", custom) }, custom},
		{"tenant written again without settings", func() error {
			return r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{{PhoneNumberID: "511", WABAID: "W51"}, {PhoneNumberID: "512", WABAID: "W51"}})
		}, custom},
		{"disabled", func() error { return r.SetOptOut(ctx, "acme", &tenant.OptOut{Disabled: true}) }, &tenant.OptOut{Disabled: true}},
		{"back to the defaults", func() error { return r.SetOptOut(ctx, "acme", nil) }, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			got, err := r.Tenant(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.OptOut, s.want) {
				t.Errorf("opt-out settings %+v, want %+v", got.OptOut, s.want)
			}
			if fresh, err := r.OptOutSettings(ctx, "acme"); err != nil || !reflect.DeepEqual(fresh, s.want) {
				t.Errorf("OptOutSettings = %+v, %v; want %+v", fresh, err, s.want)
			}
		})
	}
	if err := r.SetOptOut(ctx, "nobody", custom); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("SetOptOut of an unknown tenant = %v, want ErrNotFound", err)
	}
	if _, err := r.OptOutSettings(ctx, "nobody"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("OptOutSettings of an unknown tenant = %v, want ErrNotFound", err)
	}
	if _, err := r.Tenant(ctx, "nobody"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("unknown tenant after SetOptOut: %v, want still not registered", err)
	}
}
