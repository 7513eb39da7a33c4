package tenant_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// SetThroughput changes the one attribute of the stored item, whatever a
// warm cache of the number holds: a concurrent registry change survives
// and a number deleted meanwhile stays deleted.
func TestSetThroughputIsConditional(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// meanwhile changes the registry through another instance after
		// the instance under test cached number 411.
		meanwhile func(t *testing.T, other *tenant.Registry)
		wantErr   error
		want      *tenant.Number // nil: the number must not exist afterwards
	}{
		{
			name: "another attribute changed meanwhile",
			meanwhile: func(t *testing.T, other *tenant.Registry) {
				if err := other.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{
					{PhoneNumberID: "411", WABAID: "W41", DisplayPhoneNumber: "+55 11 5555-0002"},
				}); err != nil {
					t.Fatal(err)
				}
			},
			want: &tenant.Number{PhoneNumberID: "411", TenantID: "acme", WABAID: "W41", DisplayPhoneNumber: "+55 11 5555-0002", Throughput: 1000},
		},
		{
			name: "number deleted meanwhile",
			meanwhile: func(t *testing.T, other *tenant.Registry) {
				if _, err := other.Delete(ctx, "acme"); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: tenant.ErrNotFound,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			if err := r.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "s/acme"}, []tenant.Number{
				{PhoneNumberID: "411", WABAID: "W41", DisplayPhoneNumber: "+55 11 5555-0001"},
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Number(ctx, "411"); err != nil { // warm the cache
				t.Fatal(err)
			}
			other := &tenant.Registry{API: r.API, Table: r.Table}
			tc.meanwhile(t, other)

			if err := r.SetThroughput(ctx, "411", 1000); !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetThroughput error = %v, want %v", err, tc.wantErr)
			}
			fresh := &tenant.Registry{API: r.API, Table: r.Table}
			got, err := fresh.Number(ctx, "411")
			if tc.want == nil {
				if !errors.Is(err, tenant.ErrNotFound) {
					t.Errorf("number after SetThroughput = %+v, %v; want it to stay deleted", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != *tc.want {
				t.Errorf("number = %+v, want %+v", got, *tc.want)
			}
		})
	}
}
