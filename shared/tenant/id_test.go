package tenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/tenant"
)

func TestIDRule(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"acme", true},
		{"a", true},
		{"0", true},
		{"Acme_Corp-2.br", true},
		{strings.Repeat("t", tenant.MaxIDLength), true},
		{strings.Repeat("t", tenant.MaxIDLength+1), false},
		{strings.Repeat("t", 128), false},
		{"", false},
		{".", false},
		{"..", false},
		{".acme", false},
		{"-acme", false},
		{"_acme", false},
		{"acme/../other", false},
		{"acme:1", false},
		{"acme#1", false},
		{"acme corp", false},
		{"acme\n", false},
		{"açme", false},
		{"acme%2F", false},
	}
	for _, tt := range tests {
		name := tt.id
		if len(name) > 20 {
			name = name[:10] + "…" + strconv.Itoa(len(tt.id))
		}
		t.Run(name, func(t *testing.T) {
			if got := tenant.ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
			err := tenant.CheckID(tt.id)
			if (err == nil) != tt.want {
				t.Errorf("CheckID(%q) = %v, want error %v", tt.id, err, !tt.want)
			}
			if err != nil && fault.ClassOf(err) != fault.Invalid {
				t.Errorf("CheckID error class = %v, want invalid", fault.ClassOf(err))
			}
			// The job contract holds the same rule.
			j := outbound.Job{JobID: "j1", TenantID: tt.id, PhoneNumberID: "100000000000001", To: "+5511999990001", Type: outbound.TypeText,
				Text: &outbound.Text{Body: "hi"}}
			verr := outbound.Validate(j)
			if jobOK := verr == nil || !strings.Contains(verr.Error(), "tenant_id"); jobOK != tt.want {
				t.Errorf("outbound.Validate with tenant_id %q: %v, want accepted %v", tt.id, verr, tt.want)
			}
		})
	}
}

// One rule in three places: tenant.IDPattern, outbound.Validate's and the
// published job schema's tenant_id pattern.
func TestIDRuleIsTheJobSchemas(t *testing.T) {
	if got := outbound.TenantIDPattern(); got != tenant.IDPattern {
		t.Errorf("outbound tenant id pattern = %s, want %s", got, tenant.IDPattern)
	}
	b, err := os.ReadFile("../../schema/outbound-job.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			TenantID struct {
				Pattern   string `json:"pattern"`
				MaxLength int    `json:"maxLength"`
			} `json:"tenant_id"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties.TenantID; got.Pattern != tenant.IDPattern || got.MaxLength != tenant.MaxIDLength {
		t.Errorf("schema tenant_id = %+v, want pattern %s and maxLength %d", got, tenant.IDPattern, tenant.MaxIDLength)
	}
}

// With the longest tenant id, a 20-digit phone number id (the most a 64-bit
// Meta id has) and a 15-digit wa_id (E.164's most), every FIFO group id the
// connector and the core derive fits SQS's 128 characters as it is.
func TestDerivedIDsFitWithLongestTenantID(t *testing.T) {
	tenantID := strings.Repeat("t", tenant.MaxIDLength)
	const phone, waID = "12345678901234567890", "551199999000123"
	ids := map[string]string{
		"core event group (contact)": event.Event{TenantID: tenantID, PhoneNumberID: phone, Contact: &event.Contact{WaID: waID}}.OrderKey(),
		"core event group (number)":  event.Event{TenantID: tenantID, PhoneNumberID: phone}.OrderKey(),
		"outbound job group":         outbound.Job{TenantID: tenantID, PhoneNumberID: phone, To: "+" + waID}.GroupID(),
		"media job group":            tenantID + ":" + phone,
	}
	for name, id := range ids {
		if len(id) > 128 {
			t.Errorf("%s has %d characters, SQS allows 128: %s", name, len(id), id)
		}
		if !strings.HasPrefix(id, tenantID) {
			t.Errorf("%s = %q does not start with the tenant id", name, id)
		}
	}
}

func TestRegistryRefusesIDsOutsideTheRule(t *testing.T) {
	r := newRegistry(t)
	ctx := context.Background()
	longest := strings.Repeat("t", tenant.MaxIDLength)
	if err := r.Put(ctx, tenant.Tenant{ID: longest, SecretID: "s/" + longest}, []tenant.Number{{PhoneNumberID: "777", WABAID: "W777"}}); err != nil {
		t.Fatalf("Put of a %d-character id: %v", len(longest), err)
	}
	if _, err := r.Tenant(ctx, longest); err != nil {
		t.Errorf("Tenant(%d characters): %v", len(longest), err)
	}
	for _, id := range []string{longest + "t", strings.Repeat("t", 128), "..", "acme/x", "acme:1", ""} {
		err := r.Put(ctx, tenant.Tenant{ID: id, SecretID: "s/x"}, []tenant.Number{{PhoneNumberID: "778", WABAID: "W778"}})
		if err == nil || fault.ClassOf(err) != fault.Invalid {
			t.Errorf("Put(%q) = %v, want an invalid-input error", id, err)
		}
		if _, err := r.Number(ctx, "778"); !errors.Is(err, tenant.ErrNotFound) {
			t.Errorf("after Put(%q): number 778 = %v, want not registered", id, err)
		}
	}
}
