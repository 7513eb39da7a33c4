package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// tierco is a business of its own portfolio, so its messaging-limit tier
// and quality changes touch no other test.
var tierco = connector.Tenant{ID: "tierco", PhoneNumberID: "100000000000003", WABAID: "200000000000003", DisplayPhoneNumber: "15550000003", AccessToken: "tierco-access-token"}

// campaignView is what GET …/campaigns/{id} says.
type campaignView struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Counts struct {
		Rows   int `json:"rows"`
		Queued int `json:"queued"`
	} `json:"counts"`
}

// TestCampaignWalksTierAndQualityDrop walks tierco's campaigns through
// Meta's messaging limit and a quality drop, with every piece of `make
// local`: the simulator's switch posts Meta's signed
// phone_number_quality_update webhooks, the status function records tier
// and health, the campaign runner and the sender hold the portfolio to
// the tier, and the simulator enforces it as Meta would.
//
//   - TIER_50 (Meta's smallest tier, so the walk stays short on moto) and
//     60 recipients: exactly 50 reach Meta, none over the limit, and the
//     campaign waits for capacity.
//   - TIER_1K and a second campaign: Meta flags the number mid-run; the
//     campaign pauses with the reason and sends nothing more; a resume
//     while flagged pauses it again; after Meta unflags the number a
//     resume sends the rest, each recipient once.
func TestCampaignWalksTierAndQualityDrop(t *testing.T) {
	h := startOutbound(t)
	requireWired(t, connector.Functions, "CampaignFunction", "TemplatesFunction", "ApiFunction")
	ctx := context.Background()
	if err := h.Built["TemplatesFunction"].Scheduled(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
		t.Fatalf("scheduled template sync: %v", err)
	}
	tok := apiToken(t, h, "tenant:"+tierco.ID)
	limits := func() *msglimit.Store {
		return &msglimit.Store{API: dynamodb.NewFromConfig(h.Emulator.Config()), Table: h.Stack.Names.Ref["StateTable"]}
	}
	change := func(t *testing.T, body string, want ...string) {
		t.Helper()
		res, err := h.Sim.ChangeNumber(ctx, tierco.PhoneNumberID, mustNumberChange(t, body))
		if err != nil || strings.Join(res.Events, ",") != strings.Join(want, ",") {
			t.Fatalf("switch %s: events %v, %v; want %v", body, res.Events, err, want)
		}
	}
	tier := func(t *testing.T, want string) {
		t.Helper()
		eventually(t, "the portfolio's tier "+want+" recorded from the webhook", time.Minute, func() bool {
			st, err := limits().State(ctx, tierco.WABAID, time.Now())
			return err == nil && st.Tier == want
		})
	}
	paused := func(t *testing.T, want bool) {
		t.Helper()
		eventually(t, fmt.Sprintf("the number's health paused=%v recorded from the webhook", want), time.Minute, func() bool {
			hl, err := limits().Health(ctx, tierco.PhoneNumberID)
			return err == nil && hl.Paused() == want
		})
	}
	get := func(t *testing.T, id string) campaignView {
		t.Helper()
		r := apiCall{Method: "GET", Path: "/v1/tenants/" + tierco.ID + "/campaigns/" + id, Token: tok}.do(t, h)
		var c campaignView
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &c) != nil {
			t.Fatalf("GET campaign %s: %d %s", id, r.Status, r.Body)
		}
		return c
	}
	waitState := func(t *testing.T, id, state string, within time.Duration) campaignView {
		t.Helper()
		var c campaignView
		deadline := time.Now().Add(within)
		for {
			if c = get(t, id); c.State == state {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("campaign %s is %s (%s, %d rows, %d queued) after %s, want %s", id, c.State, c.Reason, c.Counts.Rows, c.Counts.Queued, within, state)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// reached counts the simulator's accepted templates from tierco's
	// number to each recipient whose wa_id starts with prefix.
	reached := func(prefix string) map[string]int {
		out := map[string]int{}
		for _, m := range h.Sim.Messages() {
			if m.PhoneNumberID == tierco.PhoneNumberID && m.Type == "template" && strings.HasPrefix(m.WaID, prefix) {
				out[m.WaID]++
			}
		}
		return out
	}
	create := func(t *testing.T, name, prefix string, rows int, rate *int) string {
		t.Helper()
		var b strings.Builder
		b.WriteString("to\n")
		for i := 1; i <= rows; i++ {
			c := fmt.Sprintf("%s%04d", prefix, i)
			personal(c)
			fmt.Fprintf(&b, "+%s\n", c)
		}
		key := "tenants/" + tierco.ID + "/campaigns/" + name + ".csv"
		bucket := h.Stack.Names.Ref["DataBucket"]
		if _, err := s3.NewFromConfig(h.Emulator.Config(), func(o *s3.Options) { o.UsePathStyle = true }).PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(b.String()), ContentType: aws.String("text/csv"),
		}); err != nil {
			t.Fatal(err)
		}
		req := map[string]any{"name": name, "phone_number_id": tierco.PhoneNumberID,
			"template": map[string]string{"name": "hello_world", "language": "en_US"},
			"audience": "s3://" + bucket + "/" + key, "start_at": nil, "rate_limit": rate, "client_ref": name}
		r := apiCall{Method: "POST", Path: "/v1/tenants/" + tierco.ID + "/campaigns", Token: tok, Body: req,
			Header: map[string]string{"Idempotency-Key": name + "-" + fmt.Sprint(time.Now().UnixNano())}}.do(t, h)
		var c campaignView
		if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &c) != nil || c.ID == "" {
			t.Fatalf("POST campaign: %d %s", r.Status, r.Body)
		}
		return c.ID
	}
	resume := func(t *testing.T, id string) {
		t.Helper()
		if r := (apiCall{Method: "POST", Path: "/v1/tenants/" + tierco.ID + "/campaigns/" + id + "/resume", Token: tok}.do(t, h)); r.Status != http.StatusOK {
			t.Fatalf("resume: %d %s", r.Status, r.Body)
		}
	}

	t.Run("TIER_50: exactly 50 recipients, then waiting for capacity", func(t *testing.T) {
		change(t, `{"messaging_limit_tier":"TIER_50"}`, "DOWNGRADE")
		tier(t, "TIER_50")
		id := create(t, "tier-walk", "5511966", 60, nil)
		c := waitState(t, id, "waiting_for_capacity", 2*time.Minute)
		if c.Counts.Queued != 50 || c.Counts.Rows != 50 {
			t.Errorf("%d rows read, %d queued before waiting for capacity, want 50 and 50", c.Counts.Rows, c.Counts.Queued)
		}
		var got map[string]int
		eventually(t, "50 templates accepted by the simulator", 2*time.Minute, func() bool {
			got = reached("5511966")
			return len(got) >= 50
		})
		_, lim, _ := h.Sim.NumberState(tierco.PhoneNumberID)
		if len(got) != 50 || lim.Used != 50 || lim.Refused != 0 {
			t.Errorf("Meta reached %d recipients (portfolio %+v), want 50 and none over the limit", len(got), lim)
		}
		for to, n := range got {
			if n != 1 {
				t.Errorf("%s sent %d times", to, n)
			}
		}
	})

	t.Run("quality drop pauses, resume after unflagging completes", func(t *testing.T) {
		change(t, `{"messaging_limit_tier":"TIER_1K"}`, "UPGRADE")
		tier(t, "TIER_1K")
		// 2 a second: 30 s of runway for the flag to reach the runner
		// while the first sends go out (on moto under load, the first 5
		// took long enough at 5 a second for the campaign to finish first).
		rate := 2
		id := create(t, "quality-drop", "5511955", 60, &rate)
		eventually(t, "the second campaign under way", time.Minute, func() bool { return len(reached("5511955")) >= 5 })
		change(t, `{"quality_rating":"RED"}`, "FLAGGED")
		c := waitState(t, id, "paused", time.Minute)
		if !strings.Contains(c.Reason, "FLAGGED") {
			t.Errorf("paused with reason %q, want the flag named", c.Reason)
		}
		t.Logf("paused after %d of 60 rows queued", c.Counts.Queued)
		if c.Counts.Queued >= 60 {
			t.Fatalf("queued %d: the campaign ran to its end before the flag", c.Counts.Queued)
		}
		eventually(t, "the queued jobs sent", time.Minute, func() bool { return len(reached("5511955")) >= c.Counts.Queued })
		if n := len(reached("5511955")); n != c.Counts.Queued {
			t.Errorf("Meta reached %d recipients, the paused campaign queued %d", n, c.Counts.Queued)
		}

		resume(t, id)
		c = waitState(t, id, "paused", time.Minute)
		if got := get(t, id).Counts.Queued; got != c.Counts.Queued || !strings.Contains(c.Reason, "FLAGGED") {
			t.Errorf("resumed while flagged: queued %d, reason %q", got, c.Reason)
		}

		change(t, `{"quality_rating":"GREEN"}`, "UNFLAGGED")
		paused(t, false)
		resume(t, id)
		c = waitState(t, id, "completed", 2*time.Minute)
		if c.Counts.Queued != 60 {
			t.Errorf("queued %d, want 60", c.Counts.Queued)
		}
		var got map[string]int
		eventually(t, "60 templates accepted by the simulator", 2*time.Minute, func() bool {
			got = reached("5511955")
			return len(got) >= 60
		})
		for to, n := range got {
			if n != 1 {
				t.Errorf("%s sent %d times", to, n)
			}
		}
		if _, lim, _ := h.Sim.NumberState(tierco.PhoneNumberID); lim.Refused != 0 {
			t.Errorf("portfolio %+v: a message went over the limit", lim)
		}
	})
}

func mustNumberChange(t *testing.T, body string) graphsim.NumberChange {
	t.Helper()
	var c graphsim.NumberChange
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	return c
}
