package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/fault"
)

func (c *countingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.count("TransactWriteItems")
	return c.API.TransactWriteItems(ctx, in, optFns...)
}

// TestCountAndMarkNotified: a campaign message's new states are counted
// and its status events marked pushed in one transaction; when another
// status counted first (a copy of the record read before it), what is
// left is counted (nothing twice) and the events marked all the same; a
// message of no campaign is only marked.
func TestCountAndMarkNotified(t *testing.T) {
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	ddb := dynamodb.NewFromConfig(emu.Config())
	campaigns := &campaign.Store{API: ddb, Table: st.Names.Ref["CampaignsTable"]}
	ctx := context.Background()

	tests := []struct {
		name       string
		campaign   bool
		countFirst bool // another status counts from the same copy of the record first
		calls      map[string]int
		want       string // accepted/sent/delivered counted in the campaign
	}{
		{"first count", true, false, map[string]int{"TransactWriteItems": 1}, "1/1/1"},
		{"another status counted first", true, true, map[string]int{"TransactWriteItems": 1, "GetItem": 1, "UpdateItem": 1}, "1/1/1"},
		{"no campaign", false, false, map[string]int{"UpdateItem": 1}, "0/0/0"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &countingAPI{API: ddb}
			s := &delivery.Store{API: api, Table: st.Names.Ref["MessagesTable"], CampaignsTable: st.Names.Ref["CampaignsTable"],
				Now: func() time.Time { return base }}
			wamid := fmt.Sprintf("wamid.count-%d", i)
			r := accepted(wamid)
			cid := ""
			if tt.campaign {
				cid = campaign.NewID("acme", wamid)
				r.CampaignID = cid
			}
			if err := s.RecordAccepted(ctx, r); err != nil {
				t.Fatal(err)
			}
			res, err := s.Apply(ctx, status(wamid, "delivered", 2))
			if err != nil {
				t.Fatal(err)
			}
			m := res.Message
			if tt.countFirst {
				if _, err := s.CountAndMarkNotified(ctx, m, nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			api.calls = nil
			if _, err := s.CountAndMarkNotified(ctx, m, m.Pending(), base); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(api.calls) != fmt.Sprint(tt.calls) {
				t.Errorf("calls %v, want %v", api.calls, tt.calls)
			}
			after, err := s.Get(ctx, wamid)
			if err != nil {
				t.Fatal(err)
			}
			if p := after.Pending(); len(p) != 0 {
				t.Errorf("pending after the marks: %v", p)
			}
			if cid == "" {
				return
			}
			totals, err := campaigns.Totals(ctx, "acme", cid)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d/%d/%d", totals.Accepted, totals.Sent, totals.Delivered); got != tt.want {
				t.Errorf("counted accepted/sent/delivered %s, want %s", got, tt.want)
			}
			// Again, from the same copy: nothing more is counted.
			if _, err := s.CountAndMarkNotified(ctx, m, m.Pending(), base); err != nil {
				t.Fatal(err)
			}
			again, err := campaigns.Totals(ctx, "acme", cid)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d/%d/%d", again.Accepted, again.Sent, again.Delivered); got != tt.want {
				t.Errorf("after a repeat, counted %s, want %s", got, tt.want)
			}
		})
	}
}

// TestCountAndMarkNotifiedStorm: a campaign message's three statuses,
// each delivered eight times, applied and counted at once by as many
// instances, count each state exactly once and leave nothing pending.
func TestCountAndMarkNotifiedStorm(t *testing.T) {
	emu := awsemu.StartTest(t)
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	ddb := dynamodb.NewFromConfig(emu.Config())
	s := &delivery.Store{API: ddb, Table: st.Names.Ref["MessagesTable"], CampaignsTable: st.Names.Ref["CampaignsTable"],
		Now: func() time.Time { return base }}
	ctx := context.Background()
	const wamid = "wamid.count-storm"
	r := accepted(wamid)
	r.CampaignID = campaign.NewID("acme", wamid)
	if err := s.RecordAccepted(ctx, r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := []string{"sent", "delivered", "read"}[i%3]
			res, err := s.Apply(ctx, status(wamid, state, i%3+1))
			if err == nil {
				_, err = s.CountAndMarkNotified(ctx, res.Message, res.Message.Pending(), base)
			}
			if err != nil && fault.ClassOf(err) != fault.Retry {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// What a retried status would do: apply again and count what is left.
	for _, state := range []string{"sent", "delivered", "read"} {
		res, err := s.Apply(ctx, status(wamid, state, 4))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CountAndMarkNotified(ctx, res.Message, res.Message.Pending(), base); err != nil {
			t.Fatal(err)
		}
	}
	totals, err := (&campaign.Store{API: ddb, Table: st.Names.Ref["CampaignsTable"]}).Totals(ctx, "acme", r.CampaignID)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%d/%d/%d/%d", totals.Accepted, totals.Sent, totals.Delivered, totals.Read); got != "1/1/1/1" {
		t.Errorf("counted accepted/sent/delivered/read %s, want 1/1/1/1", got)
	}
	m, err := s.Get(ctx, wamid)
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Pending(); len(p) != 0 {
		t.Errorf("pending: %v", p)
	}
}
