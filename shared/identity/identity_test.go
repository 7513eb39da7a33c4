package identity_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/identity"
)

func TestVariants(t *testing.T) {
	tests := []struct {
		name, digits string
		want         []string
	}{
		{"Brazilian mobile with the ninth digit", "5511999998888", []string{"551199998888"}},
		{"Brazilian mobile without it", "551199998888", []string{"5511999998888"}},
		{"Brazilian mobile, another area", "5521987654321", []string{"552187654321"}},
		{"Brazilian landline", "551133334444", nil},
		{"Brazilian 13 digits not a mobile", "5511933334444", nil},
		{"Mexican mobile as dialled", "525512345678", []string{"5215512345678"}},
		{"Mexican mobile as Meta's wa_id", "5215512345678", []string{"525512345678"}},
		{"United States", "16315551181", nil},
		{"business-scoped user id", "US.13491208655302741918", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := identity.Variants(tt.digits); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Variants(%q) = %v, want %v", tt.digits, got, tt.want)
			}
		})
	}
}

// TestStore: a mapping is per tenant and number, is replaced by the next
// answer, and counts as gone once expired (before TTL removes it).
func TestStore(t *testing.T) {
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &identity.Store{API: dynamodb.NewFromConfig(emu.Config()), Table: st.Names.Ref["StateTable"], Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := s.Put(ctx, "demo", "100", "5511999998888", "551199998888"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "demo", "100", "US.13491208655302741918", "551199998888"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                  string
		at                    time.Time
		tenant, number, input string
		want                  string // "" for no mapping
	}{
		{"by phone number", now, "demo", "100", "5511999998888", "551199998888"},
		{"by business-scoped user id", now, "demo", "100", "US.13491208655302741918", "551199998888"},
		{"another number", now, "demo", "200", "5511999998888", ""},
		{"another tenant", now, "other", "100", "5511999998888", ""},
		{"unknown input", now, "demo", "100", "5511999997777", ""},
		{"just before it expires", now.Add(identity.DefaultRetention - time.Minute), "demo", "100", "5511999998888", "551199998888"},
		{"expired", now.Add(identity.DefaultRetention + time.Minute), "demo", "100", "5511999998888", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := *s
			at.Now = func() time.Time { return tt.at }
			m, ok, err := at.Get(ctx, tt.tenant, tt.number, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want != "") || m.Identity != tt.want {
				t.Errorf("Get = %+v, %v; want %q", m, ok, tt.want)
			}
			if ok && !m.UpdatedAt.Equal(now) {
				t.Errorf("updated at %s, want %s", m.UpdatedAt, now)
			}
		})
	}
	if err := s.Put(ctx, "demo", "100", "5511999998888", "5511999998888"); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := s.Get(ctx, "demo", "100", "5511999998888"); m.Identity != "5511999998888" {
		t.Errorf("after Meta answered another wa_id: %q", m.Identity)
	}
}
