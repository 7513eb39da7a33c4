package campaign_test

import (
	"context"
	"testing"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/campaign"
)

// TestClaimNamesEveryAttributeThroughAPlaceholder: a row's recipient
// claim reads "row", a reserved word, which DynamoDB refuses bare and the
// emulator accepts.
func TestClaimNamesEveryAttributeThroughAPlaceholder(t *testing.T) {
	rec := &ddbexpr.Recorder{}
	c := &campaign.Claims{API: rec, Table: "state"}
	first, err := c.Claim(context.Background(), "acme", "cmp_0123456789abcdef0123", "5511999990000", 42)
	if err != nil || !first {
		t.Fatalf("claim = %v, %v", first, err)
	}
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	for _, p := range rec.Problems() {
		t.Error(p)
	}
}
