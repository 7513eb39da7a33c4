package tenant_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// owners maps each number and WABA id to its tenant ("" when not
// registered), read through a fresh registry (no cache).
func owners(t *testing.T, r *tenant.Registry, numbers, wabas []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	fresh := &tenant.Registry{API: r.API, Table: r.Table}
	got := map[string]string{}
	for _, id := range numbers {
		n, err := fresh.Number(ctx, id)
		if err != nil && !errors.Is(err, tenant.ErrNotFound) {
			t.Fatal(err)
		}
		got[id] = n.TenantID
	}
	for _, id := range wabas {
		tid, err := fresh.TenantOfWABA(ctx, id)
		if err != nil && !errors.Is(err, tenant.ErrNotFound) {
			t.Fatal(err)
		}
		got[id] = tid
	}
	return got
}

func lists(t *testing.T, r *tenant.Registry, id string) string {
	t.Helper()
	tn, err := (&tenant.Registry{API: r.API, Table: r.Table}).Tenant(context.Background(), id)
	if err != nil {
		return "absent"
	}
	return strings.Join(tn.PhoneNumbers, ",") + " " + strings.Join(tn.WABAIDs, ",")
}

// The registry's number operations: Put drops what the tenant no longer
// lists, RemoveNumber and MoveNumbers change one tenant's numbers; each
// leaves the registry consistent (tenant lists, number and WABA items)
// and never touches another tenant's items.
func TestNumberOperations(t *testing.T) {
	ctx := context.Background()
	numbers := []string{"501", "502", "503", "601"}
	wabas := []string{"W50", "W51", "W60"}
	cases := []struct {
		name       string
		op         func(r *tenant.Registry) error
		wantErr    *fault.Class // nil: no error
		wantOwners map[string]string
		wantLists  map[string]string
	}{
		{
			name: "put without a number removes it and its WABA",
			op: func(r *tenant.Registry) error {
				return r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{{PhoneNumberID: "501", WABAID: "W50"}})
			},
			wantOwners: map[string]string{"501": "acme", "502": "", "503": "", "601": "beta", "W50": "acme", "W51": "", "W60": "beta"},
			wantLists:  map[string]string{"acme": "501 W50", "beta": "601 W60"},
		},
		{
			name:       "remove a number whose WABA has another number",
			op:         func(r *tenant.Registry) error { _, err := r.RemoveNumber(ctx, "acme", "501"); return err },
			wantOwners: map[string]string{"501": "", "502": "acme", "503": "acme", "601": "beta", "W50": "acme", "W51": "acme", "W60": "beta"},
			wantLists:  map[string]string{"acme": "502,503 W50,W51", "beta": "601 W60"},
		},
		{
			name:       "remove the last number of a WABA",
			op:         func(r *tenant.Registry) error { _, err := r.RemoveNumber(ctx, "acme", "503"); return err },
			wantOwners: map[string]string{"501": "acme", "502": "acme", "503": "", "601": "beta", "W50": "acme", "W51": "", "W60": "beta"},
			wantLists:  map[string]string{"acme": "501,502 W50", "beta": "601 W60"},
		},
		{
			name:       "remove another tenant's number",
			op:         func(r *tenant.Registry) error { _, err := r.RemoveNumber(ctx, "acme", "601"); return err },
			wantErr:    ptr(fault.Permanent),
			wantOwners: map[string]string{"501": "acme", "502": "acme", "503": "acme", "601": "beta", "W50": "acme", "W51": "acme", "W60": "beta"},
			wantLists:  map[string]string{"acme": "501,502,503 W50,W51", "beta": "601 W60"},
		},
		{
			name:       "move a number with its WABA",
			op:         func(r *tenant.Registry) error { _, err := r.MoveNumbers(ctx, "beta", "503"); return err },
			wantOwners: map[string]string{"501": "acme", "502": "acme", "503": "beta", "601": "beta", "W50": "acme", "W51": "beta", "W60": "beta"},
			wantLists:  map[string]string{"acme": "501,502 W50", "beta": "601,503 W60,W51"},
		},
		{
			name:       "move every number of a shared WABA",
			op:         func(r *tenant.Registry) error { _, err := r.MoveNumbers(ctx, "beta", "501", "502"); return err },
			wantOwners: map[string]string{"501": "beta", "502": "beta", "503": "acme", "601": "beta", "W50": "beta", "W51": "acme", "W60": "beta"},
			wantLists:  map[string]string{"acme": "503 W51", "beta": "601,501,502 W60,W50"},
		},
		{
			name:       "move one number of a shared WABA",
			op:         func(r *tenant.Registry) error { _, err := r.MoveNumbers(ctx, "beta", "501"); return err },
			wantErr:    ptr(fault.Invalid),
			wantOwners: map[string]string{"501": "acme", "502": "acme", "503": "acme", "601": "beta", "W50": "acme", "W51": "acme", "W60": "beta"},
			wantLists:  map[string]string{"acme": "501,502,503 W50,W51", "beta": "601 W60"},
		},
		{
			name:       "move to an unregistered tenant",
			op:         func(r *tenant.Registry) error { _, err := r.MoveNumbers(ctx, "nobody", "503"); return err },
			wantErr:    ptr(fault.Permanent),
			wantOwners: map[string]string{"501": "acme", "502": "acme", "503": "acme", "601": "beta", "W50": "acme", "W51": "acme", "W60": "beta"},
			wantLists:  map[string]string{"acme": "501,502,503 W50,W51", "beta": "601 W60", "nobody": "absent"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			if err := r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{
				{PhoneNumberID: "501", WABAID: "W50"}, {PhoneNumberID: "502", WABAID: "W50"}, {PhoneNumberID: "503", WABAID: "W51", Throughput: 1000},
			}); err != nil {
				t.Fatal(err)
			}
			if err := r.Put(ctx, tenant.Tenant{ID: "beta", SecretID: "s/beta"}, []tenant.Number{{PhoneNumberID: "601", WABAID: "W60"}}); err != nil {
				t.Fatal(err)
			}
			for _, id := range numbers { // warm the cache: the operations must not trust it
				_, _ = r.Number(ctx, id)
			}
			err := tc.op(r)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("error = %v, want none", err)
			case tc.wantErr != nil && (err == nil || fault.ClassOf(err) != *tc.wantErr):
				t.Fatalf("error = %v, want class %v", err, *tc.wantErr)
			}
			got := owners(t, r, numbers, wabas)
			for id, want := range tc.wantOwners {
				if got[id] != want {
					t.Errorf("owner of %s = %q, want %q", id, got[id], want)
				}
			}
			for id, want := range tc.wantLists {
				if got := lists(t, r, id); got != want {
					t.Errorf("tenant %s lists %q, want %q", id, got, want)
				}
			}
			// The instance that made the change sees it at once.
			for _, id := range numbers {
				n, err := r.Number(ctx, id)
				if errors.Is(err, tenant.ErrNotFound) {
					n.TenantID = ""
				}
				if n.TenantID != got[id] {
					t.Errorf("cached owner of %s = %q, want %q", id, n.TenantID, got[id])
				}
			}
		})
	}
	t.Run("a moved number keeps its fields", func(t *testing.T) {
		r := newRegistry(t)
		for _, tn := range []string{"acme", "beta"} {
			if err := r.Put(ctx, tenant.Tenant{ID: tn, SecretID: "s/" + tn}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{
			{PhoneNumberID: "503", WABAID: "W51", DisplayPhoneNumber: "+1 555 0503", Throughput: 1000},
		}); err != nil {
			t.Fatal(err)
		}
		from, err := r.MoveNumbers(ctx, "beta", "503")
		if err != nil || from != "acme" {
			t.Fatalf("MoveNumbers = %q, %v", from, err)
		}
		got, err := r.Number(ctx, "503")
		want := tenant.Number{PhoneNumberID: "503", TenantID: "beta", WABAID: "W51", DisplayPhoneNumber: "+1 555 0503", Throughput: 1000}
		if err != nil || got != want {
			t.Errorf("moved number = %+v, %v; want %+v", got, err, want)
		}
	})
	t.Run("a number listed twice", func(t *testing.T) {
		r := newRegistry(t)
		err := r.Put(ctx, tenant.Tenant{ID: "acme"}, []tenant.Number{{PhoneNumberID: "1"}, {PhoneNumberID: "1"}})
		if fault.ClassOf(err) != fault.Invalid {
			t.Errorf("Put = %v, want Invalid", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
