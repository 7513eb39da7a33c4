package suppression_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/suppression"
)

func newStore(t *testing.T) *suppression.Store {
	t.Helper()
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	return &suppression.Store{API: dynamodb.NewFromConfig(emu.Config()), Table: st.Names.Ref["SuppressionsTable"]}
}

// TestStore: an entry is per tenant, the first one stays, any form of a
// number finds it, and removing it ends the suppression.
func TestStore(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	first, added, err := s.Add(ctx, suppression.Entry{TenantID: "acme", Contact: "+55 11 99999-8888", Reason: suppression.ReasonKeyword,
		At: at, Keyword: "SAIR", PhoneNumberID: "100000000000001", MessageID: "wamid.A"})
	if err != nil || !added {
		t.Fatalf("Add = %v, %v; want added", added, err)
	}
	if first.Contact != "551199998888" {
		t.Errorf("stored contact %q, want the key 551199998888", first.Contact)
	}
	again, added, err := s.Add(ctx, suppression.Entry{TenantID: "acme", Contact: "551199998888", Reason: suppression.ReasonAPI, At: at.Add(time.Hour)})
	if err != nil || added {
		t.Fatalf("second Add = %v, %v; want not added", added, err)
	}
	if again.Reason != suppression.ReasonKeyword || !again.At.Equal(at) || again.Keyword != "SAIR" {
		t.Errorf("second Add returned %+v, want the first entry (keyword SAIR at %s)", again, at)
	}

	tests := []struct {
		name, tenant, contact string
		want                  bool
	}{
		{"as written", "acme", "+55 11 99999-8888", true},
		{"as Meta's wa_id", "acme", "551199998888", true},
		{"with the ninth digit", "acme", "5511999998888", true},
		{"another tenant", "other", "551199998888", false},
		{"another contact", "acme", "551199997777", false},
		{"not a contact", "acme", "hello", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Suppressed(ctx, tt.tenant, tt.contact)
			if err != nil || got != tt.want {
				t.Errorf("Suppressed(%s, %s) = %v, %v; want %v", tt.tenant, tt.contact, got, err, tt.want)
			}
		})
	}

	if removed, err := s.Remove(ctx, "other", "551199998888"); err != nil || removed {
		t.Errorf("Remove from another tenant = %v, %v; want nothing removed", removed, err)
	}
	if removed, err := s.Remove(ctx, "acme", "5511999998888"); err != nil || !removed {
		t.Errorf("Remove = %v, %v; want removed", removed, err)
	}
	if got, err := s.Suppressed(ctx, "acme", "551199998888"); err != nil || got {
		t.Errorf("Suppressed after Remove = %v, %v; want false", got, err)
	}
	if removed, err := s.Remove(ctx, "acme", "551199998888"); err != nil || removed {
		t.Errorf("second Remove = %v, %v; want nothing removed", removed, err)
	}
}

func TestAddRefuses(t *testing.T) {
	s := &suppression.Store{} // never called
	tests := []struct {
		name string
		e    suppression.Entry
	}{
		{"no tenant", suppression.Entry{Contact: "16315551181", Reason: suppression.ReasonAPI}},
		{"unknown reason", suppression.Entry{TenantID: "acme", Contact: "16315551181", Reason: "bored"}},
		{"not a contact", suppression.Entry{TenantID: "acme", Contact: "nobody", Reason: suppression.ReasonAPI}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Add(context.Background(), tt.e)
			if fault.ClassOf(err) != fault.Invalid {
				t.Errorf("Add(%+v) = %v, want an Invalid error", tt.e, err)
			}
		})
	}
}

// TestList: pages in contact order, each tenant its own, and a cursor
// that is not one fails as invalid input.
func TestList(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		c := fmt.Sprintf("1631555%04d", i)
		want = append(want, c)
		if _, _, err := s.Add(ctx, suppression.Entry{TenantID: "acme", Contact: c, Reason: suppression.ReasonManual}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Add(ctx, suppression.Entry{TenantID: "acme2", Contact: "16315559999", Reason: suppression.ReasonManual}); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor, pages := "", 0
	for {
		p, err := s.List(ctx, "acme", 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Entries) > 3 {
			t.Errorf("page %d has %d entries, want at most 3", pages, len(p.Entries))
		}
		for _, e := range p.Entries {
			got = append(got, e.Contact)
		}
		if p.Next == "" || pages > 10 {
			break
		}
		cursor = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	_, err := s.List(ctx, "acme", 3, "%%%")
	if fault.ClassOf(err) != fault.Invalid {
		t.Errorf("List with a made-up cursor = %v, want an Invalid error", err)
	}
}
