package tally_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
)

// TestWriteIsAValidExpression: every write names its attributes through
// placeholders (read, failed… never bare) and uses every placeholder.
func TestWriteIsAValidExpression(t *testing.T) {
	tests := []struct {
		name string
		d    tally.Delta
	}{
		{"accepted", tally.Delta{States: []string{tally.Accepted}}},
		{"funnel", tally.Delta{States: []string{tally.Sent, tally.Delivered, tally.Read}, Pricing: "marketing"}},
		{"failed by code", tally.Delta{States: []string{tally.Failed}, FailedReason: "131049"}},
		{"pricing only", tally.Delta{Pricing: "utility"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := tally.Write("Campaigns", "acme", "cmp_0123456789abcdef0123", "wamid.x", tt.d)
			if err != nil {
				t.Fatal(err)
			}
			in := &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{w}}
			for _, p := range ddbexpr.Problems(in) {
				t.Error(p)
			}
			pk := w.Update.Key["pk"].(*ddbtypes.AttributeValueMemberS).Value
			if id, ok := tally.CampaignOf("acme", pk); !ok || id != "cmp_0123456789abcdef0123" {
				t.Errorf("shard key %q: campaign %q %v", pk, id, ok)
			}
		})
	}
}

// TestShardsSpreadOverPartitionKeys: a campaign's count writes land on
// Shards items, each under a partition key of its own that begins with
// its tenant's, evenly enough that none takes much over its share (at
// 1,000 msg/s a shard's share is ~250 of a partition's 1,000 write
// units a second).
func TestShardsSpreadOverPartitionKeys(t *testing.T) {
	const messages = 100 * tally.Shards
	per := map[string]int{}
	for i := range messages {
		w, err := tally.Write("Campaigns", "acme", "cmp_1", fmt.Sprintf("wamid.HBgM%012d", i), tally.Delta{States: []string{tally.Accepted}})
		if err != nil {
			t.Fatal(err)
		}
		pk := w.Update.Key["pk"].(*ddbtypes.AttributeValueMemberS).Value
		if !strings.HasPrefix(pk, "tenant#acme#") {
			t.Fatalf("partition key %q does not begin with the tenant's", pk)
		}
		per[pk]++
	}
	if len(per) != tally.Shards {
		t.Fatalf("writes on %d partition keys, want %d", len(per), tally.Shards)
	}
	keys := map[string]bool{}
	for _, k := range tally.Keys("acme", "cmp_1") {
		keys[k["pk"].(*ddbtypes.AttributeValueMemberS).Value] = true
	}
	for pk, n := range per {
		if !keys[pk] {
			t.Errorf("written shard %q is not among the shards read (Keys)", pk)
		}
		if n > 2*messages/tally.Shards {
			t.Errorf("shard %q took %d of %d writes, over twice its share", pk, n, messages)
		}
	}
}

// TestCampaignOf: a shard's partition key names its campaign, for its
// own tenant only.
func TestCampaignOf(t *testing.T) {
	pk := tally.Key("acme", "cmp_9f", 31)["pk"].(*ddbtypes.AttributeValueMemberS).Value
	tests := []struct {
		name, tenant, pk, want string
		ok                     bool
	}{
		{"own tenant", "acme", pk, "cmp_9f", true},
		{"another tenant", "acm", pk, "", false},
		{"a longer tenant id", "acme2", pk, "", false},
		{"a campaign record's key", "acme", "tenant#acme", "", false},
		{"no shard number", "acme", "tenant#acme#campaign#cmp_9f#n#", "", false},
		{"no campaign id", "acme", "tenant#acme#campaign##n#3", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tally.CampaignOf(tt.tenant, tt.pk)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CampaignOf(%q, %q) = %q, %v; want %q, %v", tt.tenant, tt.pk, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTotalsSumShards: shard items add up; other attributes are ignored.
func TestTotalsSumShards(t *testing.T) {
	var got tally.Totals
	for _, m := range []map[string]any{
		{"pk": "tenant#acme", "sk": "campaign#c#n#0", "count_sent": 2, "count_failed": 1, "reason_131049": 1, "pricing_marketing": 2},
		{"pk": "tenant#acme", "sk": "campaign#c#n#5", "count_sent": 3, "count_read": 1, "count_failed": 2, "reason_131049": 1, "reason_suppressed": 1},
	} {
		item, err := attributevalue.MarshalMap(m)
		if err != nil {
			t.Fatal(err)
		}
		got.Add(item)
	}
	if got.Sent != 5 || got.Read != 1 || got.Failed != 3 || got.FailedByReason["131049"] != 2 || got.FailedByReason["suppressed"] != 1 || got.Pricing["marketing"] != 2 {
		t.Errorf("totals %+v", got)
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{"": "unknown", "Marketing": "marketing", "131049": "131049", "a b/c": "a_b_c", "referral_conversion": "referral_conversion"} {
		if got := tally.Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}
