package tally_test

import (
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
			sk := w.Update.Key["sk"].(*ddbtypes.AttributeValueMemberS).Value
			if id, ok := tally.ShardOf(sk); !ok || id != "cmp_0123456789abcdef0123" {
				t.Errorf("shard key %q: campaign %q %v", sk, id, ok)
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
