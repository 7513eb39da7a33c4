package campaign_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// refuseAt is the runner's real capacity; at its n-th reservation it
// counts one of the campaign's messages failed with the given Meta code,
// with the write the status function makes for a failed status.
type refuseAt struct {
	*msglimit.Store
	ddb                 *dynamodb.Client
	table, tenant, id   string
	code                string
	n                   int64
	calls, failedWrites atomic.Int64
}

func (r *refuseAt) Reserve(ctx context.Context, portfolio, recipient string, now time.Time) (msglimit.Decision, error) {
	if r.calls.Add(1) == r.n {
		k := r.failedWrites.Add(1)
		w, err := tally.Write(r.table, r.tenant, r.id, fmt.Sprintf("wamid.refused-%d", k), tally.Delta{States: []string{tally.Failed}, FailedReason: r.code})
		if err != nil {
			return msglimit.Decision{}, err
		}
		if _, err := r.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{w}}); err != nil {
			return msglimit.Decision{}, err
		}
	}
	return r.Store.Reserve(ctx, portfolio, recipient, now)
}

// TestRunnerPausesOnSpamLimit: a message of the campaign refused with
// 131048 (Meta's spam rate limit) pauses the campaign within a few
// seconds, the count in its reason; any other refusal does not. A resume
// goes on past the refusals so far and sends the rest, each row once.
func TestRunnerPausesOnSpamLimit(t *testing.T) {
	tests := []struct {
		code  string
		pause bool
	}{
		{code: "131048", pause: true},
		{code: "131026", pause: false}, // undeliverable: the recipient's, not the number's
		{code: "131049", pause: false}, // the user's marketing limit
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			e.r.Every = 100 * time.Millisecond
			body, valid := audience(120)
			c := e.campaign(t, "tenants/demo/campaigns/spam-"+tt.code+".csv", body)
			// The refusal comes with the run's first reservation: after
			// the run read its starting count, before its first
			// checkpoint (8 rows in). The run looks at the counts at most
			// every 5 s of its clock, and these 120 rows take 1.5 s, so
			// it looks once; a later refusal would race the checks that
			// run ahead of the rows taken.
			refuse := &refuseAt{Store: e.r.Capacity.(*msglimit.Store), ddb: dynamodb.NewFromConfig(e.cfg), table: e.table,
				tenant: "demo", id: c.ID, code: tt.code, n: 1}
			e.r.Capacity = refuse
			cmd := campaign.Command{TenantID: "demo", CampaignID: c.ID}
			if err := e.r.Run(ctx, cmd); err != nil {
				t.Fatal(err)
			}
			got, err := e.store.Get(ctx, "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			first := e.jobs(t)
			if !tt.pause {
				if got.State != campaign.StateCompleted || len(first) != valid {
					t.Fatalf("after a %s refusal: %s (%s) with %d jobs, want completed with %d", tt.code, got.State, got.Reason, len(first), valid)
				}
				return
			}
			if got.State != campaign.StatePaused || !strings.Contains(got.Reason, "131048") || !strings.Contains(got.Reason, "refused 1 ") {
				t.Fatalf("after a 131048 refusal: %s (%q), want paused naming 131048 and the count", got.State, got.Reason)
			}
			if len(first) == 0 || len(first) >= valid {
				t.Errorf("%d jobs before the pause, want from 1 to fewer than %d", len(first), valid)
			}
			if _, err := e.store.Transition(ctx, "demo", c.ID, campaign.StateRunning, "", campaign.StatePaused); err != nil {
				t.Fatal(err)
			}
			if err := e.r.Run(ctx, cmd); err != nil {
				t.Fatal(err)
			}
			got, err = e.store.Get(ctx, "demo", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, j := range append(first, e.jobs(t)...) {
				seen[j.JobID]++
			}
			if got.State != campaign.StateCompleted || len(seen) != valid {
				t.Errorf("after the resume: %s (%s) with %d distinct jobs, want completed with %d", got.State, got.Reason, len(seen), valid)
			}
		})
	}
}
